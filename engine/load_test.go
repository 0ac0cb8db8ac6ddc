package engine

import (
	"context"
	"net/http/httptest"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/do-fip/do-fip/doapi"
	"github.com/do-fip/do-fip/dosim"
	"github.com/do-fip/do-fip/metadata"
)

// usage is what a process holds that a leak would grow.
type usage struct {
	goroutines, fds int
	heap            uint64 // bytes live after a full GC
}

func measure(t *testing.T) usage {
	t.Helper()
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("count file descriptors: %v", err)
	}
	return usage{goroutines: runtime.NumGoroutine(), fds: len(fds), heap: ms.HeapAlloc}
}

// TestLoadThousandMoves moves one reserved IP back and forth between two droplets 1,000 times, through the real
// API client, metadata client and simulator at millisecond latencies. Every move must end with the right holder,
// and the process must hold no more goroutines, file descriptors or memory after the last move than after the
// warm-up: a hook that leaks a little per run is fine once, not on a node that flaps.
func TestLoadThousandMoves(t *testing.T) {
	const (
		moves  = 1000
		warmup = 100
	)
	w := dosim.DemoWorld()
	w.Tokens = []string{"load-test-token"}
	w.ActionLatency = time.Millisecond
	w.RatePerMinute, w.RatePerHour = 1<<30, 1<<30 // the test measures do-fip, not the rate limit
	sim, err := dosim.New(w)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	api, err := doapi.New(doapi.Options{Token: "load-test-token", BaseURL: srv.URL, AllowInsecure: true,
		RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	timing := Timing{ActionPolls: []time.Duration{2 * time.Millisecond}, CheckAfter: 50 * time.Millisecond,
		MetadataPoll: time.Millisecond, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond}
	watches := map[int]*metadata.Client{}
	for _, id := range []int{1001, 1002} {
		watches[id] = metadata.NewClient(metadata.WithBaseURL(srv.URL+"/droplets/"+strconv.Itoa(id)), metadata.WithRetryWait(time.Millisecond))
	}
	ip := netip.MustParseAddr("203.0.113.10")

	start := time.Now()
	deadline := start.Add(50 * time.Second)
	var before usage
	wrong := 0
	for i := range moves {
		if i == warmup {
			sim.ResetRequests()
			before = measure(t)
		}
		if i%100 == 0 {
			sim.ResetRequests() // the simulator's own request log is not do-fip's memory
		}
		target := 1001 + i%2
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		// A new engine per move, as each hook run is a process of its own: it reads the metadata service first.
		md, err := watches[target].Get(ctx)
		if err != nil {
			t.Fatalf("move %d: metadata: %v", i, err)
		}
		e := &Engine{API: api, DropletID: target, Region: "nyc3", Initial: md, Watch: watches[target], Timing: timing}
		res := e.Assign(ctx, ip)
		cancel()
		if res.Err != nil || res.Outcome != Moved {
			t.Fatalf("move %d to %d: %s %v", i, target, res.Outcome, res.Err)
		}
		if got := sim.Holder(ip.String()); got != target {
			wrong++
			t.Errorf("move %d: holder %d, want %d", i, got, target)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d moves took more than %v", i+1, deadline.Sub(start))
		}
	}
	elapsed := time.Since(start)
	sim.ResetRequests()
	after := measure(t)
	t.Logf("FIGURE load: %d moves in %v (%.1f ms each), %d wrong holders, %d API requests", moves, elapsed.Round(time.Millisecond),
		float64(elapsed.Microseconds())/1000/moves, wrong, api.Requests())
	t.Logf("FIGURE load: after %d moves: goroutines %d, fds %d, heap %d KiB; after %d: goroutines %d, fds %d, heap %d KiB",
		warmup, before.goroutines, before.fds, before.heap>>10, moves, after.goroutines, after.fds, after.heap>>10)

	// Idle keep-alive connections come and go with timing; a leak grows with the moves (900 here).
	if after.goroutines > before.goroutines+4 {
		t.Errorf("goroutines grew from %d to %d over %d moves", before.goroutines, after.goroutines, moves-warmup)
	}
	if after.fds > before.fds+4 {
		t.Errorf("file descriptors grew from %d to %d over %d moves", before.fds, after.fds, moves-warmup)
	}
	// The simulator keeps every action and request time (a few hundred bytes per move); anything near a
	// kilobyte per move more is a leak.
	if limit := before.heap + 1<<20; after.heap > limit {
		t.Errorf("heap grew from %d KiB to %d KiB over %d moves (limit +1 MiB)", before.heap>>10, after.heap>>10, moves-warmup)
	}
}
