package app

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/do-fip/do-fip/doapi"
	"github.com/do-fip/do-fip/engine"
	"github.com/do-fip/do-fip/logging"
	"github.com/do-fip/do-fip/metrics"
	"github.com/do-fip/do-fip/notify"
	"github.com/do-fip/do-fip/state"
)

// runKey carries a runHolder from Run to setup through the command's context.
type runKey struct{}

// runHolder lets Run find the env a command built, to finish the run after the command returned.
type runHolder struct{ env *env }

// observed is what a run did, gathered at the few places every command already goes through (setup, the
// API client, the state dir's assign record, fail), so that the commands themselves need no extra calls.
type observed struct {
	owned bool // Run finishes the run and closes the logs
	// stateDir: the command opened the state dir, so the history can be written there.
	stateDir bool
	command  string
	args     []string
	start    time.Time
	self     state.ProcStart
	ips      []netip.Addr
	apis     []*doapi.Client

	mu       sync.Mutex
	assigns  []state.AssignRecord
	failCode int
	failErr  string
}

// observe starts observing the run of command, when Run is there to finish it.
func (e *env) observe(c *cli.Context, command string) {
	e.obs.command, e.obs.args, e.obs.start, e.obs.self = command, c.Args().Slice(), time.Now(), e.self()
	if h, ok := c.Context.Value(runKey{}).(*runHolder); ok {
		h.env, e.obs.owned = e, true
	}
}

func (o *observed) assigned(r state.AssignRecord) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.assigns = append(o.assigns, r)
}

func (o *observed) failed(code int, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.failCode == 0 {
		o.failCode, o.failErr = code, oneLine(err.Error())
	}
}

// finish records the run in the history and the metrics file, then closes the logs. Neither can change the
// run's exit code: a problem is a warning in the log.
func (e *env) finish(ctx context.Context, version string, code int) {
	defer e.log.Close()
	o := &e.obs
	switch o.command {
	case "notify", "assign", "reconcile":
	default:
		return // status and the like are read-only: they never write to the state dir
	}
	if code == ExitOK && o.failCode != 0 {
		code = o.failCode // reconcile logs its failures but exits 0
	}
	dir := state.OpenReadOnly(e.cfg.StateDir)
	if h, ok := e.historyEntry(dir, code); ok && o.stateDir {
		if err := dir.AppendHistory(h); err != nil {
			e.log.Warn().Err(err).Str("event", "history_write_failed").Msg("could not add this run to the history")
		}
	}
	if e.cfg.MetricsFile != "" {
		e.writeMetrics(ctx, dir, version, code)
	}
}

// apiRequests sums the run's API requests, by class and in all.
func (o *observed) apiRequests() ([]int64, int64) {
	by := make([]int64, len(metrics.Classes))
	var all int64
	for _, c := range o.apis {
		for i, n := range c.RequestsByClass() {
			by[i] += n
			all += n
		}
	}
	return by, all
}

// historyEntry describes the run for the history: every notify (a keepalived transition) and assign, and a
// reconcile that moved an IP or failed (one that found all well every 15 s would crowd everything else out).
func (e *env) historyEntry(dir *state.Dir, code int) (state.HistoryEntry, bool) {
	o := &e.obs
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.command == "reconcile" && len(o.assigns) == 0 && o.failCode == 0 {
		return state.HistoryEntry{}, false
	}
	_, requests := o.apiRequests()
	h := state.HistoryEntry{Time: o.start.UTC(), Event: o.self, Boot: state.BootID(), Command: o.command,
		DurationMS: logging.Since(o.start), Requests: requests, ExitCode: code, Result: "ok", Error: o.failErr}
	for _, ip := range o.ips {
		h.IPs = append(h.IPs, ip.String())
	}
	if o.command == "notify" {
		if ev, err := notify.ParseKeepalivedArgs(o.args); err == nil {
			h.State, h.Instance, h.Priority = ev.State, ev.Name, ev.Priority
		}
	} else if len(o.ips) > 0 {
		if st, err := dir.IPState(o.ips[0]); err == nil && st != nil {
			h.State = st.Current.State
		}
	}
	if len(o.assigns) > 0 {
		a := o.assigns[len(o.assigns)-1]
		h.Assign = &a
		h.Did = "already_held"
		for _, ip := range a.IPs {
			switch {
			case ip.Result == string(engine.Errored):
				h.Did = "failed"
			case ip.Result == string(engine.Moved) && h.Did != "failed":
				h.Did = "moved"
			}
		}
		if h.Error == "" {
			h.Error = a.Error
		}
	} else {
		switch {
		case code != ExitOK:
			h.Did = "failed"
		case o.command == "notify" && notify.Decide(h.State) == notify.Take:
			h.Did = "ignored" // a transition keepalived started later was recorded already
		default:
			h.Did = "recorded"
		}
	}
	switch {
	case code == ExitSuperseded:
		h.Result = "superseded"
	case code != ExitOK:
		h.Result = "error"
	}
	return h, true
}

// metadataLookTimeout bounds the metadata read that tells where the IPs are when metrics are written; the
// service is local to the droplet and answers in about a millisecond.
const metadataLookTimeout = time.Second

// writeMetrics adds the run to the counters kept in the state dir and rewrites the metrics file from them.
func (e *env) writeMetrics(ctx context.Context, dir *state.Dir, version string, code int) {
	o := &e.obs
	r := metrics.Run{Command: o.command, End: time.Now(), ExitCode: code, Failed: code != ExitOK, Held: map[string]bool{}}
	r.APIRequests, _ = o.apiRequests()
	for _, ip := range o.ips {
		r.IPs = append(r.IPs, ip.String())
	}
	// Where the IPs are: the metadata service (free, local) knows for every IP at once, so even a run that
	// moved nothing (a BACKUP's notify or reconcile) tells whether this node still holds one.
	if code != ExitMetadata {
		mctx, cancel := context.WithTimeout(ctx, metadataLookTimeout)
		md, err := e.metadataClient().Get(mctx)
		cancel()
		if err == nil && (e.cfg.DropletID == 0 || e.cfg.DropletID == md.DropletID) {
			r.HeldComplete = true
			for _, ip := range metadataIPs(md) {
				r.Held[ip.String()] = true
			}
		}
	}
	o.mu.Lock()
	for _, a := range o.assigns {
		for _, ip := range a.IPs {
			switch ip.Result {
			case string(engine.Moved):
				r.Held[ip.IP] = true // verified through the API: more recent than the metadata service may be
				r.Moves = append(r.Moves, metrics.MoveResult{IP: ip.IP, Move: metrics.Move{Time: a.Time, OK: true, DurationMS: ip.DurationMS}})
			case string(engine.AlreadyHeld):
				r.Held[ip.IP] = true
			default:
				r.Moves = append(r.Moves, metrics.MoveResult{IP: ip.IP, Move: metrics.Move{Time: a.Time, DurationMS: ip.DurationMS}})
			}
		}
	}
	o.mu.Unlock()

	write := func(s *metrics.Store) error {
		ka := map[string]metrics.Keepalived{}
		for ip := range s.IPs {
			if a, err := netip.ParseAddr(ip); err == nil {
				if st, err := dir.IPState(a); err == nil && st != nil {
					ka[ip] = metrics.Keepalived{State: st.Current.State, Since: st.Current.Time}
				}
			}
		}
		return metrics.WriteFile(e.cfg.MetricsFile, s, ka, version)
	}
	var werr error
	wrote := false
	err := dir.UpdateMetrics(func(old []byte) ([]byte, error) {
		s := metrics.Load(old)
		s.Add(r)
		werr, wrote = write(s), true
		return s.Marshal()
	})
	if err != nil && !wrote {
		// The counters cannot be kept (state dir unusable): still show this run, so the failure is seen.
		s := metrics.Load(nil)
		s.Add(r)
		werr = write(s)
		e.log.Warn().Err(err).Str("event", "metrics_state_failed").Msg("could not keep the metrics' counters in the state dir")
	}
	if werr != nil {
		e.log.Warn().Err(werr).Str("event", "metrics_write_failed").Str("metrics_file", e.cfg.MetricsFile).
			Msg("could not write the metrics file; the run's outcome is unchanged")
	}
}
