package dosim

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Fault changes how matching requests are answered. It applies to the next Times matching requests, or until
// ClearFaults when Times is 0. Faults sit in front of the API, like a load balancer or a network would: they
// are checked before authentication and rate limiting, and a faulted request does not count against the limit.
// When several faults match, the one added first applies.
type Fault struct {
	Metadata bool   // match metadata requests instead of API requests
	Method   string // "" matches any method
	Path     string // prefix of the URL path; "" matches any path
	Times    int
	// Skip lets the first Skip matching requests through untouched before the fault applies: a metadata
	// service that answers the hook's first read and then goes down.
	Skip int

	Status     int  // answer this status with DigitalOcean's error body for it; 429 adds rate-limit headers
	RetryAfter int  // seconds, sent as retry-after on 429 and 503
	HTML       bool // answer an HTML error page (Status, or 502) like a proxy in front of the API
	Garbage    bool // answer 200 with a body that is not what the endpoint returns; nothing is processed
	// Delay holds the answer back; the request is then handled as the other fields say. A client that gives up
	// first cancels the request and nothing is processed.
	Delay        time.Duration
	Reset        bool // close the connection before processing anything
	LoseResponse bool // process the request fully, then close the connection without answering
}

// ActionFault changes the next Times actions created (all, until ClearFaults, when Times is 0).
type ActionFault struct {
	Times       int
	Outcome     string        // "" completes normally; OutcomeErrored or OutcomeStuck
	NotFoundFor time.Duration // a GET of the new action answers 404 for this long after it was created
	Latency     time.Duration // overrides the action latency when positive
}

type faultState struct {
	Fault
	left int // matches left; -1 for unlimited
	skip int // matches still to let through
}

type actionFaultState struct {
	ActionFault
	left int
}

// AddFault installs a fault.
func (s *Sim) AddFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultState{Fault: f, left: timesLeft(f.Times), skip: max(f.Skip, 0)})
}

// AddActionFault installs an action fault.
func (s *Sim) AddActionFault(f ActionFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.actionFaults = append(s.actionFaults, &actionFaultState{ActionFault: f, left: timesLeft(f.Times)})
}

// ClearFaults removes all request faults and action faults.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
	s.actionFaults = nil
}

func timesLeft(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

// takeFault returns the first fault matching the request and uses up one of its times.
func (s *Sim) takeFault(metadata bool, method, path string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Metadata != metadata || (f.Method != "" && !strings.EqualFold(f.Method, method)) ||
			!strings.HasPrefix(path, f.Path) {
			continue
		}
		if f.skip > 0 {
			f.skip--
			return nil
		}
		got := f.Fault
		if f.left > 0 {
			f.left--
			if f.left == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return &got
	}
	return nil
}

// takeActionFault uses up one time of the first action fault. Callers hold s.mu.
func (s *Sim) takeActionFault() *ActionFault {
	if len(s.actionFaults) == 0 {
		return nil
	}
	f := s.actionFaults[0]
	got := f.ActionFault
	if f.left > 0 {
		f.left--
		if f.left == 0 {
			s.actionFaults = s.actionFaults[1:]
		}
	}
	return &got
}

// faultJSON is Fault's wire form for the control API; durations are strings such as "1.5s".
type faultJSON struct {
	Metadata     bool   `json:"metadata,omitempty"`
	Method       string `json:"method,omitempty"`
	Path         string `json:"path,omitempty"`
	Times        int    `json:"times,omitempty"`
	Skip         int    `json:"skip,omitempty"`
	Status       int    `json:"status,omitempty"`
	RetryAfter   int    `json:"retry_after,omitempty"`
	HTML         bool   `json:"html,omitempty"`
	Garbage      bool   `json:"garbage,omitempty"`
	Delay        string `json:"delay,omitempty"`
	Reset        bool   `json:"reset,omitempty"`
	LoseResponse bool   `json:"lose_response,omitempty"`
}

// MarshalJSON writes the control API form.
func (f Fault) MarshalJSON() ([]byte, error) {
	j := faultJSON{Metadata: f.Metadata, Method: f.Method, Path: f.Path, Times: f.Times, Skip: f.Skip, Status: f.Status,
		RetryAfter: f.RetryAfter, HTML: f.HTML, Garbage: f.Garbage, Reset: f.Reset, LoseResponse: f.LoseResponse}
	if f.Delay != 0 {
		j.Delay = f.Delay.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the control API form.
func (f *Fault) UnmarshalJSON(b []byte) error {
	var j faultJSON
	if err := strictUnmarshal(b, &j); err != nil {
		return err
	}
	d, err := parseDuration("delay", j.Delay)
	if err != nil {
		return err
	}
	*f = Fault{Metadata: j.Metadata, Method: j.Method, Path: j.Path, Times: j.Times, Skip: j.Skip, Status: j.Status,
		RetryAfter: j.RetryAfter, HTML: j.HTML, Garbage: j.Garbage, Delay: d, Reset: j.Reset,
		LoseResponse: j.LoseResponse}
	return nil
}

type actionFaultJSON struct {
	Times       int    `json:"times,omitempty"`
	Outcome     string `json:"outcome,omitempty"`
	NotFoundFor string `json:"not_found_for,omitempty"`
	Latency     string `json:"latency,omitempty"`
}

// MarshalJSON writes the control API form.
func (f ActionFault) MarshalJSON() ([]byte, error) {
	j := actionFaultJSON{Times: f.Times, Outcome: f.Outcome}
	if f.NotFoundFor != 0 {
		j.NotFoundFor = f.NotFoundFor.String()
	}
	if f.Latency != 0 {
		j.Latency = f.Latency.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the control API form.
func (f *ActionFault) UnmarshalJSON(b []byte) error {
	var j actionFaultJSON
	if err := strictUnmarshal(b, &j); err != nil {
		return err
	}
	switch j.Outcome {
	case "", OutcomeErrored, OutcomeStuck:
	default:
		return fmt.Errorf("outcome %q: want %q or %q", j.Outcome, OutcomeErrored, OutcomeStuck)
	}
	nf, err := parseDuration("not_found_for", j.NotFoundFor)
	if err != nil {
		return err
	}
	lat, err := parseDuration("latency", j.Latency)
	if err != nil {
		return err
	}
	*f = ActionFault{Times: j.Times, Outcome: j.Outcome, NotFoundFor: nf, Latency: lat}
	return nil
}
