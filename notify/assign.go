// Package notify turns keepalived events into decisions and carries them out: moving reserved IPs to this
// droplet through the API, following the move until it is done and verified, and nothing else. It never
// unassigns an IP (an unassigned reserved IP serves nobody and is billed).
package notify

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/do-fip/do-fip/doapi"
	"github.com/do-fip/do-fip/metadata"
)

// API is what the assigner needs from the DigitalOcean API (doapi.Client).
type API interface {
	GetIP(ctx context.Context, ip netip.Addr) (*doapi.IP, error)
	Assign(ctx context.Context, ip netip.Addr, dropletID int) (*doapi.Action, error)
	GetAction(ctx context.Context, ip netip.Addr, actionID int) (*doapi.Action, error)
}

// Metadata is what the assigner needs from the metadata service (metadata.Client).
type Metadata interface {
	Get(ctx context.Context) (*metadata.Metadata, error)
}

// Sentinels callers branch on (exit codes).
var (
	// ErrRefused: the API will never do this as asked (region mismatch, droplet cannot take the IP, not found).
	ErrRefused = errors.New("refused")
	// ErrTimeout: the deadline passed before the move was verified.
	ErrTimeout = errors.New("deadline passed before the move was verified")
)

// Outcome of one IP.
type Outcome string

const (
	Moved       Outcome = "moved"
	AlreadyHeld Outcome = "already_held"
	Failed      Outcome = "error"
)

// Result of assigning one IP.
type Result struct {
	IP       netip.Addr
	Outcome  Outcome
	ActionID int
	Posts    int
	Duration time.Duration
	Err      error
}

// Timing tunes the waits. The defaults suit the real API; tests shrink them.
type Timing struct {
	// ActionPolls are the waits between reads of a pending action when the metadata service cannot watch the
	// move: fast at first (a move often completes in about a second), then slower, to stay far below the
	// API's 250 requests a minute that every user of the token shares. The last value repeats.
	ActionPolls []time.Duration
	// WatchedActionPolls replace ActionPolls while the metadata service watches the move: the metadata poll
	// detects completion, the API poll only catches an errored action.
	WatchedActionPolls []time.Duration
	// MetadataPoll is the period of metadata reads while a move is pending. The metadata service is local to
	// the droplet and not rate limited, so it can be read often.
	MetadataPoll time.Duration
	// RetryMin and RetryMax bound the jittered exponential wait before posting again after a pending-event
	// conflict, an errored action or an unknown outcome.
	RetryMin, RetryMax time.Duration
}

// DefaultTiming is used where a Timing field is zero.
var DefaultTiming = Timing{
	ActionPolls:        []time.Duration{250 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, 500 * time.Millisecond, time.Second, time.Second, 2 * time.Second},
	WatchedActionPolls: []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 5 * time.Second},
	MetadataPoll:       50 * time.Millisecond,
	RetryMin:           200 * time.Millisecond,
	RetryMax:           3 * time.Second,
}

func (t Timing) withDefaults() Timing {
	d := DefaultTiming
	if len(t.ActionPolls) > 0 {
		d.ActionPolls = t.ActionPolls
	}
	if len(t.WatchedActionPolls) > 0 {
		d.WatchedActionPolls = t.WatchedActionPolls
	}
	if t.MetadataPoll > 0 {
		d.MetadataPoll = t.MetadataPoll
	}
	if t.RetryMin > 0 {
		d.RetryMin = t.RetryMin
	}
	if t.RetryMax > 0 {
		d.RetryMax = t.RetryMax
	}
	return d
}

// Assigner moves reserved IPs to one droplet.
type Assigner struct {
	API       API
	DropletID int
	// Region of the droplet, when known: an IP in another region fails before any POST.
	Region string
	// Watch, when set, is the metadata service of the target droplet itself; it detects a completed move
	// within MetadataPoll instead of waiting for the next API poll.
	Watch  Metadata
	Log    zerolog.Logger
	Timing Timing

	// turn lets one move at a time be pending for the droplet: DigitalOcean refuses a second one with 422
	// "Droplet already has a pending event", so IPs of both families take turns instead of colliding.
	turnOnce sync.Once
	turn     chan struct{}
}

// takeTurn waits until no other move of this assigner is pending, and returns the function that ends the turn.
func (a *Assigner) takeTurn(ctx context.Context) (func(), error) {
	a.turnOnce.Do(func() { a.turn = make(chan struct{}, 1) })
	select {
	case a.turn <- struct{}{}:
		return func() { <-a.turn }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// AssignAll assigns every IP in parallel and returns one result per IP, in order.
func (a *Assigner) AssignAll(ctx context.Context, ips []netip.Addr) []Result {
	out := make([]Result, len(ips))
	var wg sync.WaitGroup
	for i, ip := range ips {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = a.Assign(ctx, ip)
		}()
	}
	wg.Wait()
	return out
}

// Assign moves ip to the droplet, follows the action and verifies the holder. It returns when the IP is held
// here (verified by reading it back), when the API refuses for good, or when ctx ends.
func (a *Assigner) Assign(ctx context.Context, ip netip.Addr) Result {
	r := &run{a: a, ip: ip, t: a.Timing.withDefaults(), start: time.Now(),
		log: a.Log.With().Str("ip", ip.String()).Int("droplet_id", a.DropletID).Logger()}
	res := r.loop(ctx)
	res.IP = ip
	res.Posts = r.posts
	res.Duration = time.Since(r.start)
	if res.Err != nil {
		res.Outcome = Failed
		res.Err = fmt.Errorf("assign %s to droplet %d: %w", ip, a.DropletID, res.Err)
	}
	return res
}

type run struct {
	a      *Assigner
	ip     netip.Addr
	t      Timing
	log    zerolog.Logger
	start  time.Time
	posts  int
	retry  int
	action int
	// errored counts the moves the API reported errored; last is the latest error worth another try, named
	// when the deadline ends the run so that the cause is not lost.
	errored int
	last    error
}

// maxErrored is how many errored moves make the run give up before its deadline: one errored action is a
// hiccup, three in a row are a problem for a person (the droplet may be unable to take the IP).
const maxErrored = 3

func (r *run) elapsed() int64 { return time.Since(r.start).Milliseconds() }

func (r *run) loop(ctx context.Context) Result {
	for {
		info, err := r.a.API.GetIP(ctx, r.ip)
		if err != nil {
			if fatal := r.classify(ctx, err); fatal != nil {
				return Result{Err: fatal}
			}
			r.last = err
			r.log.Warn().Err(err).Str("event", "read_failed").Int64("elapsed_ms", r.elapsed()).Msg("reading the IP failed; trying again")
			if err := r.backoff(ctx); err != nil {
				return Result{Err: err}
			}
			continue
		}
		ev := r.log.Debug().Str("event", "ip_read").Int("holder", info.DropletID).Bool("locked", info.Locked).Int64("elapsed_ms", r.elapsed())
		ev.Msg("read the IP")

		if info.DropletID == r.a.DropletID && !info.Locked {
			if r.posts == 0 {
				r.log.Info().Str("event", "already_held").Int64("elapsed_ms", r.elapsed()).Msg("the IP is already on this droplet; nothing to do")
				return Result{Outcome: AlreadyHeld}
			}
			r.log.Info().Str("event", "moved").Int("action_id", r.action).Int("posts", r.posts).Int64("elapsed_ms", r.elapsed()).
				Msg("the IP is on this droplet (verified)")
			return Result{Outcome: Moved, ActionID: r.action}
		}
		if r.a.Region != "" && info.Region != "" && info.Region != r.a.Region {
			return Result{Err: fmt.Errorf("%w: the IP is in region %s and the droplet in %s; a reserved IP can only move within its region", ErrRefused, info.Region, r.a.Region)}
		}
		if info.Locked {
			// An action is pending on the IP: another node's assign, or ours whose answer was lost. Posting now
			// would only earn a 422; wait for it to settle, then decide again on fresh data.
			r.log.Info().Str("event", "ip_locked").Int("holder", info.DropletID).Msg("the IP has a pending action; waiting for it to settle")
			if err := r.waitUnlocked(ctx); err != nil {
				return Result{Err: err}
			}
			continue
		}

		endTurn, err := r.a.takeTurn(ctx)
		if err != nil {
			return Result{Err: r.timeout(ctx, nil)}
		}
		r.log.Info().Str("event", "assign").Int("holder", info.DropletID).Int("attempt", r.posts+1).Int64("elapsed_ms", r.elapsed()).Msg("moving the IP to this droplet")
		r.posts++
		act, err := r.a.API.Assign(ctx, r.ip, r.a.DropletID)
		if err != nil {
			endTurn()
		}
		switch {
		case err == nil:
			r.action = act.ID
			status, err := r.follow(ctx, act)
			endTurn()
			if err != nil {
				return Result{Err: err}
			}
			if status == "errored" {
				r.errored++
				r.last = fmt.Errorf("action %d errored", act.ID)
				if r.errored >= maxErrored {
					return Result{Err: fmt.Errorf("the API reported the move errored %d times (last: action %d); the droplet may be unable to take the IP", r.errored, act.ID)}
				}
				r.log.Warn().Str("event", "action_errored").Int("action_id", act.ID).Msg("the API reports the move failed; trying again")
				if err := r.backoff(ctx); err != nil {
					return Result{Err: err}
				}
			}
			// completed (or the holder changed): the next read verifies the holder.
		case errors.Is(err, doapi.ErrPendingEvent):
			r.last = err
			r.log.Info().Err(err).Str("event", "pending_event").Msg("the IP or droplet has a pending event; waiting")
			// Moves of this run take turns, so the event is someone else's (another node's move, another
			// droplet action): wait and read again.
			if err := r.backoff(ctx); err != nil {
				return Result{Err: err}
			}
		case errors.Is(err, doapi.ErrUnprocessable):
			// Assigning the IP to its holder is a 422 too: if the IP is ours after all, that is success.
			if info, rerr := r.a.API.GetIP(ctx, r.ip); rerr == nil && info.DropletID == r.a.DropletID {
				continue
			}
			return Result{Err: fmt.Errorf("%w: %w", ErrRefused, err)}
		default:
			if fatal := r.classify(ctx, err); fatal != nil {
				return Result{Err: fatal}
			}
			// The outcome is unknown (connection lost, 5xx): the POST may have succeeded. Re-read before
			// posting again.
			r.last = err
			r.log.Warn().Err(err).Str("event", "assign_unknown").Msg("no clear answer to the move; reading the IP again")
			if err := r.backoff(ctx); err != nil {
				return Result{Err: err}
			}
		}
	}
}

// classify returns the error to give up with, or nil when err is worth another try.
func (r *run) classify(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return r.timeout(ctx, err)
	case errors.Is(err, doapi.ErrUnauthorized), errors.Is(err, doapi.ErrForbidden), errors.Is(err, doapi.ErrCertificate),
		errors.Is(err, doapi.ErrUnexpected):
		return err
	case errors.Is(err, doapi.ErrNotFound):
		return fmt.Errorf("%w: %w", ErrRefused, err)
	case errors.Is(err, doapi.ErrRateLimited):
		// doapi returns a 429 only when waiting for the limit to reset would pass the deadline.
		return err
	}
	return nil
}

func (r *run) timeout(ctx context.Context, last error) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		// Stopped from outside: a newer transition superseded this run, or keepalived sent SIGTERM.
		return fmt.Errorf("stopped after %d ms: %w", r.elapsed(), context.Cause(ctx))
	}
	if last == nil || errors.Is(last, context.DeadlineExceeded) || errors.Is(last, context.Canceled) {
		last = r.last
	}
	if last != nil && !errors.Is(last, context.DeadlineExceeded) && !errors.Is(last, context.Canceled) {
		return fmt.Errorf("%w after %d ms (last error: %v)", ErrTimeout, r.elapsed(), last)
	}
	return fmt.Errorf("%w after %d ms", ErrTimeout, r.elapsed())
}

// backoff waits a jittered, exponentially growing time before the next try.
func (r *run) backoff(ctx context.Context) error {
	r.retry++
	d := r.t.RetryMin << min(r.retry-1, 10)
	if d > r.t.RetryMax || d <= 0 {
		d = r.t.RetryMax
	}
	d = d/2 + rand.N(d/2+1)
	return r.sleep(ctx, d)
}

func (r *run) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return r.timeout(ctx, nil)
	case <-t.C:
		return nil
	}
}

// waitUnlocked polls the IP until no action is pending on it.
func (r *run) waitUnlocked(ctx context.Context) error {
	for i := 0; ; i++ {
		if err := r.sleep(ctx, pollWait(r.t.ActionPolls, i)); err != nil {
			return err
		}
		info, err := r.a.API.GetIP(ctx, r.ip)
		if err != nil {
			if fatal := r.classify(ctx, err); fatal != nil {
				return fatal
			}
			r.last = err
			continue
		}
		if !info.Locked {
			return nil
		}
		r.last = errors.New("the IP is still locked by a pending action")
	}
}

func pollWait(s []time.Duration, i int) time.Duration {
	if i < len(s) {
		return s[i]
	}
	return s[len(s)-1]
}

// follow waits for the action to finish. It returns "completed" or "errored"; "completed" also stands for
// "the metadata service or the IP's holder says the IP is here", which the caller verifies by reading the IP.
func (r *run) follow(ctx context.Context, act *doapi.Action) (string, error) {
	log := r.log.With().Int("action_id", act.ID).Logger()
	log.Info().Str("event", "action_started").Str("status", act.Status).Int64("elapsed_ms", r.elapsed()).Msg("the API accepted the move")
	if act.Status == "completed" || act.Status == "errored" {
		return act.Status, nil
	}
	r.last = fmt.Errorf("action %d still %s", act.ID, act.Status)
	polls := r.t.ActionPolls
	var metaTick <-chan time.Time
	if r.a.Watch != nil {
		polls = r.t.WatchedActionPolls
		tk := time.NewTicker(r.t.MetadataPoll)
		defer tk.Stop()
		metaTick = tk.C
	}
	apiTimer := time.NewTimer(pollWait(polls, 0))
	defer apiTimer.Stop()
	for i := 1; ; {
		select {
		case <-ctx.Done():
			return "", r.timeout(ctx, nil)
		case <-metaTick:
			if r.heldPerMetadata(ctx) {
				log.Debug().Str("event", "metadata_says_held").Int64("elapsed_ms", r.elapsed()).Msg("the metadata service shows the IP here")
				return "completed", nil
			}
		case <-apiTimer.C:
			a, err := r.a.API.GetAction(ctx, r.ip, act.ID)
			switch {
			case err == nil:
				log.Debug().Str("event", "action_status").Str("status", a.Status).Int64("elapsed_ms", r.elapsed()).Msg("read the action")
				if a.Status == "completed" || a.Status == "errored" {
					return a.Status, nil
				}
			case errors.Is(err, doapi.ErrNotFound):
				// Right after an assign the action can 404 for a moment (terraform-provider-digitalocean#1557);
				// the IP itself tells whether the move happened.
				info, ierr := r.a.API.GetIP(ctx, r.ip)
				if ierr == nil && !info.Locked {
					if info.DropletID == r.a.DropletID {
						return "completed", nil
					}
					return "errored", nil
				}
			default:
				if fatal := r.classify(ctx, err); fatal != nil {
					return "", fatal
				}
				r.last = err
				log.Warn().Err(err).Str("event", "action_read_failed").Msg("reading the action failed; will read again")
			}
			apiTimer.Reset(pollWait(polls, i))
			i++
		}
	}
}

// heldPerMetadata asks the watched droplet's metadata service whether it holds the IP. A failing metadata
// service just stops the fast path; the API polls go on.
func (r *run) heldPerMetadata(ctx context.Context) bool {
	mctx, cancel := context.WithTimeout(ctx, r.t.MetadataPoll*4)
	defer cancel()
	md, err := r.a.Watch.Get(mctx)
	if err != nil || md.DropletID != r.a.DropletID {
		return false
	}
	held := md.ReservedIPv4
	if r.ip.Is6() {
		held = md.ReservedIPv6
	}
	got, perr := netip.ParseAddr(held.IP)
	return held.Active && perr == nil && got == r.ip
}
