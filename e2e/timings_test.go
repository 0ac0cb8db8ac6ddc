package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// timing is one measured failover. Every duration is in milliseconds so the JSON lines
// read without conversion; -1 means "did not happen" (no POST was needed, say).
type timing struct {
	Scenario string `json:"scenario"`
	Test     string `json:"test"`
	// DetectMS: the event (failed check, SIGKILL, link healed) until keepalived on the
	// new MASTER logged entering MASTER (for a split brain: the repair hook's trigger).
	DetectMS float64 `json:"detect_ms"`
	// PostMS: keepalived entering MASTER until the simulator received the assign POST.
	PostMS float64 `json:"master_to_post_ms"`
	// MoveMS: the event until the simulator showed the IP on the new MASTER.
	MoveMS float64 `json:"move_ms"`
	// ExitMS: the simulator showing the IP moved until do-fip logged "done" on the new
	// MASTER (the simulator is polled every 20 ms, so this reads up to 20 ms short).
	ExitMS float64 `json:"moved_to_exit_ms"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// outDir is where the timings go: $DO_FIP_E2E_OUT, else bin/e2e in the repository.
func outDir() string {
	if d := os.Getenv("DO_FIP_E2E_OUT"); d != "" {
		return d
	}
	return filepath.Join("..", "bin", "e2e")
}

// record logs one timing and appends it to timings.jsonl for the summary TestMain writes.
func record(t *testing.T, tm timing) {
	t.Helper()
	tm.Test = t.Name()
	t.Logf("timing %-22s detect %8.1f ms | MASTER->POST %7.1f ms | event->moved %8.1f ms | moved->do-fip exit %7.1f ms",
		tm.Scenario, tm.DetectMS, tm.PostMS, tm.MoveMS, tm.ExitMS)
	b, err := json.Marshal(tm)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(outDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(outDir(), "timings.jsonl"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(append(b, '\n')); err != nil {
		t.Fatal(err)
	}
}

func TestMain(m *testing.M) {
	// Each run starts a fresh timings file, so the summary covers this run only (use
	// -count=N for medians over N runs).
	_ = os.Remove(filepath.Join(outDir(), "timings.jsonl"))
	code := m.Run()
	if f, err := os.Open(filepath.Join(outDir(), "timings.jsonl")); err == nil {
		table := summarize(f)
		f.Close()
		if err := os.WriteFile(filepath.Join(outDir(), "timings.md"), []byte(table), 0o644); err == nil {
			fmt.Printf("\nfailover timings (medians; %s):\n%s", filepath.Join(outDir(), "timings.md"), table)
		}
	}
	os.Exit(code)
}

// summarize renders the median of each measure per scenario as a Markdown table.
func summarize(r io.Reader) string {
	by := map[string][]timing{}
	var order []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var tm timing
		if json.Unmarshal(sc.Bytes(), &tm) != nil {
			continue
		}
		if _, ok := by[tm.Scenario]; !ok {
			order = append(order, tm.Scenario)
		}
		by[tm.Scenario] = append(by[tm.Scenario], tm)
	}
	var b strings.Builder
	b.WriteString("| scenario | runs | keepalived detection | MASTER → assign POST | event → IP moved | IP moved → do-fip exit |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|\n")
	for _, s := range order {
		ts := by[s]
		col := func(f func(timing) float64) string {
			var v []float64
			for _, tm := range ts {
				if x := f(tm); x >= 0 {
					v = append(v, x)
				}
			}
			if len(v) == 0 {
				return "—"
			}
			slices.Sort(v)
			med := v[len(v)/2]
			if len(v)%2 == 0 {
				med = (v[len(v)/2-1] + v[len(v)/2]) / 2
			}
			return fmt.Sprintf("%.0f ms", med)
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s |\n", s, len(ts),
			col(func(t timing) float64 { return t.DetectMS }),
			col(func(t timing) float64 { return t.PostMS }),
			col(func(t timing) float64 { return t.MoveMS }),
			col(func(t timing) float64 { return t.ExitMS }))
	}
	return b.String()
}

func TestSummarizeMedians(t *testing.T) {
	in := strings.Join([]string{
		`{"scenario":"kill","detect_ms":3000,"master_to_post_ms":20,"move_ms":4100,"moved_to_exit_ms":5}`,
		`{"scenario":"kill","detect_ms":3200,"master_to_post_ms":40,"move_ms":4300,"moved_to_exit_ms":-1}`,
		`{"scenario":"health","detect_ms":700,"master_to_post_ms":-1,"move_ms":1800,"moved_to_exit_ms":9}`,
		`not json`,
	}, "\n")
	got := summarize(strings.NewReader(in))
	for _, want := range []string{
		"| kill | 2 | 3100 ms | 30 ms | 4200 ms | 5 ms |",
		"| health | 1 | 700 ms | — | 1800 ms | 9 ms |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
}
