// Package metrics owns do-fip's Prometheus metrics: what a run adds to them, the counters and last values kept
// between runs, and the node_exporter textfile (text exposition format) written from them.
//
// Every do-fip run is a short process, and many write the file (a notify per transition, a reconcile every
// 15 s on every node), so a counter cannot live in memory: Store is kept in the state directory and each run
// adds its own Run to it under a lock, then rewrites the whole file from it.
package metrics

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/do-fip/do-fip/state"
)

// Store is what the metrics of the next runs build on. Its JSON form is kept in the state directory.
type Store struct {
	IPs      map[string]*IPStore      `json:"ips"`
	Commands map[string]*CommandStore `json:"commands"`
	// APIRequests counts HTTP attempts to the API by the class of their answer (see Classes).
	APIRequests map[string]uint64 `json:"api_requests"`
}

// IPStore is what the runs saw of one reserved IP.
type IPStore struct {
	// HeldHere is whether the IP was on this droplet when a run last looked; nil if none looked yet.
	HeldHere     *bool     `json:"held_here,omitempty"`
	CheckedAt    time.Time `json:"checked_at,omitzero"`
	Moves        uint64    `json:"moves"`
	MoveFailures uint64    `json:"move_failures"`
	LastMove     *Move     `json:"last_move,omitempty"`
}

// Move is one attempt to move an IP here.
type Move struct {
	Time       time.Time `json:"time"`
	OK         bool      `json:"ok"`
	DurationMS int64     `json:"duration_ms"`
}

// CommandStore counts the runs of one command.
type CommandStore struct {
	Runs         uint64    `json:"runs"`
	Failures     uint64    `json:"failures"`
	LastRun      time.Time `json:"last_run"`
	LastExitCode int       `json:"last_exit_code"`
}

// Classes are the API answer classes counted, in the order doapi counts them: "error" is an attempt that got
// no answer (refused, reset, timed out).
var Classes = []string{"error", "2xx", "3xx", "4xx", "5xx"}

// Run is what one run adds.
type Run struct {
	Command  string
	End      time.Time
	ExitCode int
	// Failed: the exit code is not 0, or the run logged a failure without one (reconcile always exits 0).
	Failed bool
	// Held is, per IP, whether this run saw it here. With HeldComplete (the metadata service answered), any
	// known IP missing from Held is not here; else IPs missing from Held keep what an earlier run saw.
	Held         map[string]bool
	HeldComplete bool
	// IPs are the IPs the run managed, listed even if it learned nothing about them.
	IPs   []string
	Moves []MoveResult
	// APIRequests counts this run's HTTP attempts by class, indexed like Classes.
	APIRequests []int64
}

// MoveResult is the outcome of one IP's move in a run.
type MoveResult struct {
	IP string
	Move
}

// Load decodes a stored Store; nil, empty or damaged data gives an empty one (Prometheus reads counters that
// start over as a reset).
func Load(data []byte) *Store {
	s := &Store{}
	if len(data) > 0 {
		if err := json.Unmarshal(data, s); err != nil {
			s = &Store{}
		}
	}
	if s.IPs == nil {
		s.IPs = map[string]*IPStore{}
	}
	if s.Commands == nil {
		s.Commands = map[string]*CommandStore{}
	}
	if s.APIRequests == nil {
		s.APIRequests = map[string]uint64{}
	}
	return s
}

// Marshal encodes s for storing.
func (s *Store) Marshal() ([]byte, error) { return json.Marshal(s) }

func (s *Store) ip(ip string) *IPStore {
	st := s.IPs[ip]
	if st == nil {
		st = &IPStore{}
		s.IPs[ip] = st
	}
	return st
}

// Add adds one run.
func (s *Store) Add(r Run) {
	c := s.Commands[r.Command]
	if c == nil {
		c = &CommandStore{}
		s.Commands[r.Command] = c
	}
	c.Runs++
	if r.Failed {
		c.Failures++
	}
	c.LastRun, c.LastExitCode = r.End.UTC(), r.ExitCode
	for _, ip := range r.IPs {
		s.ip(ip)
	}
	for ip := range r.Held {
		s.ip(ip)
	}
	for ip, st := range s.IPs {
		held, ok := r.Held[ip]
		if !ok && !r.HeldComplete {
			continue
		}
		st.HeldHere, st.CheckedAt = &held, r.End.UTC()
	}
	for _, m := range r.Moves {
		st := s.ip(m.IP)
		if m.OK {
			st.Moves++
		} else {
			st.MoveFailures++
		}
		mv := m.Move
		mv.Time = mv.Time.UTC()
		st.LastMove = &mv
	}
	for i, n := range r.APIRequests {
		if i < len(Classes) && n > 0 {
			s.APIRequests[Classes[i]] += uint64(n)
		}
	}
}

// Keepalived is the last keepalived transition recorded on this node for an IP.
type Keepalived struct {
	State string
	Since time.Time
}

// States are the keepalived states do-fip records, one series each in do_fip_keepalived_state.
var States = []string{"MASTER", "BACKUP", "FAULT", "STOP"}

// WriteText writes s in the Prometheus text exposition format, with ka, per IP, the keepalived state recorded
// on this node (read from the state directory when the file is written, so it is always the latest).
func (s *Store) WriteText(w io.Writer, ka map[string]Keepalived, version string) error {
	p := &printer{w: w}
	ips := slices.Sorted(maps.Keys(s.IPs))
	for ip := range ka {
		if s.IPs[ip] == nil {
			ips = append(ips, ip)
		}
	}
	slices.Sort(ips)
	cmds := slices.Sorted(maps.Keys(s.Commands))
	ipStore := func(ip string) *IPStore {
		if st := s.IPs[ip]; st != nil {
			return st
		}
		return &IPStore{}
	}

	p.family("do_fip_build_info", "gauge", "do-fip's version; always 1.")
	p.sample("do_fip_build_info", 1, "version", version)

	p.family("do_fip_ip_held_here", "gauge", "1 if the reserved IP was on this droplet when a do-fip run last looked, else 0.")
	for _, ip := range ips {
		if st := ipStore(ip); st.HeldHere != nil {
			p.sample("do_fip_ip_held_here", boolValue(*st.HeldHere), "ip", ip)
		}
	}
	p.family("do_fip_ip_checked_timestamp_seconds", "gauge", "When a do-fip run last looked where the reserved IP is.")
	for _, ip := range ips {
		if st := ipStore(ip); st.HeldHere != nil {
			p.sample("do_fip_ip_checked_timestamp_seconds", seconds(st.CheckedAt), "ip", ip)
		}
	}
	p.family("do_fip_keepalived_state", "gauge", "1 for the keepalived state last recorded on this node for the reserved IP, 0 for the others.")
	for _, ip := range ips {
		if k, ok := ka[ip]; ok {
			for _, state := range States {
				p.sample("do_fip_keepalived_state", boolValue(k.State == state), "ip", ip, "state", state)
			}
		}
	}
	p.family("do_fip_keepalived_transition_timestamp_seconds", "gauge", "When keepalived's last transition for the reserved IP was recorded on this node.")
	for _, ip := range ips {
		if k, ok := ka[ip]; ok {
			p.sample("do_fip_keepalived_transition_timestamp_seconds", seconds(k.Since), "ip", ip)
		}
	}
	lastMove := func(name, help string, v func(*Move) float64) {
		p.family(name, "gauge", help)
		for _, ip := range ips {
			if m := ipStore(ip).LastMove; m != nil {
				p.sample(name, v(m), "ip", ip)
			}
		}
	}
	lastMove("do_fip_last_move_timestamp_seconds", "When the last attempt to move the reserved IP here started.",
		func(m *Move) float64 { return seconds(m.Time) })
	lastMove("do_fip_last_move_success", "1 if the last attempt to move the reserved IP here succeeded, else 0.",
		func(m *Move) float64 { return boolValue(m.OK) })
	lastMove("do_fip_last_move_duration_seconds", "How long the last attempt to move the reserved IP here took.",
		func(m *Move) float64 { return float64(m.DurationMS) / 1000 })
	p.family("do_fip_moves_total", "counter", "Attempts to move the reserved IP here, by result (moved or failed).")
	for _, ip := range ips {
		st := ipStore(ip)
		p.sample("do_fip_moves_total", float64(st.Moves), "ip", ip, "result", "moved")
		p.sample("do_fip_moves_total", float64(st.MoveFailures), "ip", ip, "result", "failed")
	}

	perCommand := func(name, typ, help string, v func(*CommandStore) float64) {
		p.family(name, typ, help)
		for _, c := range cmds {
			p.sample(name, v(s.Commands[c]), "command", c)
		}
	}
	perCommand("do_fip_runs_total", "counter", "do-fip runs, by command.",
		func(c *CommandStore) float64 { return float64(c.Runs) })
	perCommand("do_fip_failed_runs_total", "counter", "do-fip runs that failed (exit code not 0, or a failure reconcile only logged), by command.",
		func(c *CommandStore) float64 { return float64(c.Failures) })
	perCommand("do_fip_last_run_timestamp_seconds", "gauge", "When the last run of the command ended.",
		func(c *CommandStore) float64 { return seconds(c.LastRun) })
	perCommand("do_fip_last_run_exit_code", "gauge", "Exit code of the last run of the command.",
		func(c *CommandStore) float64 { return float64(c.LastExitCode) })

	p.family("do_fip_api_requests_total", "counter", "HTTP attempts to the DigitalOcean API, retries included, by the class of the answer (error: none).")
	for _, class := range Classes {
		p.sample("do_fip_api_requests_total", float64(s.APIRequests[class]), "class", class)
	}
	return p.err
}

// printer writes the text format, keeping the first write error.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) printf(format string, a ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, a...)
	}
}

func (p *printer) family(name, typ, help string) {
	p.printf("# HELP %s %s\n# TYPE %s %s\n", name, escapeHelp(help), name, typ)
}

// sample writes one line; labels are name, value pairs.
func (p *printer) sample(name string, v float64, labels ...string) {
	var b strings.Builder
	b.WriteString(name)
	if len(labels) > 0 {
		b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(labels[i])
			b.WriteString(`="`)
			b.WriteString(escapeLabel(labels[i+1]))
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	b.WriteString(strconv.FormatFloat(v, 'f', -1, 64))
	b.WriteByte('\n')
	p.printf("%s", b.String())
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeLabel(s string) string { return labelEscaper.Replace(s) }

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// seconds is t as Unix seconds, to the millisecond.
func seconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMilli()) / 1000
}

// WriteFile replaces the metrics file at path with s, atomically (node_exporter never reads a part of it, even
// if the run is killed mid-write) and readable by all (0644: node_exporter runs as another user).
func WriteFile(path string, s *Store, ka map[string]Keepalived, version string) error {
	return state.WriteAtomic(path, 0o644, false, func(w io.Writer) error { return s.WriteText(w, ka, version) })
}
