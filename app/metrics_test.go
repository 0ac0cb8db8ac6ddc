package app_test

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/do-fip/do-fip/dosim"
	"github.com/do-fip/do-fip/metrics/metricstest"
	"github.com/do-fip/do-fip/state"
)

// withMetrics turns the harness's metrics file on and returns its path.
func (h *harness) withMetrics() string {
	dir := filepath.Join(h.dir, "textfile")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		h.t.Fatal(err)
	}
	p := filepath.Join(dir, "do-fip.prom")
	h.env["DO_FIP_METRICS_FILE"] = p
	return p
}

// metrics reads the metrics file with Prometheus' parser.
func (h *harness) metrics() *metricstest.File {
	h.t.Helper()
	f, err := metricstest.ReadFile(h.env["DO_FIP_METRICS_FILE"])
	if err != nil {
		h.t.Fatalf("metrics file: %v", err)
	}
	return f
}

func s(name string, pairs ...string) string {
	return metricstest.Series(name, metricstest.L(pairs...)...)
}

// wantMetrics checks the metrics file holds exactly the series of want with their values, and, for the
// timestamps (which runs set), exactly the series of stamps, each within [from, to].
func (h *harness) wantMetrics(want map[string]float64, stamps []string, from, to time.Time) {
	h.t.Helper()
	f := h.metrics()
	got := maps.Clone(f.Samples)
	for _, k := range stamps {
		v, ok := got[k]
		if !ok {
			h.t.Errorf("missing %s", k)
			continue
		}
		if v < float64(from.UnixMilli())/1000 || v > float64(to.UnixMilli())/1000 {
			h.t.Errorf("%s = %.3f, not within the run (%s to %s)", k, v, from.Format(time.TimeOnly), to.Format(time.TimeOnly))
		}
		delete(got, k)
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if v, ok := got[k]; !ok || v != want[k] {
			h.t.Errorf("%s = %v (present: %v), want %v", k, v, ok, want[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			h.t.Errorf("unexpected series %s = %v", k, got[k])
		}
	}
	if info, err := os.Stat(h.env["DO_FIP_METRICS_FILE"]); err != nil || info.Mode().Perm() != 0o644 {
		h.t.Errorf("metrics file mode %v (%v), want 0644: node_exporter runs as another user", info.Mode(), err)
	}
}

// apiClasses are the do_fip_api_requests_total series with the given 2xx and 4xx counts.
func apiClasses(ok, client int) map[string]float64 {
	return map[string]float64{
		s("do_fip_api_requests_total", "class", "error"): 0,
		s("do_fip_api_requests_total", "class", "2xx"):   float64(ok),
		s("do_fip_api_requests_total", "class", "3xx"):   0,
		s("do_fip_api_requests_total", "class", "4xx"):   float64(client),
		s("do_fip_api_requests_total", "class", "5xx"):   0,
	}
}

func merge(ms ...map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for _, m := range ms {
		maps.Copy(out, m)
	}
	return out
}

func commandSeries(cmd string, runs, failed, exit int) map[string]float64 {
	return map[string]float64{
		s("do_fip_runs_total", "command", cmd):         float64(runs),
		s("do_fip_failed_runs_total", "command", cmd):  float64(failed),
		s("do_fip_last_run_exit_code", "command", cmd): float64(exit),
	}
}

func keepalivedSeries(ip, state string) map[string]float64 {
	out := map[string]float64{}
	for _, st := range []string{"MASTER", "BACKUP", "FAULT", "STOP"} {
		v := 0.0
		if st == state {
			v = 1
		}
		out[s("do_fip_keepalived_state", "ip", ip, "state", st)] = v
	}
	return out
}

var build = map[string]float64{s("do_fip_build_info", "version", "dev"): 1}

// A move, then a run that finds the IP already here: one move counted, the second run's one read counted,
// the IP held here, and the last move's result and duration.
func TestMetricsAfterMoveAndAlreadyHeld(t *testing.T) {
	h := newHarness(t)
	h.withMetrics()
	t0 := time.Now()
	h.wantCode(h.run("assign", ipv4), 0)
	t1 := time.Now()
	rec := lastAssign(t, h)
	moveStamps := []string{s("do_fip_ip_checked_timestamp_seconds", "ip", ipv4), s("do_fip_last_move_timestamp_seconds", "ip", ipv4),
		s("do_fip_last_run_timestamp_seconds", "command", "assign")}
	want := merge(build, apiClasses(int(rec.Requests), 0), commandSeries("assign", 1, 0, 0), map[string]float64{
		s("do_fip_ip_held_here", "ip", ipv4):                    1,
		s("do_fip_last_move_success", "ip", ipv4):               1,
		s("do_fip_last_move_duration_seconds", "ip", ipv4):      float64(rec.IPs[0].DurationMS) / 1000,
		s("do_fip_moves_total", "ip", ipv4, "result", "moved"):  1,
		s("do_fip_moves_total", "ip", ipv4, "result", "failed"): 0,
	})
	h.wantMetrics(want, moveStamps, t0, t1)
	if d := want[s("do_fip_last_move_duration_seconds", "ip", ipv4)]; d < 0.15 {
		t.Errorf("last move took %v s, less than the simulator's 150 ms action", d)
	}

	h.wantCode(h.run("assign", ipv4), 0)
	t2 := time.Now()
	want = merge(want, apiClasses(int(rec.Requests)+1, 0), commandSeries("assign", 2, 0, 0))
	h.wantMetrics(want, moveStamps, t0, t2)
	if v, _ := h.metrics().Get("do_fip_last_run_timestamp_seconds", "command", "assign"); v < float64(t1.UnixMilli())/1000 {
		t.Errorf("last assign run at %v, before the second run", v)
	}
}

func lastAssign(t *testing.T, h *harness) *state.AssignRecord {
	t.Helper()
	rec, err := state.OpenReadOnly(h.env["DO_FIP_STATE_DIR"]).LastAssign()
	if err != nil || rec == nil {
		t.Fatalf("last assign record: %v, %v", rec, err)
	}
	return rec
}

// A failed run: counted as failed with its exit code, its move as failed, its API answers as 4xx; the IP,
// still elsewhere per the metadata service, is not held here.
func TestMetricsAfterFailedRun(t *testing.T) {
	h := newHarness(t)
	h.withMetrics()
	h.sim.Assign(ipv4, 1002)
	h.sim.AddFault(dosim.Fault{Method: "POST", Status: 403, Times: 1})
	t0 := time.Now()
	h.wantCode(h.run("notify", "--ip", ipv4, "INSTANCE", "VI_1", "MASTER", "200"), 4)
	t1 := time.Now()
	h.wantHolder(ipv4, 1002)
	if n := len(h.requests("", "")); n != 1 {
		t.Fatalf("%d API requests, want the refused POST alone", n)
	}
	want := merge(build, apiClasses(0, 1), commandSeries("notify", 1, 1, 4), keepalivedSeries(ipv4, "MASTER"), map[string]float64{
		s("do_fip_ip_held_here", "ip", ipv4):                    0,
		s("do_fip_last_move_success", "ip", ipv4):               0,
		s("do_fip_last_move_duration_seconds", "ip", ipv4):      float64(lastAssign(t, h).IPs[0].DurationMS) / 1000,
		s("do_fip_moves_total", "ip", ipv4, "result", "moved"):  0,
		s("do_fip_moves_total", "ip", ipv4, "result", "failed"): 1,
	})
	h.wantMetrics(want, []string{s("do_fip_ip_checked_timestamp_seconds", "ip", ipv4), s("do_fip_last_move_timestamp_seconds", "ip", ipv4),
		s("do_fip_last_run_timestamp_seconds", "command", "notify"), s("do_fip_keepalived_transition_timestamp_seconds", "ip", ipv4)}, t0, t1)
}

// reconcile on a BACKUP asks no API but still looks (metadata service) whether the IP is here; on a MASTER
// whose IP went elsewhere it moves it back, and a failure it only logs (exit 0) still counts as a failed run.
func TestMetricsAfterReconcile(t *testing.T) {
	h := newHarness(t)
	h.withMetrics()
	h.env["DO_FIP_IPS"] = ipv4
	h.sim.Assign(ipv4, 1001)
	t0 := time.Now()
	h.wantCode(h.run("notify", "INSTANCE", "VI_1", "BACKUP", "100"), 0)
	h.sim.Assign(ipv4, 1002) // the MASTER took it
	h.wantCode(h.run("reconcile"), 0)
	if n := len(h.requests("", "")); n != 0 {
		t.Fatalf("%d API requests as BACKUP, want none", n)
	}
	stamps := []string{s("do_fip_ip_checked_timestamp_seconds", "ip", ipv4), s("do_fip_keepalived_transition_timestamp_seconds", "ip", ipv4),
		s("do_fip_last_run_timestamp_seconds", "command", "notify"), s("do_fip_last_run_timestamp_seconds", "command", "reconcile")}
	want := merge(build, apiClasses(0, 0), commandSeries("notify", 1, 0, 0), commandSeries("reconcile", 1, 0, 0), keepalivedSeries(ipv4, "BACKUP"),
		map[string]float64{
			s("do_fip_ip_held_here", "ip", ipv4):                    0,
			s("do_fip_moves_total", "ip", ipv4, "result", "moved"):  0,
			s("do_fip_moves_total", "ip", ipv4, "result", "failed"): 0,
		})
	h.wantMetrics(want, stamps, t0, time.Now())

	// MASTER, and the IP is elsewhere: reconcile moves it back.
	h.wantCode(h.run("notify", "INSTANCE", "VI_1", "MASTER", "200"), 0)
	h.sim.Assign(ipv4, 1002)
	h.wantCode(h.run("reconcile"), 0)
	h.wantHolder(ipv4, 1001)
	requests := len(h.requests("", ""))
	stamps = append(stamps, s("do_fip_last_move_timestamp_seconds", "ip", ipv4))
	want = merge(want, apiClasses(requests, 0), commandSeries("notify", 2, 0, 0), commandSeries("reconcile", 2, 0, 0), keepalivedSeries(ipv4, "MASTER"),
		map[string]float64{
			s("do_fip_ip_held_here", "ip", ipv4):                   1,
			s("do_fip_last_move_success", "ip", ipv4):              1,
			s("do_fip_last_move_duration_seconds", "ip", ipv4):     float64(lastAssign(t, h).IPs[0].DurationMS) / 1000,
			s("do_fip_moves_total", "ip", ipv4, "result", "moved"): 2,
		})
	h.wantMetrics(want, stamps, t0, time.Now())

	// The API refuses the token: reconcile exits 0 (a vrrp_script must not fault the node) but the run failed.
	h.sim.Assign(ipv4, 1002)
	h.sim.AddFault(dosim.Fault{Status: 401, Times: 1})
	h.wantCode(h.run("reconcile", "--now"), 0)
	want = merge(want, apiClasses(requests, 1), commandSeries("reconcile", 3, 1, 4), map[string]float64{s("do_fip_ip_held_here", "ip", ipv4): 0})
	h.wantMetrics(want, stamps, t0, time.Now())
}

// Concurrent runs never lose each other's counts: every hook adds its run under the lock.
func TestMetricsCountersAcrossConcurrentRuns(t *testing.T) {
	h := newHarness(t)
	h.withMetrics()
	const n = 12
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		wait := h.start("notify", "--ip", ipv4, "INSTANCE", "VI_1", []string{"BACKUP", "FAULT"}[i%2], "100")
		go func() { defer wg.Done(); h.wantCode(wait(), 0) }()
	}
	wg.Wait()
	if v, _ := h.metrics().Get("do_fip_runs_total", "command", "notify"); v != n {
		t.Errorf("do_fip_runs_total{command=notify} = %v after %d runs", v, n)
	}
	if hist := history(t, h); len(hist.History) != n {
		t.Errorf("%d history entries after %d runs", len(hist.History), n)
	}
}

// The metrics file is an extra: a directory that is missing (or not a directory) is a warning in the log and
// leaves the exit code alone, for a run that succeeds and for one that fails.
func TestMetricsUnwritableDirectoryKeepsTheExitCode(t *testing.T) {
	for name, path := range map[string]func(dir string) string{
		"missing directory": func(dir string) string { return filepath.Join(dir, "no-such-dir", "do-fip.prom") },
		"parent is a file": func(dir string) string {
			f := filepath.Join(dir, "file")
			os.WriteFile(f, nil, 0o644)
			return filepath.Join(f, "do-fip.prom")
		},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.env["DO_FIP_METRICS_FILE"] = path(h.dir)
			r := h.run("assign", ipv4)
			h.wantCode(r, 0)
			h.wantHolder(ipv4, 1001)
			if !strings.Contains(h.logFile(), `"event":"metrics_write_failed"`) {
				t.Errorf("no warning in the log:\n%s", h.logFile())
			}
			if strings.Contains(r.stderr, "do-fip: error") {
				t.Errorf("stderr shows an error for a run that succeeded: %s", r.stderr)
			}
			h.sim.AddFault(dosim.Fault{Status: 401, Times: 1})
			h.sim.Assign(ipv4, 1002)
			h.wantCode(h.run("assign", ipv4), 4)
		})
	}
}

func TestMetricsFileMustEndInProm(t *testing.T) {
	h := newHarness(t)
	h.env["DO_FIP_METRICS_FILE"] = filepath.Join(h.dir, "do-fip.txt")
	r := h.run("assign", ipv4)
	h.wantCode(r, 3)
	if !strings.Contains(r.stderr, ".prom") {
		t.Errorf("stderr %q does not say why", r.stderr)
	}
	h.wantPosts(0)
}

type historyJSON struct {
	History []state.HistoryEntry `json:"history"`
}

func history(t *testing.T, h *harness) historyJSON {
	t.Helper()
	r := h.run("status", "--history", "--json")
	h.wantCode(r, 0)
	var out historyJSON
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("status --history --json: %v\n%s", err, r.stdout)
	}
	return out
}
