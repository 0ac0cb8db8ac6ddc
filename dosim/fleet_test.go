package dosim

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// The metadata service may lag the API: with MetadataLag it shows the previous holder until the lag has passed
// since the action completed, while the API already names the new one.
func TestMetadataLagShowsThePreviousHolder(t *testing.T) {
	f := newFixture(t, func(w *World) { w.MetadataLag = 3 * time.Second })
	f.sim.Assign("203.0.113.10", 1002) // a starting state: shown at once
	active := func(droplet string) string {
		return string(f.do(t, "GET", "/droplets/"+droplet+"/metadata/v1/reserved_ip/ipv4/active", "", "").body)
	}
	if active("1002") != "true" || active("1001") != "false" {
		t.Fatalf("starting state not shown at once: 1002 %s, 1001 %s", active("1002"), active("1001"))
	}
	f.assign(t, kindReserved, "203.0.113.10", 1001)
	f.clk.Advance(time.Second) // the action completes
	if f.sim.Holder("203.0.113.10") != 1001 {
		t.Fatal("the API does not name the new holder after the action completed")
	}
	if active("1002") != "true" || active("1001") != "false" {
		t.Fatalf("within the lag: 1002 %s, 1001 %s; want the previous holder still shown", active("1002"), active("1001"))
	}
	f.clk.Advance(3 * time.Second)
	if active("1002") != "false" || active("1001") != "true" {
		t.Fatalf("after the lag: 1002 %s, 1001 %s; want the new holder", active("1002"), active("1001"))
	}
	if got, want := f.sim.MovedAt("203.0.113.10"), epoch.Add(time.Second); !got.Equal(want) {
		t.Fatalf("MovedAt %v, want %v", got, want)
	}
}

// Two moves within the lag: the metadata service walks through both, each shown lag after it completed.
func TestMetadataLagAcrossTwoMoves(t *testing.T) {
	f := newFixture(t, func(w *World) { w.MetadataLag = 5 * time.Second })
	f.sim.Assign("203.0.113.10", 1002)
	f.assign(t, kindReserved, "203.0.113.10", 1001) // completes at 1 s
	f.clk.Advance(time.Second)
	f.assign(t, kindReserved, "203.0.113.10", 1002) // completes at 2 s
	f.clk.Advance(time.Second)
	ip := func(droplet string) string {
		return string(f.do(t, "GET", "/droplets/"+droplet+"/metadata/v1/reserved_ip/ipv4/active", "", "").body)
	}
	for _, step := range []struct {
		at          time.Duration // since epoch
		on1001, on2 string
	}{
		{4 * time.Second, "false", "true"},  // before the first move shows
		{6 * time.Second, "true", "false"},  // the first move shown, the second not yet
		{7 * time.Second, "false", "true"},  // both shown
		{60 * time.Second, "false", "true"}, // long after
	} {
		f.clk.Advance(epoch.Add(step.at).Sub(f.clk.Now()))
		if got1, got2 := ip("1001"), ip("1002"); got1 != step.on1001 || got2 != step.on2 {
			t.Errorf("at %v: 1001 %s, 1002 %s; want %s, %s", step.at, got1, got2, step.on1001, step.on2)
		}
	}
}

// Action times spread over latency ± jitter, never outside it.
func TestActionJitter(t *testing.T) {
	f := newFixture(t, func(w *World) { w.ActionLatency = 10 * time.Second; w.ActionJitter = 2 * time.Second })
	seen := map[time.Duration]bool{}
	for i := 0; i < 40; i++ {
		target := 1001 + i%2
		f.assign(t, kindReserved, "203.0.113.10", target)
		f.sim.mu.Lock()
		a := f.sim.actions[f.sim.actOrder[len(f.sim.actOrder)-1]]
		d := a.due.Sub(a.started)
		f.sim.mu.Unlock()
		if d < 8*time.Second || d > 12*time.Second {
			t.Fatalf("action %d takes %v, want 8s to 12s", i, d)
		}
		seen[d.Round(500*time.Millisecond)] = true
		f.clk.Advance(13 * time.Second)
	}
	if len(seen) < 4 {
		t.Fatalf("action times hardly vary: %v", seen)
	}
}

func TestWorldRejectsJitterAboveLatency(t *testing.T) {
	_, err := ParseWorld([]byte(`{"tokens":["t"],"action_latency":"1s","action_jitter":"2s","droplets":[],"ips":[]}`))
	if err == nil || !strings.Contains(err.Error(), "jitter") {
		t.Fatalf("err %v, want a jitter error", err)
	}
	w, err := ParseWorld([]byte(`{"tokens":["t"],"action_latency":"11s","action_jitter":"1s","metadata_lag":"2s","rate_counts_refused":true,"droplets":[],"ips":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	if w.ActionJitter != time.Second || w.MetadataLag != 2*time.Second || !w.RateCountsRefused {
		t.Fatalf("fields not read: %+v", w)
	}
	b, _ := w.MarshalJSON()
	for _, want := range []string{`"action_jitter":"1s"`, `"metadata_lag":"2s"`, `"rate_counts_refused":true`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s not in %s", want, b)
		}
	}
}

// Whether DigitalOcean counts refused requests is not documented: with RateCountsRefused a client that keeps
// asking through a 429 keeps the window full; without it, refused requests cost nothing.
func TestRateCountsRefused(t *testing.T) {
	for _, counts := range []bool{false, true} {
		f := newFixture(t, func(w *World) { w.RatePerMinute = 2; w.RatePerHour = 100; w.RateCountsRefused = counts })
		f.get(t, "/v2/account")
		f.get(t, "/v2/account")
		f.clk.Advance(30 * time.Second)
		if r := f.get(t, "/v2/account"); r.status != http.StatusTooManyRequests {
			t.Fatalf("counts=%v: third request in a minute answered %d", counts, r.status)
		}
		f.clk.Advance(31 * time.Second) // the first two leave the window; the refused one (at 30 s) would not
		r := f.get(t, "/v2/account")
		if counts {
			// The refused request at 30 s is still in the window: this one fills it.
			if r.status != http.StatusOK {
				t.Fatalf("counts=true: status %d, want 200 (one refused request in the window, limit 2)", r.status)
			}
			if r2 := f.get(t, "/v2/account"); r2.status != http.StatusTooManyRequests {
				t.Fatalf("counts=true: status %d, want 429: the refused request still fills the window", r2.status)
			}
		} else {
			if r.status != http.StatusOK {
				t.Fatalf("counts=false: status %d, want 200", r.status)
			}
			if r2 := f.get(t, "/v2/account"); r2.status != http.StatusOK {
				t.Fatalf("counts=false: status %d, want 200: refused requests cost nothing", r2.status)
			}
		}
		if c := f.sim.Counts(); c.API != 5 || c.Status[429] != 1+boolInt(counts) {
			t.Fatalf("counts=%v: %+v", counts, c)
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
