package metrics_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/do-fip/do-fip/metrics"
	"github.com/do-fip/do-fip/metrics/metricstest"
	"github.com/do-fip/do-fip/state"
)

const (
	ip4 = "203.0.113.10"
	ip6 = "2001:db8:10::10"
)

var t0 = time.Date(2026, 12, 3, 7, 40, 1, 123e6, time.UTC)

func render(t *testing.T, s *metrics.Store, ka map[string]metrics.Keepalived) *metricstest.File {
	t.Helper()
	var b bytes.Buffer
	if err := s.WriteText(&b, ka, "1.2.3"); err != nil {
		t.Fatal(err)
	}
	f, err := metricstest.Parse(&b)
	if err != nil {
		t.Fatalf("Prometheus' parser refuses the file: %v\n%s", err, b.String())
	}
	return f
}

func series(name string, pairs ...string) string {
	return metricstest.Series(name, metricstest.L(pairs...)...)
}

// The whole file after three runs of a failover: exact names, labels, values and types.
func TestWriteTextAfterRuns(t *testing.T) {
	s := metrics.Load(nil)
	// notify MASTER: moved in 2.1 s, 3 API requests.
	s.Add(metrics.Run{Command: "notify", End: t0.Add(2100 * time.Millisecond), IPs: []string{ip4},
		Held: map[string]bool{ip4: true}, HeldComplete: true,
		Moves:       []metrics.MoveResult{{IP: ip4, Move: metrics.Move{Time: t0, OK: true, DurationMS: 2100}}},
		APIRequests: []int64{0, 3, 0, 0, 0}})
	// reconcile: all well, metadata only.
	s.Add(metrics.Run{Command: "reconcile", End: t0.Add(15 * time.Second), IPs: []string{ip4},
		Held: map[string]bool{ip4: true}, HeldComplete: true})
	// assign: the API refused twice with 503 then failed (exit 1) after one connection reset.
	s.Add(metrics.Run{Command: "assign", End: t0.Add(20 * time.Second), ExitCode: 1, Failed: true, IPs: []string{ip4},
		Moves:       []metrics.MoveResult{{IP: ip4, Move: metrics.Move{Time: t0.Add(19 * time.Second), DurationMS: 950}}},
		APIRequests: []int64{1, 1, 0, 0, 2}})
	f := render(t, s, map[string]metrics.Keepalived{ip4: {State: "MASTER", Since: t0}})

	ts := func(d time.Duration) float64 { return float64(t0.Add(d).UnixMilli()) / 1000 }
	want := map[string]float64{
		series("do_fip_build_info", "version", "1.2.3"):                     1,
		series("do_fip_ip_held_here", "ip", ip4):                            1,
		series("do_fip_ip_checked_timestamp_seconds", "ip", ip4):            ts(15 * time.Second),
		series("do_fip_keepalived_state", "ip", ip4, "state", "MASTER"):     1,
		series("do_fip_keepalived_state", "ip", ip4, "state", "BACKUP"):     0,
		series("do_fip_keepalived_state", "ip", ip4, "state", "FAULT"):      0,
		series("do_fip_keepalived_state", "ip", ip4, "state", "STOP"):       0,
		series("do_fip_keepalived_transition_timestamp_seconds", "ip", ip4): ts(0),
		series("do_fip_last_move_timestamp_seconds", "ip", ip4):             ts(19 * time.Second),
		series("do_fip_last_move_success", "ip", ip4):                       0,
		series("do_fip_last_move_duration_seconds", "ip", ip4):              0.95,
		series("do_fip_moves_total", "ip", ip4, "result", "moved"):          1,
		series("do_fip_moves_total", "ip", ip4, "result", "failed"):         1,
		series("do_fip_runs_total", "command", "assign"):                    1,
		series("do_fip_runs_total", "command", "notify"):                    1,
		series("do_fip_runs_total", "command", "reconcile"):                 1,
		series("do_fip_failed_runs_total", "command", "assign"):             1,
		series("do_fip_failed_runs_total", "command", "notify"):             0,
		series("do_fip_failed_runs_total", "command", "reconcile"):          0,
		series("do_fip_last_run_timestamp_seconds", "command", "assign"):    ts(20 * time.Second),
		series("do_fip_last_run_timestamp_seconds", "command", "notify"):    ts(2100 * time.Millisecond),
		series("do_fip_last_run_timestamp_seconds", "command", "reconcile"): ts(15 * time.Second),
		series("do_fip_last_run_exit_code", "command", "assign"):            1,
		series("do_fip_last_run_exit_code", "command", "notify"):            0,
		series("do_fip_last_run_exit_code", "command", "reconcile"):         0,
		series("do_fip_api_requests_total", "class", "error"):               1,
		series("do_fip_api_requests_total", "class", "2xx"):                 4,
		series("do_fip_api_requests_total", "class", "3xx"):                 0,
		series("do_fip_api_requests_total", "class", "4xx"):                 0,
		series("do_fip_api_requests_total", "class", "5xx"):                 2,
	}
	if !maps.Equal(f.Samples, want) {
		for _, k := range slices.Sorted(maps.Keys(want)) {
			if got, ok := f.Samples[k]; !ok || got != want[k] {
				t.Errorf("%s = %v (present %v), want %v", k, got, ok, want[k])
			}
		}
		for _, k := range slices.Sorted(maps.Keys(f.Samples)) {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected series %s = %v", k, f.Samples[k])
			}
		}
	}
	for name, typ := range f.Types {
		wantType := "gauge"
		if strings.HasSuffix(name, "_total") {
			wantType = "counter"
		}
		if typ != wantType {
			t.Errorf("%s is a %s, want a %s", name, typ, wantType)
		}
	}
}

// A run that looked (the metadata service answered) updates every known IP; one that could not look leaves
// what an earlier run saw, except for the IPs it learned about itself.
func TestHeldHereIsPerTheLastRunThatLooked(t *testing.T) {
	s := metrics.Load(nil)
	s.Add(metrics.Run{Command: "reconcile", End: t0, Held: map[string]bool{ip4: true, ip6: true}, HeldComplete: true})
	s.Add(metrics.Run{Command: "notify", End: t0.Add(time.Second), IPs: []string{ip4}}) // did not look
	f := render(t, s, nil)
	for _, ip := range []string{ip4, ip6} {
		if v, _ := f.Get("do_fip_ip_held_here", "ip", ip); v != 1 {
			t.Errorf("%s held = %v after a run that did not look, want 1 (kept)", ip, v)
		}
	}
	s.Add(metrics.Run{Command: "reconcile", End: t0.Add(2 * time.Second), Held: map[string]bool{ip6: true}, HeldComplete: true})
	f = render(t, s, nil)
	if v, _ := f.Get("do_fip_ip_held_here", "ip", ip4); v != 0 {
		t.Errorf("%s held = %v after the metadata service stopped listing it, want 0", ip4, v)
	}
	if v, _ := f.Get("do_fip_ip_checked_timestamp_seconds", "ip", ip4); v != float64(t0.Add(2*time.Second).UnixMilli())/1000 {
		t.Errorf("%s checked at %v, want the last look", ip4, v)
	}
	// No keepalived state recorded: no do_fip_keepalived_state series rather than a guess.
	if _, ok := f.Types["do_fip_keepalived_state"]; ok {
		if _, ok := f.Get("do_fip_keepalived_state", "ip", ip4, "state", "MASTER"); ok {
			t.Error("a keepalived state is shown although none was recorded")
		}
	}
}

func TestLoadDamagedStartsOver(t *testing.T) {
	for _, data := range []string{"", "{", `{"ips": 3}`, "\x00\x00"} {
		s := metrics.Load([]byte(data))
		if len(s.IPs) != 0 || len(s.Commands) != 0 || s.IPs == nil || s.Commands == nil || s.APIRequests == nil {
			t.Errorf("Load(%q) = %+v, want an empty, usable store", data, s)
		}
	}
	s := metrics.Load(nil)
	s.Add(metrics.Run{Command: "notify", End: t0, Failed: true, ExitCode: 6})
	b, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if got := metrics.Load(b); got.Commands["notify"].Failures != 1 || got.Commands["notify"].LastExitCode != 6 {
		t.Errorf("round trip lost the counts: %+v", got.Commands["notify"])
	}
}

func TestLabelValuesAreEscaped(t *testing.T) {
	f := func() *metricstest.File {
		var b bytes.Buffer
		if err := metrics.Load(nil).WriteText(&b, nil, "v1 \"quoted\" \\ back\nslash"); err != nil {
			t.Fatal(err)
		}
		f, err := metricstest.Parse(&b)
		if err != nil {
			t.Fatalf("%v\n%s", err, b.String())
		}
		return f
	}()
	if _, ok := f.Get("do_fip_build_info", "version", "v1 \"quoted\" \\ back\nslash"); !ok {
		t.Errorf("version label not read back: %v", f.Samples)
	}
}

// helperEnv makes the test binary act as a do-fip run that writes the metrics file and is killed mid-write.
const helperEnv = "DO_FIP_METRICS_TEST_HELPER"

func TestMain(m *testing.M) {
	if path := os.Getenv(helperEnv); path != "" {
		os.Exit(slowWrite(path))
	}
	os.Exit(m.Run())
}

// slowWrite writes a real metrics file to path, but stops halfway: it flushes the first half to disk, says
// "half" on stdout and waits to be killed.
func slowWrite(path string) int {
	s := metrics.Load(nil)
	s.Add(metrics.Run{Command: "notify", End: time.Now(), ExitCode: 8, Failed: true})
	var full bytes.Buffer
	if err := s.WriteText(&full, nil, "killed"); err != nil {
		return 1
	}
	err := state.WriteAtomic(path, 0o644, false, func(w io.Writer) error {
		half := full.Bytes()[:full.Len()/2]
		if _, err := w.Write(half); err != nil {
			return err
		}
		if err := w.(*bufio.Writer).Flush(); err != nil {
			return err
		}
		fmt.Println("half")
		time.Sleep(time.Minute)
		_, err := w.Write(full.Bytes()[len(half):])
		return err
	})
	if err != nil {
		return 1
	}
	return 0
}

func TestRunKilledMidWriteLeavesThePreviousFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "do-fip.prom")
	prev := metrics.Load(nil)
	prev.Add(metrics.Run{Command: "reconcile", End: t0, Held: map[string]bool{ip4: true}, HeldComplete: true})
	if err := metrics.WriteFile(path, prev, nil, "previous"); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("metrics file mode: %v, %v; want 0644", fi.Mode(), err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "half\n" {
		t.Fatalf("helper said %q, want half", line)
	}
	// The half-written file is there, under a name node_exporter does not read.
	temps, _ := filepath.Glob(filepath.Join(dir, ".do-fip.prom.*.tmp"))
	if len(temps) != 1 {
		t.Fatalf("temp files %v, want one being written", temps)
	}
	if part, _ := os.ReadFile(temps[0]); len(part) == 0 || len(part) >= len(before)*2 {
		t.Fatalf("temp file holds %d bytes: not a half-written file", len(part))
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	after, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(after, before) {
		t.Fatalf("after the kill the metrics file is %q (%v), want the previous one intact", after, err)
	}
	f, err := metricstest.ReadFile(path)
	if err != nil {
		t.Fatalf("after the kill the metrics file does not parse: %v", err)
	}
	if _, ok := f.Get("do_fip_build_info", "version", "previous"); !ok {
		t.Errorf("after the kill the metrics file is not the previous one: %v", f.Samples)
	}
	if proms, _ := filepath.Glob(filepath.Join(dir, "*.prom")); len(proms) != 1 {
		t.Errorf("*.prom files %v, want only do-fip.prom: node_exporter would read a half-written one", proms)
	}
	// The next run replaces it whole; the temp file the killed run left is removed once it is old.
	old := time.Now().Add(-2 * time.Minute)
	os.Chtimes(temps[0], old, old)
	if err := metrics.WriteFile(path, prev, nil, "next"); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".do-fip.prom.*.tmp")); len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
}

func TestWriteFileMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "do-fip.prom")
	err := metrics.WriteFile(path, metrics.Load(nil), nil, "x")
	if err == nil || !strings.Contains(err.Error(), "no such file or directory") {
		t.Fatalf("err = %v, want one naming the missing directory", err)
	}
}
