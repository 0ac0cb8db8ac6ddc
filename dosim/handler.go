package dosim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxBody caps request bodies; DigitalOcean's action bodies are a few dozen bytes.
const maxBody = 1 << 20

// Handler serves the API (/v2/...), the metadata service (/metadata/v1/... by source address and
// /droplets/{id}/metadata/v1/... by path), and the control API (/_sim/...).
func (s *Sim) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Sim) serveHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/_sim/"):
		s.serveControl(w, r)
	case p == "/v2" || strings.HasPrefix(p, "/v2/"):
		s.serveFaulted(w, r, false, s.serveAPI)
	case p == "/metadata" || strings.HasPrefix(p, "/metadata/") || strings.HasPrefix(p, "/droplets/"):
		s.serveFaulted(w, r, true, s.serveMetadata)
	default:
		http.NotFound(w, r)
	}
}

// served is what an inner handler reports for the request log.
type served struct {
	tokenValid bool
}

// serveFaulted applies the first matching fault, runs inner unless the fault answers instead, and logs.
func (s *Sim) serveFaulted(w http.ResponseWriter, r *http.Request, metadata bool,
	inner func(http.ResponseWriter, *http.Request, []byte, string) served) {
	reqID := newRequestID()
	// Every answer carries the server's Date, as DigitalOcean's do; clients can measure ratelimit-reset
	// against it instead of against their own clock.
	stamp := func() { w.Header().Set("Date", s.clock().UTC().Format(http.TimeFormat)) }
	stamp()
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
	entry := Request{Time: s.clock(), Method: r.Method, Path: r.URL.Path, Metadata: metadata, RequestID: reqID}
	if len(body) > 0 {
		entry.Body = string(body)
	}
	logged := false
	defer func() {
		if !logged {
			s.logRequest(entry)
		}
	}()
	// Connection faults log before closing, so the entry exists by the time the client sees the close.
	logThenAbort := func() {
		logged = true
		s.logRequest(entry)
		abort(w)
	}

	f := s.takeFault(metadata, r.Method, r.URL.Path)
	if f == nil {
		sw := &statusWriter{ResponseWriter: w}
		entry.TokenValid = inner(sw, r, body, reqID).tokenValid
		entry.Status = sw.code()
		return
	}
	if f.Delay > 0 {
		entry.Fault = "delay"
		if !sleepCtx(r.Context(), f.Delay) {
			entry.Fault = "delay-cancelled"
			return
		}
		stamp()
	}
	switch {
	case f.Reset:
		entry.Fault = "reset"
		logThenAbort()
	case f.LoseResponse:
		entry.Fault = "lose-response"
		rec := &recorder{header: http.Header{}}
		entry.TokenValid = inner(rec, r, body, reqID).tokenValid
		entry.Status = rec.code()
		logThenAbort()
	case f.HTML:
		entry.Fault = "html"
		entry.Status = f.Status
		if entry.Status == 0 {
			entry.Status = http.StatusBadGateway
		}
		writeHTMLError(w, entry.Status, f.RetryAfter)
	case f.Garbage:
		entry.Fault = "garbage"
		entry.Status = http.StatusOK
		writeGarbage(w, metadata, reqID)
	case f.Status != 0:
		entry.Fault = "status"
		entry.Status = f.Status
		s.writeFaultStatus(w, metadata, f, reqID)
	default:
		sw := &statusWriter{ResponseWriter: w}
		entry.TokenValid = inner(sw, r, body, reqID).tokenValid
		entry.Status = sw.code()
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// abort closes the client's connection without an answer. It needs an HTTP/1 connection that can be hijacked;
// on other transports it answers 500 instead.
func abort(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "server_error", "connection reset is not supported on this transport", "")
		return
	}
	_ = conn.Close()
}

// errorIDs and messages are DigitalOcean's error bodies by status.
var errorIDs = map[int][2]string{
	400: {"bad_request", "The request could not be understood."},
	401: {"unauthorized", "Unable to authenticate you."},
	403: {"forbidden", "You do not have access for the attempted action."},
	404: {"not_found", "The resource you requested could not be found."},
	409: {"conflict", "The request conflicts with the current state of the resource."},
	422: {"unprocessable_entity", "The request could not be processed."},
	429: {"too_many_requests", "API rate limit exceeded."},
	500: {"server_error", "Server was unable to give you a response."},
	502: {"bad_gateway", "Bad gateway."},
	503: {"service_unavailable", "The service is temporarily unavailable."},
	504: {"gateway_timeout", "Gateway timeout."},
}

func errorFor(status int) (id, msg string) {
	if e, ok := errorIDs[status]; ok {
		return e[0], e[1]
	}
	return "error", http.StatusText(status)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, id, msg, reqID string) {
	writeJSON(w, status, errorJSON{ID: id, Message: msg, RequestID: reqID})
}

func (s *Sim) writeFaultStatus(w http.ResponseWriter, metadata bool, f *Fault, reqID string) {
	if f.RetryAfter > 0 && (f.Status == http.StatusTooManyRequests || f.Status == http.StatusServiceUnavailable) {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
	}
	if metadata {
		// The metadata service answers in plain text.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(f.Status)
		_, _ = io.WriteString(w, http.StatusText(f.Status)+"\n")
		return
	}
	w.Header().Set("X-Request-Id", reqID)
	if f.Status == http.StatusTooManyRequests {
		s.mu.Lock()
		now := s.clock()
		s.mu.Unlock()
		s.setRateHeaders(w.Header(), rateResult{remaining: 0, reset: now.Add(time.Minute)})
	}
	id, msg := errorFor(f.Status)
	writeError(w, f.Status, id, msg, reqID)
}

// writeHTMLError imitates the page a proxy in front of the API serves when the API behind it fails.
func writeHTMLError(w http.ResponseWriter, status, retryAfter int) {
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	}
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(status)
	text := strconv.Itoa(status) + " " + http.StatusText(status)
	_, _ = io.WriteString(w, "<html>\r\n<head><title>"+text+"</title></head>\r\n<body>\r\n<center><h1>"+text+
		"</h1></center>\r\n</body>\r\n</html>\r\n")
}

// writeGarbage answers 200 with a body cut off mid-object, as a proxy that lost the upstream might.
func writeGarbage(w http.ResponseWriter, metadata bool, reqID string) {
	if metadata {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "<!DOCTYPE html>\x00\x01garbage")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Request-Id", reqID)
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, `{"reserved_ip":{"ip":"203.0.`)
}

// statusWriter remembers the status an inner handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// recorder collects an answer that will never be sent (LoseResponse).
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *recorder) code() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}
