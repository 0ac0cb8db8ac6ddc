// Package backoff is the one way do-fip spaces its tries: waits that grow exponentially from a floor to a
// ceiling, with optional full jitter so that nodes retrying at the same moment (the two nodes of a pair, a
// fleet on one token) spread out instead of retrying in lockstep.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy is a backoff: the attempt-th wait (from 1) is Min·2^(attempt-1), capped at Max; with Jitter, a random
// wait between Min and that.
type Policy struct {
	Min, Max time.Duration
	Jitter   bool
}

// Wait returns the wait after the attempt-th failure.
func (p Policy) Wait(attempt int) time.Duration {
	hi := max(p.Max, p.Min)
	ceil := p.Min
	for i := 1; i < attempt && ceil < hi; i++ {
		ceil *= 2
	}
	ceil = min(ceil, hi)
	if !p.Jitter || ceil <= p.Min {
		return ceil
	}
	return p.Min + rand.N(ceil-p.Min+1)
}

// Sleep waits d, or less if ctx ends first; it returns ctx's error then.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
