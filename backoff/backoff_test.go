package backoff

import (
	"context"
	"testing"
	"time"
)

func TestWaitGrowsToTheCeiling(t *testing.T) {
	p := Policy{Min: 10 * time.Millisecond, Max: 80 * time.Millisecond}
	for attempt, want := range map[int]time.Duration{1: 10 * time.Millisecond, 2: 20 * time.Millisecond,
		3: 40 * time.Millisecond, 4: 80 * time.Millisecond, 9: 80 * time.Millisecond, 100: 80 * time.Millisecond} {
		if got := p.Wait(attempt); got != want {
			t.Errorf("attempt %d: %v, want %v", attempt, got, want)
		}
	}
	if got := (Policy{Min: 80 * time.Millisecond, Max: 10 * time.Millisecond}).Wait(3); got != 80*time.Millisecond {
		t.Errorf("max below min: %v, want the min", got)
	}
}

func TestJitterStaysInBoundsAndSpreads(t *testing.T) {
	const lo, hi = 10 * time.Millisecond, 80 * time.Millisecond
	p := Policy{Min: lo, Max: hi, Jitter: true}
	for attempt := 1; attempt <= 10; attempt++ {
		ceil := min(lo<<(attempt-1), hi)
		var top time.Duration
		for range 500 {
			d := p.Wait(attempt)
			if d < lo || d > ceil {
				t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, lo, ceil)
			}
			top = max(top, d)
		}
		// Full jitter spreads over the whole range; 500 draws reach its top half.
		if attempt > 1 && top < lo+(ceil-lo)/2 {
			t.Errorf("attempt %d: largest of 500 waits %v, want spread up to %v", attempt, top, ceil)
		}
	}
}

func TestSleepEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := Sleep(ctx, time.Hour); err == nil || time.Since(start) > time.Second {
		t.Fatalf("Sleep returned %v after %v", err, time.Since(start))
	}
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatal(err)
	}
}
