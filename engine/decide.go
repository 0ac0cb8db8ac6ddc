package engine

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/do-fip/do-fip/doapi"
	"github.com/do-fip/do-fip/metadata"
)

// The engine's decisions are plain functions of what the metadata service and the API said; Engine carries
// them out. Each names the next step.

// Step is what the engine does next.
type Step int

const (
	// Post asks the API to assign the IP here.
	Post Step = iota
	// Read reads the IP from the API: to confirm what the metadata service says, or to settle a 422.
	Read
	// Follow watches an accepted move until it lands.
	Follow
	// Wait waits (watching the metadata service), then posts again.
	Wait
	// Done: the IP is here.
	Done
	// Fail gives up with an error.
	Fail
)

func (s Step) String() string {
	return [...]string{"post", "read", "follow", "wait", "done", "fail"}[s]
}

// Seen is what the metadata service says about one IP.
type Seen int

const (
	// Unknown: the metadata service did not answer, or describes another droplet.
	Unknown Seen = iota
	// Elsewhere: this droplet does not hold the IP.
	Elsewhere
	// Here: this droplet holds the IP. The metadata service may lag a move away, so the API confirms it.
	Here
)

// SeenIn reads what md says about ip for droplet self: only the field of the IP's own family counts, and only
// when md describes self.
func SeenIn(md *metadata.Metadata, self int, ip netip.Addr) Seen {
	if md == nil || md.DropletID != self {
		return Unknown
	}
	held := md.ReservedIPv4
	if ip.Is6() {
		held = md.ReservedIPv6
	}
	if got, err := netip.ParseAddr(held.IP); held.Active && err == nil && got == ip {
		return Here
	}
	return Elsewhere
}

// Decision is a step and, for Done and Fail, its result.
type Decision struct {
	Step Step
	Err  error // with Fail
}

// Begin decides the first step from the metadata service: an IP shown here is confirmed by one API read (the
// metadata service may still show a move away that has happened), anything else is posted at once. The POST's
// own answer settles the rest: a 422 says the IP is already here or a move is pending, a 404 sends it to the
// old endpoint, and a region mismatch refuses it, so no read is spent before it.
func Begin(seen Seen) Decision {
	if seen == Here {
		return Decision{Step: Read}
	}
	return Decision{Step: Post}
}

// ReadFor says why the IP was read, which decides what a holder elsewhere means.
type ReadFor int

const (
	// ToConfirm: the metadata service showed the IP here. Elsewhere means it lags; post.
	ToConfirm ReadFor = iota
	// After422: the POST met a 422 other than a pending event. Elsewhere means the API refuses for good.
	After422
	// ToVerify: the API says the move completed, but the metadata service has not shown it. Elsewhere means
	// another move overtook ours; post again.
	ToVerify
)

// AfterRead decides from the IP as the API reads it. refusal is the 422 that led to an After422 read.
func AfterRead(info *doapi.IP, self int, region string, why ReadFor, refusal error) Decision {
	if region != "" && info.Region != "" && info.Region != region {
		return Decision{Step: Fail, Err: fmt.Errorf("%w: the IP is in region %s and the droplet in %s; a reserved IP can only move within its region", ErrRefused, info.Region, region)}
	}
	switch {
	case info.DropletID == self && !info.Locked:
		return Decision{Step: Done}
	case info.Locked:
		// An action is pending on the IP (another node's move, or one of ours whose answer was lost): a POST
		// now would only meet a 422.
		return Decision{Step: Wait}
	case why == After422:
		return Decision{Step: Fail, Err: fmt.Errorf("%w: %w", ErrRefused, refusal)}
	}
	return Decision{Step: Post}
}

// AfterPost decides from the POST's answer.
func AfterPost(err error) Decision {
	switch {
	case err == nil:
		return Decision{Step: Follow}
	case errors.Is(err, doapi.ErrPendingEvent):
		// The IP or the droplet has an action in progress (another node's move, another droplet action, or our
		// own move whose answer was lost): it clears by itself.
		return Decision{Step: Wait}
	case errors.Is(err, doapi.ErrUnprocessable):
		// Assigning the IP to its holder is a 422 too: one read tells whether it is here after all.
		return Decision{Step: Read}
	case fatal(err):
		return Decision{Step: Fail, Err: giveUp(err)}
	}
	// The outcome is unknown (connection lost, 5xx): the POST may have been done. Posting again after a wait
	// is safe: DigitalOcean answers a 422 while our move is pending or once the IP is here, and the metadata
	// service, watched during the wait, shows a move that landed.
	return Decision{Step: Wait}
}

// Action statuses as DigitalOcean spells them.
const (
	StatusCompleted = "completed"
	StatusErrored   = "errored"
)

// AfterActionRead decides from a read of the accepted move's action while following it. A read that failed
// (429, 5xx, the 404 DigitalOcean answers right after an assign, above all for IPv6) changes nothing: the move
// is still followed.
func AfterActionRead(status string, err error) Decision {
	switch {
	case err != nil:
		return Decision{Step: Follow}
	case status == StatusCompleted:
		return Decision{Step: Read}
	case status == StatusErrored:
		return Decision{Step: Wait, Err: errActionErrored}
	}
	return Decision{Step: Follow}
}

var errActionErrored = errors.New("the API reports the move errored")

// fatal says whether an API error ends the run: asking again will not change it.
func fatal(err error) bool {
	return errors.Is(err, doapi.ErrUnauthorized) || errors.Is(err, doapi.ErrForbidden) ||
		errors.Is(err, doapi.ErrCertificate) || errors.Is(err, doapi.ErrUnexpected) ||
		errors.Is(err, doapi.ErrNotFound) ||
		// doapi returns a 429 only when waiting for the limit to reset would pass the deadline.
		errors.Is(err, doapi.ErrRateLimited)
}

// giveUp is the error a fatal API error ends the run with.
func giveUp(err error) error {
	if errors.Is(err, doapi.ErrNotFound) {
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	return err
}
