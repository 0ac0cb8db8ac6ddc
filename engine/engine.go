// Package engine moves reserved IPs to this droplet: it decides from the metadata service whether to post at
// all, posts the assign, follows the move through the metadata service until it lands, and settles what the API
// answers (pending events, lost answers, rate limits, errored actions) within one deadline. Its decisions are
// plain functions (decide.go); Engine carries them out. It never unassigns an IP: an unassigned reserved IP
// serves nobody and is billed.
//
// A move costs one API request when nothing goes wrong: the POST. The metadata service, local to the droplet
// and not rate limited, says beforehand whether the IP is elsewhere and afterwards when it has landed. That
// matters when a whole fleet fails over at once on one token: DigitalOcean allows a token 250 requests a
// minute, shared by every droplet that uses it.
package engine

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/do-fip/do-fip/backoff"
	"github.com/do-fip/do-fip/doapi"
	"github.com/do-fip/do-fip/metadata"
)

// API is what the engine needs from the DigitalOcean API (doapi.Client).
type API interface {
	GetIP(ctx context.Context, ip netip.Addr) (*doapi.IP, error)
	Assign(ctx context.Context, ip netip.Addr, dropletID int) (*doapi.Action, error)
	GetAction(ctx context.Context, ip netip.Addr, actionID int) (*doapi.Action, error)
}

// Metadata is what the engine needs from the metadata service (metadata.Client).
type Metadata interface {
	Get(ctx context.Context) (*metadata.Metadata, error)
}

// Sentinels callers branch on (exit codes).
var (
	// ErrRefused: the API will never do this as asked (region mismatch, droplet cannot take the IP, not found).
	ErrRefused = errors.New("refused")
	// ErrTimeout: the deadline passed and no move was accepted.
	ErrTimeout = errors.New("deadline passed before the IP could be moved")
	// ErrUnverified: the API accepted the move, but the deadline passed before it was seen to land. It may
	// still complete.
	ErrUnverified = errors.New("the API accepted the move but the deadline passed before it was seen to land")
)

// Outcome of one IP.
type Outcome string

const (
	Moved       Outcome = "moved"
	AlreadyHeld Outcome = "already_held"
	// Errored: the IP could not be moved; Result.Err says why. "error" is what status and the state files
	// have always shown.
	Errored Outcome = "error"
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

// Timing tunes the waits. The defaults suit the real API, whose moves take 10–15 s; tests shrink them.
type Timing struct {
	// MetadataPoll is the period of metadata reads while a move is pending: the metadata service is local and
	// not rate limited, and it tells when the move has landed.
	MetadataPoll time.Duration
	// CheckAfter is when, after the POST, an API read of the action first checks a move the metadata service has
	// not shown yet (an errored action never shows there); CheckEvery spaces further checks. Both are longer
	// than a real move, so a healthy move costs no read at all.
	CheckAfter, CheckEvery time.Duration
	// ActionPolls are the waits between action reads when the metadata service cannot watch the move (it is
	// down, or describes another droplet). The last value repeats.
	ActionPolls []time.Duration
	// MetadataDown is how long the metadata service may fail during a follow before the action is read instead:
	// long enough that a busy moment is not taken for an outage (a whole fleet reading the action at once would
	// meet the rate limit).
	MetadataDown time.Duration
	// RetryMin and RetryMax bound the jittered exponential wait before posting again after a pending event, an
	// unknown outcome or an errored action.
	RetryMin, RetryMax time.Duration
	// ReadTimeout bounds an API read made while following a move: a read the API makes wait (429) must not
	// stop the watch of the metadata service.
	ReadTimeout time.Duration
}

// defaultTiming is used where a Timing field is zero.
func defaultTiming() Timing {
	return Timing{
		MetadataPoll: 50 * time.Millisecond,
		CheckAfter:   20 * time.Second,
		CheckEvery:   10 * time.Second,
		ActionPolls:  []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 5 * time.Second},
		MetadataDown: 3 * time.Second,
		RetryMin:     500 * time.Millisecond,
		RetryMax:     4 * time.Second,
		ReadTimeout:  5 * time.Second,
	}
}

func (t Timing) withDefaults() Timing {
	d := defaultTiming()
	set := func(dst *time.Duration, v time.Duration) {
		if v > 0 {
			*dst = v
		}
	}
	set(&d.MetadataPoll, t.MetadataPoll)
	set(&d.CheckAfter, t.CheckAfter)
	set(&d.CheckEvery, t.CheckEvery)
	set(&d.MetadataDown, t.MetadataDown)
	set(&d.RetryMin, t.RetryMin)
	set(&d.RetryMax, t.RetryMax)
	set(&d.ReadTimeout, t.ReadTimeout)
	if len(t.ActionPolls) > 0 {
		d.ActionPolls = t.ActionPolls
	}
	return d
}

// Engine moves reserved IPs to one droplet.
type Engine struct {
	API       API
	DropletID int
	// Region of the droplet, when known: an IP in another region is refused.
	Region string
	// Initial is what the metadata service said when the run started (nil: unknown), asked at InitialAt. It
	// decides whether the first request is the POST, unless it is stale by the time the IP's lock is held (see
	// Lock).
	Initial   *metadata.Metadata
	InitialAt time.Time
	// Watch, when set, is the metadata service of the target droplet itself; it shows the move landing.
	Watch  Metadata
	Log    zerolog.Logger
	Timing Timing
	// Lock, when set, serializes runs on this node per IP: AssignAll holds it for the whole move, and marks
	// on it a move this run made. Another run may have held it, and moved the IP, at any moment after Initial
	// was asked for (even without this run ever waiting for it): then the metadata service is asked again.
	Lock func(ctx context.Context, ip netip.Addr) (IPLock, error)

	// turn lets one move at a time be pending for the droplet: DigitalOcean refuses a second one with 422
	// "Droplet already has a pending event", so IPs of both families take turns instead of colliding.
	turnOnce sync.Once
	turn     chan struct{}
}

// takeTurn waits until no other move of this engine is pending, and returns the function that ends the turn.
func (e *Engine) takeTurn(ctx context.Context) (func(), error) {
	e.turnOnce.Do(func() { e.turn = make(chan struct{}, 1) })
	select {
	case e.turn <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-e.turn }) }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// IPLock is a held per-IP lock (state.Lock).
type IPLock interface {
	Unlock()
	MarkMoved()
	MovedSince(t time.Time) bool
}

// AssignAll assigns every IP in parallel, each under its lock, and returns one result per IP, in order.
func (e *Engine) AssignAll(ctx context.Context, ips []netip.Addr) []Result {
	out := make([]Result, len(ips))
	var wg sync.WaitGroup
	for i, ip := range ips {
		wg.Add(1)
		go func() {
			defer wg.Done()
			view := e.Initial
			if e.Lock != nil {
				lk, err := e.Lock(ctx, ip)
				if err != nil {
					switch {
					case errors.Is(ctx.Err(), context.Canceled):
						err = fmt.Errorf("%w: %w", context.Cause(ctx), err)
					case ctx.Err() != nil:
						err = fmt.Errorf("%w: %w", ErrTimeout, err)
					}
					out[i] = Result{IP: ip, Outcome: Errored, Err: err}
					return
				}
				defer lk.Unlock()
				if lk.MovedSince(e.InitialAt) {
					if fresh := e.freshView(ctx); fresh != nil {
						view = fresh
					}
				}
				defer func() {
					if out[i].Outcome == Moved {
						lk.MarkMoved()
					}
				}()
			}
			out[i] = e.assign(ctx, ip, view)
		}()
	}
	wg.Wait()
	return out
}

// Assign moves ip to the droplet and returns when the move has landed, when the API refuses for good, or when
// ctx ends.
func (e *Engine) Assign(ctx context.Context, ip netip.Addr) Result {
	return e.assign(ctx, ip, e.Initial)
}

// freshView asks the watched metadata service again; nil when it cannot tell within a second.
func (e *Engine) freshView(ctx context.Context) *metadata.Metadata {
	if e.Watch == nil {
		return nil
	}
	// Bounded: a metadata service that stopped answering must not hold up the POST; the first view serves then.
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	md, err := e.Watch.Get(ctx)
	if err != nil {
		return nil
	}
	return md
}

func (e *Engine) assign(ctx context.Context, ip netip.Addr, view *metadata.Metadata) Result {
	r := &run{e: e, ip: ip, view: view, t: e.Timing.withDefaults(), start: time.Now(),
		log: e.Log.With().Str("ip", ip.String()).Int("droplet_id", e.DropletID).Logger()}
	res := Result{IP: ip}
	err := r.moveIP(ctx)
	res.Posts, res.ActionID, res.Duration = r.posts, r.action, time.Since(r.start)
	switch {
	case err != nil:
		res.Outcome = Errored
		res.Err = fmt.Errorf("assign %s to droplet %d: %w", ip, e.DropletID, err)
	case !r.maybeMoved:
		// No POST was accepted or lost: the IP was here already (a 422 "already assigned" says so too).
		res.Outcome = AlreadyHeld
	default:
		res.Outcome = Moved
	}
	return res
}

// run is the state of one IP's move.
type run struct {
	e     *Engine
	ip    netip.Addr
	view  *metadata.Metadata // what the metadata service said before the run
	t     Timing
	log   zerolog.Logger
	start time.Time
	posts int
	retry int
	// action is the last move the API accepted; accepted says it may still land (not errored).
	action   int
	accepted bool
	// maybeMoved: a POST was accepted, or its answer was lost; the run may have moved the IP.
	maybeMoved bool
	// sawElsewhere: the metadata service has shown the IP elsewhere since this run began. Only then does it
	// showing the IP here mean a move landed: before, it may be a stale view of a move away.
	sawElsewhere bool
	errored      int
	last         error // the latest error worth another try, named when the deadline ends the run
	endTurn      func()
}

// maxErrored is how many errored moves make the run give up before its deadline: one errored action is a
// hiccup, three in a row are a problem for a person (the droplet may be unable to take the IP).
const maxErrored = 3

func (r *run) elapsed() int64 { return time.Since(r.start).Milliseconds() }

// moveIP carries out the decisions, one step after the other, until the IP is here, the API refuses for good,
// or ctx ends.
func (r *run) moveIP(ctx context.Context) error {
	defer r.releaseTurn()
	seen := SeenIn(r.view, r.e.DropletID, r.ip)
	r.sawElsewhere = seen == Elsewhere
	d := Begin(seen)
	r.log.Debug().Str("event", "decide").Str("metadata", [...]string{"unknown", "elsewhere", "here"}[seen]).
		Str("step", d.Step.String()).Msg("first step from the metadata service")
	why, refusal := ToConfirm, error(nil)
	afterWait := Post // what a wait leads to: posting again, or reading again after a failed read
	for {
		switch d.Step {
		case Done:
			r.done()
			return nil
		case Fail:
			return d.Err
		case Read:
			info, err := r.e.API.GetIP(ctx, r.ip)
			if err != nil {
				if stop := r.stop(ctx, err); stop != nil {
					return stop
				}
				r.warn(err, "read_failed", "reading the IP failed; trying again")
				d, afterWait = Decision{Step: Wait}, Read
				continue
			}
			r.log.Debug().Str("event", "ip_read").Int("holder", info.DropletID).Bool("locked", info.Locked).
				Int64("elapsed_ms", r.elapsed()).Msg("read the IP")
			d = AfterRead(info, r.e.DropletID, r.e.Region, why, refusal)
		case Post:
			d, refusal = r.post(ctx)
			why = After422
			if r.accepted {
				why = ToVerify // the answer itself said completed
			}
		case Follow:
			d = r.follow(ctx)
			why = ToVerify
		case Wait:
			if d.Err != nil {
				r.errored++
				r.last = fmt.Errorf("action %d errored", r.action)
				if r.errored >= maxErrored {
					return fmt.Errorf("the API reported the move errored %d times (last: action %d); the droplet may be unable to take the IP", r.errored, r.action)
				}
				r.log.Warn().Str("event", "action_errored").Int("action_id", r.action).Msg("the API reports the move failed; trying again")
			}
			landed, err := r.wait(ctx)
			if err != nil {
				return err
			}
			d = Decision{Step: afterWait}
			afterWait = Post
			if landed {
				// The metadata service shows the IP here, but no move of ours is known to have landed: a lost
				// answer's move, or a stale view. One read tells.
				d, why = Decision{Step: Read}, ToConfirm
			}
		}
	}
}

func (r *run) done() {
	if !r.maybeMoved {
		r.log.Info().Str("event", "already_held").Int64("elapsed_ms", r.elapsed()).Msg("the IP is already on this droplet; nothing to do")
		return
	}
	r.log.Info().Str("event", "moved").Int("action_id", r.action).Int("posts", r.posts).Int64("elapsed_ms", r.elapsed()).
		Msg("the IP is on this droplet")
}

func (r *run) warn(err error, event, msg string) {
	r.last = err
	r.log.Warn().Err(err).Str("event", event).Int64("elapsed_ms", r.elapsed()).Msg(msg)
}

func (r *run) releaseTurn() {
	if r.endTurn != nil {
		r.endTurn()
		r.endTurn = nil
	}
}

// post takes this droplet's turn and posts the assign. An accepted move keeps the turn until it lands.
func (r *run) post(ctx context.Context) (Decision, error) {
	r.releaseTurn() // a move of ours that the API already called completed, then found overtaken
	endTurn, err := r.e.takeTurn(ctx)
	if err != nil {
		return Decision{Step: Fail, Err: r.deadline(ctx, nil)}, nil
	}
	r.endTurn = endTurn
	r.posts++
	r.log.Info().Str("event", "assign").Int("attempt", r.posts).Int64("elapsed_ms", r.elapsed()).Msg("moving the IP to this droplet")
	act, err := r.e.API.Assign(ctx, r.ip, r.e.DropletID)
	d := AfterPost(err)
	if d.Step != Follow {
		r.releaseTurn()
	}
	switch d.Step {
	case Follow:
		r.action, r.accepted, r.maybeMoved = act.ID, true, true
		r.log.Info().Str("event", "action_started").Int("action_id", act.ID).Str("status", act.Status).
			Int64("elapsed_ms", r.elapsed()).Msg("the API accepted the move")
		switch act.Status {
		case StatusCompleted:
			d = Decision{Step: Read}
		case StatusErrored:
			r.accepted = false
			d = Decision{Step: Wait, Err: errActionErrored}
		}
	case Fail:
		if stop := r.stop(ctx, err); stop != nil {
			d.Err = stop
		}
	case Wait:
		if ctx.Err() != nil {
			return Decision{Step: Fail, Err: r.deadline(ctx, err)}, nil
		}
		if errors.Is(err, doapi.ErrPendingEvent) {
			r.last = err
			r.log.Info().Err(err).Str("event", "pending_event").Msg("the IP or the droplet has a pending event; waiting")
		} else {
			r.maybeMoved = true
			r.warn(err, "assign_unknown", "no clear answer to the move; waiting, then posting again")
		}
	}
	return d, err
}

// stop returns the error to give up with when err ends the run: the deadline passed, the run was stopped, or
// err is fatal. nil means err is worth another try.
func (r *run) stop(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return r.deadline(ctx, err)
	}
	if fatal(err) {
		return giveUp(err)
	}
	return nil
}

// deadline is the error a run ends with when ctx is done.
func (r *run) deadline(ctx context.Context, last error) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		// Stopped from outside: a newer transition superseded this run, or keepalived sent SIGTERM.
		return fmt.Errorf("stopped after %d ms: %w", r.elapsed(), context.Cause(ctx))
	}
	if last == nil || errors.Is(last, context.DeadlineExceeded) || errors.Is(last, context.Canceled) {
		last = r.last
	}
	sentinel := ErrTimeout
	if r.accepted {
		sentinel = fmt.Errorf("%w (action %d)", ErrUnverified, r.action)
	}
	if last != nil && !errors.Is(last, context.DeadlineExceeded) && !errors.Is(last, context.Canceled) {
		return fmt.Errorf("%w after %d ms (last error: %v)", sentinel, r.elapsed(), last)
	}
	return fmt.Errorf("%w after %d ms", sentinel, r.elapsed())
}

// wait waits a jittered, exponentially growing time before the next POST, watching the metadata service: it
// returns early with landed set when the metadata service shows the IP here.
func (r *run) wait(ctx context.Context) (landed bool, err error) {
	r.retry++
	timer := time.NewTimer(backoff.Policy{Min: r.t.RetryMin, Max: r.t.RetryMax, Jitter: true}.Wait(r.retry))
	defer timer.Stop()
	tick, stopTick := r.metadataTicker()
	defer stopTick()
	for {
		select {
		case <-ctx.Done():
			return false, r.deadline(ctx, nil)
		case <-timer.C:
			return false, nil
		case <-tick:
			if seen, _ := r.watch(ctx); seen == Here && r.sawElsewhere {
				return true, nil
			}
		}
	}
}

// metadataTicker ticks at the metadata poll period when the metadata service watches the move.
func (r *run) metadataTicker() (<-chan time.Time, func()) {
	if r.e.Watch == nil {
		return nil, func() {}
	}
	tk := time.NewTicker(r.t.MetadataPoll)
	return tk.C, tk.Stop
}

// watch asks the watched droplet's metadata service about the IP; it notes when the IP shows elsewhere. err
// says why the answer is Unknown.
func (r *run) watch(ctx context.Context) (Seen, error) {
	// A slow answer only delays the next poll; a busy droplet's metadata reads can take a while, and taking
	// them for an outage would send the move's follow-up to the rate-limited API.
	mctx, cancel := context.WithTimeout(ctx, max(r.t.MetadataPoll*4, time.Second))
	defer cancel()
	md, err := r.e.Watch.Get(mctx)
	if err != nil {
		return Unknown, err
	}
	seen := SeenIn(md, r.e.DropletID, r.ip)
	if seen == Elsewhere {
		r.sawElsewhere = true
	}
	return seen, nil
}

// follow watches an accepted move through the metadata service until it lands. The action is read only when
// the metadata service cannot tell: it is down or describes another droplet, or it has not shown the move long
// after a real move would have landed (an errored action never shows there).
func (r *run) follow(ctx context.Context) Decision {
	log := r.log.With().Int("action_id", r.action).Logger()
	r.last = fmt.Errorf("action %d still in progress", r.action)
	tick, stopTick := r.metadataTicker()
	defer stopTick()
	// unwatched: the metadata service cannot show the move; the action is read at the ActionPolls pace.
	unwatched := tick == nil
	var downSince time.Time
	check := time.NewTimer(r.t.CheckAfter)
	if unwatched {
		check.Reset(pollWait(r.t.ActionPolls, 0))
	}
	defer check.Stop()
	polls := 1
	for {
		select {
		case <-ctx.Done():
			return Decision{Step: Fail, Err: r.deadline(ctx, nil)}
		case <-tick:
			seen, err := r.watch(ctx)
			if seen == Here && r.sawElsewhere {
				r.releaseTurn()
				log.Debug().Str("event", "metadata_says_held").Int64("elapsed_ms", r.elapsed()).Msg("the metadata service shows the IP here")
				return Decision{Step: Done}
			}
			if seen != Unknown {
				downSince, unwatched = time.Time{}, false
				continue
			}
			if downSince.IsZero() {
				downSince = time.Now()
			}
			// Down for a while, or describing another droplet: the action tells instead, at the unwatched
			// pace, while the metadata service is still asked in case it comes back.
			if !unwatched && (errors.Is(err, errNotSelf) || time.Since(downSince) >= r.t.MetadataDown) {
				unwatched = true
				log.Warn().Err(err).Str("event", "metadata_unavailable").Int64("elapsed_ms", r.elapsed()).
					Msg("the metadata service cannot show the move; following it through the API")
				check.Reset(pollWait(r.t.ActionPolls, 0))
				polls = 1
			}
		case <-check.C:
			rctx, cancel := context.WithTimeout(ctx, r.t.ReadTimeout)
			a, err := r.e.API.GetAction(rctx, r.ip, r.action)
			cancel()
			status := ""
			if err == nil {
				status = a.Status
				log.Debug().Str("event", "action_status").Str("status", status).Int64("elapsed_ms", r.elapsed()).Msg("read the action")
			} else {
				if ctx.Err() != nil {
					return Decision{Step: Fail, Err: r.deadline(ctx, err)}
				}
				// Not fatal: the move was accepted and may land whatever this read met.
				r.warn(err, "action_read_failed", "reading the action failed; still following the move")
			}
			d := AfterActionRead(status, err)
			if d.Step != Follow {
				r.releaseTurn()
				if d.Err != nil {
					r.accepted = false
				}
				return d
			}
			next := r.t.CheckEvery
			if unwatched {
				next = pollWait(r.t.ActionPolls, polls)
				polls++
			}
			// The token's window is full: another read before it frees would only be refused too.
			var ae *doapi.APIError
			if errors.As(err, &ae) && ae.Kind == doapi.KindRateLimited {
				next = max(next, ae.RetryIn)
			}
			check.Reset(next)
		}
	}
}

func pollWait(s []time.Duration, i int) time.Duration {
	if i < len(s) {
		return s[i]
	}
	return s[len(s)-1]
}
