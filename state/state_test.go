package state

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestOpenCreatesAndChecks(t *testing.T) {
	base := t.TempDir()
	d, err := Open(filepath.Join(base, "a", "b"))
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(d.path)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o750 {
		t.Fatalf("state dir %v mode %v", err, fi.Mode())
	}
	entries, _ := os.ReadDir(d.path)
	if len(entries) != 0 {
		t.Errorf("the writability probe was left behind: %v", entries)
	}
}

func TestOpenRefuses(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o600)
	tests := map[string]string{
		"a file":          file,
		"below a file":    filepath.Join(file, "sub"),
		"empty path":      "",
		"unwritable root": "/proc/do-fip-state",
	}
	for name, p := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := Open(p); !errors.Is(err, ErrUnusable) {
				t.Fatalf("Open(%q) = %v, want ErrUnusable", p, err)
			}
		})
	}
}

func TestLockSerializes(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("2001:db8:10::10")
	var inside, maxInside atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := d.LockIP(context.Background(), ip)
			if err != nil {
				t.Error(err)
				return
			}
			n := inside.Add(1)
			if n > maxInside.Load() {
				maxInside.Store(n)
			}
			time.Sleep(time.Millisecond)
			inside.Add(-1)
			l.Unlock()
		}()
	}
	wg.Wait()
	if maxInside.Load() != 1 {
		t.Fatalf("%d holders at once, want 1", maxInside.Load())
	}
	if _, err := os.Stat(filepath.Join(d.path, "lock-2001-db8-10--10")); err != nil {
		t.Errorf("lock file name: %v", err)
	}
}

func TestLockWaitEndsWithContext(t *testing.T) {
	d, _ := Open(t.TempDir())
	ip := netip.MustParseAddr("203.0.113.10")
	held, err := d.LockIP(context.Background(), ip)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := d.LockIP(ctx, ip); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("LockIP = %v, want the deadline", err)
	}
	// Another IP is independent.
	other, err := d.LockIP(context.Background(), netip.MustParseAddr("203.0.113.11"))
	if err != nil {
		t.Fatal(err)
	}
	other.Unlock()
}

func TestLastAssignRoundTrip(t *testing.T) {
	d, _ := Open(t.TempDir())
	if r, err := d.LastAssign(); r != nil || err != nil {
		t.Fatalf("empty dir: %v %v", r, err)
	}
	want := AssignRecord{Time: time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC), Trigger: "assign", DropletID: 1002,
		Result: "ok", DurationMS: 1043, Requests: 4, IPs: []IPResult{{IP: "203.0.113.10", Result: "moved", ActionID: 7, DurationMS: 1040}}}
	if err := d.WriteLastAssign(want); err != nil {
		t.Fatal(err)
	}
	got, err := d.LastAssign()
	if err != nil || got.DropletID != 1002 || got.IPs[0].ActionID != 7 || !got.Time.Equal(want.Time) {
		t.Fatalf("LastAssign = %+v, %v", got, err)
	}
	fi, _ := os.Stat(filepath.Join(d.path, lastAssignFile))
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("record mode %v, want 0640", fi.Mode().Perm())
	}
	os.WriteFile(filepath.Join(d.path, lastAssignFile), []byte("{garbage"), 0o640)
	if _, err := d.LastAssign(); err == nil {
		t.Error("garbage record accepted")
	}
}

// A run that moved the IP marks it on the lock; a run that read the metadata service before that learns its
// view is stale, one that read it after does not.
func TestLockMarksMoves(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("203.0.113.10")
	first, err := d.LockIP(context.Background(), ip)
	if err != nil {
		t.Fatal(err)
	}
	first.Unlock()
	before := time.Now()
	time.Sleep(10 * time.Millisecond)
	l, err := d.LockIP(context.Background(), ip)
	if err != nil {
		t.Fatal(err)
	}
	if l.MovedSince(before) {
		t.Fatal("no move marked, yet MovedSince says one was")
	}
	l.MarkMoved()
	l.Unlock()
	l, err = d.LockIP(context.Background(), ip)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	if !l.MovedSince(before) {
		t.Fatal("a move marked after the view was read is not seen")
	}
	if l.MovedSince(time.Now().Add(time.Second)) {
		t.Fatal("a move marked before the view was read is taken for a newer one")
	}
}
