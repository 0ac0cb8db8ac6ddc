package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/do-fip/do-fip/config"
	"github.com/do-fip/do-fip/doapi"
	"github.com/do-fip/do-fip/engine"
	"github.com/do-fip/do-fip/logging"
	"github.com/do-fip/do-fip/metadata"
	"github.com/do-fip/do-fip/state"
)

// Exit codes. keepalived ignores a hook's exit status, but people and monitoring do not: these are stable and
// documented in the README, the man page and --help.
const (
	ExitOK          = 0  // done, or nothing to do
	ExitAPI         = 1  // API failure not covered below
	ExitUsage       = 2  // bad arguments; nothing was done
	ExitConfig      = 3  // bad configuration, token or state dir; nothing was done
	ExitAuth        = 4  // the API refused the token (401) or its scopes (403)
	ExitRefused     = 5  // IP not found, region mismatch, or the droplet cannot take the IP
	ExitTimeout     = 6  // the deadline passed and no move was accepted
	ExitMetadata    = 7  // the metadata service could not tell this droplet's ID
	ExitSuperseded  = 8  // a newer keepalived transition on this node took over
	ExitUnverified  = 9  // the API accepted the move, but it was not seen to land before the deadline
	ExitCheckFailed = 10 // do-fip check: at least one check FAILed
)

// exitCodes is the table shown in --help, the man page and the README.
var exitCodes = []struct {
	code    int
	meaning string
}{
	{ExitOK, "done, or nothing to do (the IP was already here)"},
	{ExitAPI, "API failure (unexpected answer, action errored every time)"},
	{ExitUsage, "usage error: bad arguments or IP; nothing was done"},
	{ExitConfig, "configuration error: config file, token, permissions, insecure URL, state dir; nothing was done"},
	{ExitAuth, "authentication or permission: the token is invalid (401) or lacks a scope (403)"},
	{ExitRefused, "refused: IP not found, region mismatch, or the droplet cannot take the IP"},
	{ExitTimeout, "timeout: the deadline passed and no move was accepted"},
	{ExitMetadata, "metadata service unavailable: this droplet's ID is unknown (use --droplet-id)"},
	{ExitSuperseded, "superseded: a newer keepalived transition on this node took over"},
	{ExitUnverified, "unverified: the API accepted the move, but the deadline passed before it was seen to land (it may still complete)"},
	{ExitCheckFailed, "do-fip check: at least one check FAILed (each FAIL line names its fix)"},
}

func exitCodesHelp() string {
	var b strings.Builder
	b.WriteString("EXIT CODES:")
	for _, e := range exitCodes {
		fmt.Fprintf(&b, "\n   %2d  %s", e.code, e.meaning)
	}
	return b.String()
}

// exitError carries an exit code and an optional hint for a person. shown: the command's own output already
// says it, so Run logs it without printing it again.
type exitError struct {
	code  int
	err   error
	hint  string
	shown bool
}

// shownByCommand says whether err is one the command's own output already showed.
func shownByCommand(err error) bool {
	var ee *exitError
	return errors.As(err, &ee) && ee.shown
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, a ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, a...)}
}

// ErrSuperseded: a newer transition on this node took over this run.
var ErrSuperseded = errors.New("superseded by a newer keepalived transition")

// exitCode maps an error to the documented exit code.
func exitCode(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, ErrSuperseded):
		return ExitSuperseded
	case errors.Is(err, doapi.ErrUnauthorized), errors.Is(err, doapi.ErrForbidden):
		return ExitAuth
	case errors.Is(err, engine.ErrRefused), errors.Is(err, doapi.ErrNotFound), errors.Is(err, doapi.ErrUnprocessable):
		return ExitRefused
	case errors.Is(err, engine.ErrUnverified):
		return ExitUnverified
	case errors.Is(err, engine.ErrTimeout):
		return ExitTimeout
	// Before DeadlineExceeded: a metadata request that timed out (its own 2 s, or the run's deadline) still
	// leaves the droplet's ID unknown, and --droplet-id is the way out.
	case errors.Is(err, metadata.ErrUnavailable):
		return ExitMetadata
	case errors.Is(err, context.DeadlineExceeded):
		return ExitTimeout
	case errors.Is(err, config.ErrInvalid), errors.Is(err, config.ErrSyntax), errors.Is(err, config.ErrNoToken),
		errors.Is(err, config.ErrInsecureFile), errors.Is(err, state.ErrUnusable), errors.Is(err, config.ErrInsecureURL):
		return ExitConfig
	}
	return ExitAPI
}

// hintFor returns a one-line suggestion for a person, or "".
func hintFor(err error) string {
	var ee *exitError
	if errors.As(err, &ee) && ee.hint != "" {
		return ee.hint
	}
	if h := doapi.Hint(err); h != "" {
		return h
	}
	switch {
	case errors.Is(err, metadata.ErrUnavailable):
		return "is this a droplet? the metadata service answers only on DigitalOcean; pass --droplet-id (or DO_FIP_DROPLET_ID) to skip it"
	case errors.Is(err, engine.ErrUnverified):
		return "the move may still complete; run 'do-fip status' to see who holds the IP, and raise --timeout if actions are slow"
	case errors.Is(err, engine.ErrTimeout):
		return "nothing was moved; run 'do-fip status' to see who holds the IP and the rate limit, and raise --timeout if the API is slow"
	case errors.Is(err, config.ErrNoToken):
		return "create a token with the reserved_ip:read, reserved_ip:update and actions:read scopes"
	}
	return ""
}

// oneLine keeps an error on one line: keepalived users read it in syslog.
func oneLine(s string) string { return logging.OneLine(s, 0) }
