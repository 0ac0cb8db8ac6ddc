package state

import (
	"os"
	"strings"
	"time"
)

// HistoryLen is how many runs the history keeps; older ones are dropped.
const HistoryLen = 50

const (
	historyFile = "history.json"
	historyLock = ".history.lock"
)

// HistoryEntry is one run of do-fip that a person may want to see afterwards: a keepalived transition (notify),
// an assign, or a reconcile that moved an IP or failed.
type HistoryEntry struct {
	Time  time.Time `json:"time"` // when the run started
	Event ProcStart `json:"event"`
	// Boot is the kernel's boot ID: Event orders runs of one boot only.
	Boot    string `json:"boot,omitempty"`
	Command string `json:"command"` // notify, assign, reconcile
	// State is the keepalived transition a notify reported, or the state recorded for the IPs when another
	// command ran.
	State      string        `json:"keepalived_state,omitempty"`
	Instance   string        `json:"instance,omitempty"`
	Priority   int           `json:"priority,omitempty"`
	IPs        []string      `json:"ips"`
	Did        string        `json:"did"` // recorded, moved, already_held, ignored, failed
	DurationMS int64         `json:"duration_ms"`
	Requests   int64         `json:"api_requests"`
	Result     string        `json:"result"` // ok, error, superseded
	ExitCode   int           `json:"exit_code"`
	Error      string        `json:"error,omitempty"`
	Assign     *AssignRecord `json:"assign,omitempty"`
}

// before reports whether e ran before o: in the order keepalived started them when both ran in this boot (a
// hook that started later may finish first), else by wall clock.
func (e HistoryEntry) before(o HistoryEntry) bool {
	if e.Boot != "" && e.Boot == o.Boot {
		return o.Event.After(e.Event)
	}
	return e.Time.Before(o.Time)
}

// AppendHistory adds e to the history, in keepalived's order, keeping the last HistoryLen entries. Runs append
// under a lock and the file is replaced atomically, so concurrent hooks never lose each other's entries and a
// killed run leaves the previous history whole.
func (d *Dir) AppendHistory(e HistoryEntry) error {
	return d.withFileLock(historyLock, func() error {
		h, err := d.History()
		if err != nil {
			h = nil // damaged: start over rather than never record again
		}
		i := len(h)
		for i > 0 && e.before(h[i-1]) {
			i--
		}
		h = append(h[:i], append([]HistoryEntry{e}, h[i:]...)...)
		if len(h) > HistoryLen {
			h = h[len(h)-HistoryLen:]
		}
		// Readable by all, like the metrics: a run as root (assign by hand) must not make the history
		// unreadable for keepalived_script, which would then start it over. The state dir (0750) keeps others out.
		return d.writeJSONMode(historyFile, h, 0o644)
	})
}

// History returns the recorded runs, oldest first; none when there is no history yet.
func (d *Dir) History() ([]HistoryEntry, error) {
	var h []HistoryEntry
	if _, err := d.readJSON(historyFile, &h); err != nil {
		return nil, err
	}
	return h, nil
}

// BootID returns the kernel's ID of the current boot, or "" without /proc.
func BootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
