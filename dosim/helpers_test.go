package dosim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a test clock: time moves only when a test says so.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var epoch = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

type fixture struct {
	sim *Sim
	srv *httptest.Server
	clk *clock
}

// newFixture starts a simulator of the demo world (changed by edit) behind a real HTTP server, on a clock
// the test controls.
func newFixture(t *testing.T, edit func(*World)) *fixture {
	t.Helper()
	w := DemoWorld()
	w.ReadOnlyTokens = []string{"read-only-token"}
	if edit != nil {
		edit(&w)
	}
	s, err := New(w)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	clk := &clock{t: epoch}
	s.now = clk.Now
	s.started = epoch
	for _, ip := range s.ips {
		ip.created = epoch
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &fixture{sim: s, srv: srv, clk: clk}
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (f *fixture) do(t *testing.T, method, path, token, body string) reply {
	t.Helper()
	r, err := f.try(method, path, token, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

func (f *fixture) try(method, path, token, body string) (reply, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		return reply{}, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	// A fresh connection per request: the transport silently retries a GET that failed on a reused
	// connection, which would hide the connection faults under test.
	client := &http.Client{
		Transport:     &http.Transport{DisableKeepAlives: true},
		Timeout:       5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// get and post use the demo token.
func (f *fixture) get(t *testing.T, path string) reply {
	t.Helper()
	return f.do(t, http.MethodGet, path, DemoToken, "")
}

func (f *fixture) post(t *testing.T, path, body string) reply {
	t.Helper()
	return f.do(t, http.MethodPost, path, DemoToken, body)
}

// wantJSON compares JSON documents by value, so key order and spacing do not matter but every field does.
func wantJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("answer is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("test's expected JSON is broken: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		var gi, wi bytes.Buffer
		_ = json.Indent(&gi, got, "", "  ")
		_ = json.Indent(&wi, []byte(want), "", "  ")
		t.Fatalf("JSON differs\ngot:\n%s\nwant:\n%s", gi.String(), wi.String())
	}
}

// wantError checks DigitalOcean's error body and that its request_id matches the x-request-id header.
func wantError(t *testing.T, r reply, status int, id, message string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	var e struct {
		ID        string `json:"id"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body is not JSON: %v: %s", err, r.body)
	}
	if e.ID != id || e.Message != message {
		t.Fatalf("error {%q, %q}, want {%q, %q}", e.ID, e.Message, id, message)
	}
	if e.RequestID == "" || e.RequestID != r.header.Get("X-Request-Id") {
		t.Fatalf("request_id %q, x-request-id header %q: want equal and non-empty", e.RequestID, r.header.Get("X-Request-Id"))
	}
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %T: %v\n%s", v, err, b)
	}
	return v
}

// actionID posts an assign and returns the new action's id.
func (f *fixture) assign(t *testing.T, kind, ip string, droplet int) int {
	t.Helper()
	r := f.post(t, "/v2/"+kind+"/"+ip+"/actions", `{"type":"assign","droplet_id":`+itoaT(droplet)+`}`)
	if r.status != http.StatusCreated {
		t.Fatalf("assign %s to %d: status %d: %s", ip, droplet, r.status, r.body)
	}
	return decode[struct {
		Action struct {
			ID int `json:"id"`
		} `json:"action"`
	}](t, r.body).Action.ID
}

func itoaT(n int) string { b, _ := json.Marshal(n); return string(b) }

func newServer(t *testing.T, s *Sim) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv
}
