// Package preflight finds what would break a failover before the failover: a keepalived.conf that wires
// do-fip wrongly or in a way the installed keepalived does not understand, a hook user that cannot read its
// config or write its state, a script path keepalived would refuse, a droplet, token or reserved IP the API
// would refuse, a hook whose runs leave no log, a service not listening where reserved-IP traffic arrives.
//
// Every check is read-only: it reads files, asks the metadata service and reads each reserved IP from the
// API. It never moves an IP and never writes a file (not even a log in the state dir).
package preflight

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/do-fip/do-fip/logging"
)

// Status is a check's outcome.
type Status int

// Outcomes, in increasing severity.
const (
	OK Status = iota
	Warn
	Fail
)

func (s Status) String() string {
	switch s {
	case Warn:
		return "warn"
	case Fail:
		return "FAIL"
	}
	return "ok"
}

// MarshalJSON writes the status as its word.
func (s Status) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// Result is one line of the report: what was checked, what was seen, and for a warning or a failure the fix,
// as a command to run or a config line to write.
type Result struct {
	Status Status `json:"status"`
	Check  string `json:"check"`
	Saw    string `json:"saw"`
	Fix    string `json:"fix,omitempty"`
}

// Report is every result of one run, in the order the checks ran.
type Report struct {
	Results []Result `json:"checks"`
	// Cost of the run, for the summary line.
	ElapsedMS        int64 `json:"elapsed_ms"`
	APIRequests      int64 `json:"api_requests"`
	MetadataRequests int   `json:"metadata_requests"`
}

func (r *Report) add(st Status, check, saw, fix string) {
	r.Results = append(r.Results, Result{Status: st, Check: check, Saw: oneLine(saw), Fix: oneLine(fix)})
}

func (r *Report) ok(check, format string, a ...any) { r.add(OK, check, fmt.Sprintf(format, a...), "") }

func (r *Report) warn(check, fix, format string, a ...any) {
	r.add(Warn, check, fmt.Sprintf(format, a...), fix)
}

func (r *Report) fail(check, fix, format string, a ...any) {
	r.add(Fail, check, fmt.Sprintf(format, a...), fix)
}

// Count returns how many results have the status.
func (r *Report) Count(s Status) int {
	n := 0
	for _, x := range r.Results {
		if x.Status == s {
			n++
		}
	}
	return n
}

// Failed says whether any check failed.
func (r *Report) Failed() bool { return r.Count(Fail) > 0 }

// Print writes one line per check ("FAIL  check: what was seen -- fix: ...") and a summary line.
func (r *Report) Print(w io.Writer) {
	for _, x := range r.Results {
		line := fmt.Sprintf("%-4s  %s: %s", x.Status, x.Check, x.Saw)
		if x.Fix != "" {
			line += " -- fix: " + x.Fix
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "%d FAIL, %d warn, %d ok in %d ms (%d API requests, %d metadata requests; nothing was changed)\n",
		r.Count(Fail), r.Count(Warn), r.Count(OK), r.ElapsedMS, r.APIRequests, r.MetadataRequests)
}

func oneLine(s string) string { return logging.OneLine(s, 0) }
