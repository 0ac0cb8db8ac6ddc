package state

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestHistoryOrderAndBound(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if h, err := d.History(); err != nil || len(h) != 0 {
		t.Fatalf("empty history: %v, %v", h, err)
	}
	t0 := time.Now()
	// Appended in the order the runs ended; keepalived started them in Event order.
	for _, i := range []int{2, 1, 3} {
		e := HistoryEntry{Time: t0.Add(time.Duration(i) * time.Millisecond), Event: ProcStart{Start: 100, PID: 10 + i}, Boot: "b", Priority: i}
		if err := d.AppendHistory(e); err != nil {
			t.Fatal(err)
		}
	}
	// Another boot: its Event is meaningless against this boot's; the wall clock orders it.
	d.AppendHistory(HistoryEntry{Time: t0.Add(-time.Hour), Event: ProcStart{Start: 1 << 40, PID: 1}, Boot: "older", Priority: 0})
	h, _ := d.History()
	var got []int
	for _, e := range h {
		got = append(got, e.Priority)
	}
	if fmt.Sprint(got) != "[0 1 2 3]" {
		t.Errorf("order %v, want [0 1 2 3]", got)
	}
	if fi, err := os.Stat(filepath.Join(d.path, historyFile)); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("history file mode %v (%v), want 0644: a run as root must leave it readable for keepalived_script", fi.Mode(), err)
	}
	for i := range HistoryLen {
		d.AppendHistory(HistoryEntry{Time: t0.Add(time.Minute), Event: ProcStart{Start: 200, PID: 100 + i}, Boot: "b", Priority: 100 + i})
	}
	h, _ = d.History()
	if len(h) != HistoryLen || h[0].Priority != 100 || h[len(h)-1].Priority != 100+HistoryLen-1 {
		t.Errorf("after %d more: %d entries from %d to %d", HistoryLen, len(h), h[0].Priority, h[len(h)-1].Priority)
	}
}

// Concurrent appends lose nothing, and a damaged file (a crash cannot make one, a disk can) is started over.
func TestHistoryConcurrentAndDamaged(t *testing.T) {
	d, _ := Open(t.TempDir())
	os.WriteFile(filepath.Join(d.path, historyFile), []byte("[{"), 0o640)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if err := d.AppendHistory(HistoryEntry{Time: time.Now(), Event: ProcStart{Start: 1, PID: i + 1}, Boot: "b"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if h, err := d.History(); err != nil || len(h) != 20 {
		t.Errorf("%d entries (%v), want 20", len(h), err)
	}
}

func TestUpdateMetricsCountsEveryRun(t *testing.T) {
	d, _ := Open(t.TempDir())
	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() {
			err := d.UpdateMetrics(func(old []byte) ([]byte, error) {
				n, _ := strconv.Atoi(string(old))
				return []byte(strconv.Itoa(n + 1)), nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	b, _ := os.ReadFile(filepath.Join(d.path, metricsFile))
	if string(b) != "30" {
		t.Errorf("count %q after 30 updates", b)
	}
	if fi, _ := os.Stat(filepath.Join(d.path, metricsFile)); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode())
	}
	// f failing stores nothing.
	d.UpdateMetrics(func([]byte) ([]byte, error) { return nil, fmt.Errorf("no") })
	if b, _ := os.ReadFile(filepath.Join(d.path, metricsFile)); string(b) != "30" {
		t.Errorf("count %q after a failed update", b)
	}
}

func TestObserveAssigns(t *testing.T) {
	d, _ := Open(t.TempDir())
	var seen []AssignRecord
	d.ObserveAssigns(func(r AssignRecord) { seen = append(seen, r) })
	d.WriteLastAssign(AssignRecord{Trigger: "notify MASTER"})
	if len(seen) != 1 || seen[0].Trigger != "notify MASTER" {
		t.Errorf("observed %+v", seen)
	}
}
