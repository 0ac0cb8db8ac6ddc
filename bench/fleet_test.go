package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/do-fip/do-fip/dosim"
)

// The fleet benchmark: N load-balancer pairs fail over in the same second, all on one API token (one token in
// the config management for the whole fleet is common). Each pair's backup runs the real `do-fip assign`,
// launched within one second of the others, against the simulator with DigitalOcean's limits (250 requests a
// minute and 5,000 an hour per token) and real action times. Whether DigitalOcean counts requests it refuses
// with 429 is not documented, so every size runs both ways.

// fleet is one run's set-up.
type fleet struct {
	pairs          int
	latency        time.Duration
	jitter         time.Duration
	countsRefused  bool
	launchSpread   time.Duration
	hookTimeoutEnv string // DO_FIP_TIMEOUT for the hooks; "" for do-fip's default
}

// fleetResult is what one run measured.
type fleetResult struct {
	moved, exitOK       int
	exitCodes           map[int]int
	allMoved            time.Duration // from the first launch until the last IP moved
	moveP50, moveP95    time.Duration // per pair, from its launch until its IP moved
	requests, tooMany   int
	lastExit            time.Duration // from the first launch until the last hook exited
	metadataReqsPerPair float64
}

// benchIP is the address of pair i's reserved IP, from the benchmarking range 198.18.0.0/15 (RFC 2544).
func benchIP(i int) string { return fmt.Sprintf("198.18.%d.%d", i/250, 1+i%250) }

func (f fleet) world() dosim.World {
	w := dosim.World{
		Tokens:            []string{token},
		ActionLatency:     f.latency,
		ActionJitter:      f.jitter,
		RatePerMinute:     dosim.DefaultRatePerMinute,
		RatePerHour:       dosim.DefaultRatePerHour,
		RateCountsRefused: f.countsRefused,
	}
	for i := range f.pairs {
		primary, backup := 10000+2*i, 10001+2*i
		w.Droplets = append(w.Droplets,
			dosim.Droplet{ID: primary, Name: fmt.Sprintf("lb-%d-a", i), Region: "nyc3"},
			dosim.Droplet{ID: backup, Name: fmt.Sprintf("lb-%d-b", i), Region: "nyc3"})
		w.IPs = append(w.IPs, dosim.ReservedIP{IP: benchIP(i), Region: "nyc3", DropletID: primary})
	}
	return w
}

func runFleet(b *testing.B, f fleet) fleetResult {
	sim, err := dosim.New(f.world())
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	dir := b.TempDir()

	type hook struct {
		launched time.Time
		code     int
		exited   time.Time
	}
	hooks := make([]hook, f.pairs)
	// Every hook is bounded by its own deadline; this bounds the whole run should one hang anyway.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for i := range f.pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(rand.N(f.launchSpread))
			backup := 10001 + 2*i
			cmd := exec.CommandContext(ctx, binary, "assign", benchIP(i))
			cmd.Env = []string{
				"DIGITALOCEAN_ACCESS_TOKEN=" + token, "DO_FIP_INSECURE_API=1", "DO_FIP_API_URL=" + srv.URL,
				fmt.Sprintf("DO_FIP_METADATA_URL=%s/droplets/%d", srv.URL, backup),
				"DO_FIP_STATE_DIR=" + filepath.Join(dir, fmt.Sprint(i)), "DO_FIP_SYSLOG=off", "DO_FIP_CONFIG=/dev/null",
				"DO_FIP_LOG_LEVEL=error",
			}
			if f.hookTimeoutEnv != "" {
				cmd.Env = append(cmd.Env, "DO_FIP_TIMEOUT="+f.hookTimeoutEnv)
			}
			hooks[i].launched = time.Now()
			err := cmd.Run()
			hooks[i].exited = time.Now()
			if err != nil {
				hooks[i].code = -1
				if ee, ok := err.(*exec.ExitError); ok {
					hooks[i].code = ee.ExitCode()
				}
			}
		}()
	}
	wg.Wait()

	res := fleetResult{exitCodes: map[int]int{}}
	var moves []time.Duration
	for i, h := range hooks {
		res.exitCodes[h.code]++
		if h.code == 0 {
			res.exitOK++
		}
		res.lastExit = max(res.lastExit, h.exited.Sub(start))
		if sim.Holder(benchIP(i)) != 10001+2*i {
			continue
		}
		res.moved++
		at := sim.MovedAt(benchIP(i))
		moves = append(moves, at.Sub(h.launched))
		res.allMoved = max(res.allMoved, at.Sub(start))
	}
	slices.Sort(moves)
	if len(moves) > 0 {
		res.moveP50 = moves[len(moves)/2]
		res.moveP95 = moves[min(len(moves)-1, len(moves)*95/100)]
	}
	c := sim.Counts()
	res.requests, res.tooMany = c.API, c.Status[429]
	res.metadataReqsPerPair = float64(c.Metadata) / float64(f.pairs)
	return res
}

func (f fleet) name() string {
	refused := "429s not counted"
	if f.countsRefused {
		refused = "429s counted"
	}
	return fmt.Sprintf("fleet %3d pairs, action %s±%s, %s", f.pairs, f.latency, f.jitter, refused)
}

func reportFleet(b *testing.B, f fleet, r fleetResult) {
	perPair := float64(r.requests) / float64(f.pairs)
	report(f.name(), fmt.Sprintf("moved %d/%d, exit 0 %d/%d, all moved in %.1f s (last exit %.1f s), move p50 %.1f s p95 %.1f s, API requests %.2f/pair, 429s %d, metadata reads %.0f/pair, exit codes %v",
		r.moved, f.pairs, r.exitOK, f.pairs, r.allMoved.Seconds(), r.lastExit.Seconds(), r.moveP50.Seconds(), r.moveP95.Seconds(),
		perPair, r.tooMany, r.metadataReqsPerPair, r.exitCodes))
	b.ReportMetric(float64(r.moved), "moved")
	b.ReportMetric(float64(r.exitOK), "exit0")
	b.ReportMetric(r.allMoved.Seconds(), "s-all-moved")
	b.ReportMetric(perPair, "requests/pair")
	b.ReportMetric(float64(r.tooMany), "429s")
}

// BenchmarkFleet: N = 10, 50, 100, 200 pairs at DigitalOcean's action time (10 s ± 2 s), and 100 pairs at
// 1 s ± 0.2 s, each with refused requests counted and not counted. Targets: N = 200 moves 200/200 with
// 200/200 exit 0, all within the action time + 3 s, at most 1.2 API requests per pair.
func BenchmarkFleet(b *testing.B) {
	var runs []fleet
	for _, counted := range []bool{false, true} {
		for _, n := range []int{10, 50, 100, 200} {
			runs = append(runs, fleet{pairs: n, latency: 10 * time.Second, jitter: 2 * time.Second, countsRefused: counted, launchSpread: time.Second})
		}
		runs = append(runs, fleet{pairs: 100, latency: time.Second, jitter: 200 * time.Millisecond, countsRefused: counted, launchSpread: time.Second})
	}
	for _, f := range runs {
		b.Run(f.key(), func(b *testing.B) { reportFleet(b, f, runFleet(b, f)) })
	}
}

// key names a run for -bench filters: pairs=200/action=10s/refused-counted.
func (f fleet) key() string {
	refused := "refused-free"
	if f.countsRefused {
		refused = "refused-counted"
	}
	return fmt.Sprintf("pairs=%d/action=%s/%s", f.pairs, f.latency, refused)
}

// BenchmarkFleetBeyondTheLimit: 300 pairs, more than one minute's 250 requests, so 50 hooks meet a 429 on their
// POST and wait out the window (plus a spread). It shows what do-fip's default deadline (120 s) must cover: a
// window, its spread and a move.
func BenchmarkFleetBeyondTheLimit(b *testing.B) {
	for _, counted := range []bool{false, true} {
		f := fleet{pairs: 300, latency: 10 * time.Second, jitter: 2 * time.Second, countsRefused: counted, launchSpread: time.Second}
		b.Run(f.key(), func(b *testing.B) { reportFleet(b, f, runFleet(b, f)) })
	}
}
