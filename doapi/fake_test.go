package doapi

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/do-fip/do-fip/internal/testio"
)

// testToken looks like a real personal access token so that a leak would be
// found by a plain substring search.
const testToken = "dop_v1_0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab"

// Bodies below keep the shapes of DigitalOcean's OpenAPI examples
// (github.com/digitalocean/openapi), trimmed of fields nobody reads.

const reservedIPAssigned = `{
  "reserved_ip": {
    "ip": "203.0.113.10",
    "droplet": {
      "id": 1001, "name": "lb-a", "memory": 1024, "vcpus": 1, "disk": 25, "locked": false,
      "status": "active", "kernel": null, "created_at": "2026-01-21T18:37:44Z",
      "features": ["monitoring", "ipv6"], "backup_ids": [], "snapshot_ids": [], "volume_ids": [],
      "size_slug": "s-1vcpu-1gb", "tags": [], "vpc_uuid": "760e09ef-dc84-11e8-981e-3cfdfeaae000",
      "region": {"name": "New York 3", "slug": "nyc3", "features": ["metadata"], "available": true, "sizes": []}
    },
    "region": {
      "name": "New York 3", "slug": "nyc3",
      "features": ["private_networking", "backups", "ipv6", "metadata", "install_agent", "storage", "image_transfer"],
      "available": true, "sizes": ["s-1vcpu-1gb", "s-1vcpu-2gb"]
    },
    "locked": false,
    "project_id": "746c6152-2fa2-11ed-92d3-27aaa54e4988"
  }
}`

const reservedIPUnassignedLocked = `{
  "reserved_ip": {
    "ip": "203.0.113.10",
    "droplet": null,
    "region": {"name": "New York 3", "slug": "nyc3", "features": ["metadata"], "available": true, "sizes": []},
    "locked": true,
    "project_id": "746c6152-2fa2-11ed-92d3-27aaa54e4988"
  }
}`

const floatingIPAssigned = `{
  "floating_ip": {
    "ip": "203.0.113.10",
    "droplet": {"id": 1002, "name": "lb-b", "status": "active"},
    "region": {"name": "New York 3", "slug": "nyc3", "features": ["metadata"], "available": true, "sizes": []},
    "locked": false,
    "project_id": "746c6152-2fa2-11ed-92d3-27aaa54e4988"
  }
}`

const reservedIPv6Assigned = `{
  "reserved_ipv6": {
    "ip": "2001:db8:10::10",
    "region_slug": "nyc3",
    "reserved_at": "2026-02-10T11:08:30Z",
    "droplet": {"id": 1002, "name": "lb-b", "status": "active"}
  }
}`

const actionInProgress = `{
  "action": {
    "id": 72531856,
    "status": "in-progress",
    "type": "assign_ip",
    "started_at": "2026-11-25T17:51:03Z",
    "completed_at": null,
    "resource_id": 3405803786,
    "resource_type": "reserved_ip",
    "region": {"name": "New York 3", "slug": "nyc3", "features": ["metadata"], "available": true, "sizes": []},
    "region_slug": "nyc3"
  }
}`

const actionCompleted = `{
  "action": {
    "id": 72531856,
    "status": "completed",
    "type": "assign_ip",
    "started_at": "2026-11-25T17:51:03Z",
    "completed_at": "2026-11-25T17:51:14Z",
    "resource_id": 3405803786,
    "resource_type": "reserved_ip",
    "region": null,
    "region_slug": "nyc3"
  }
}`

func errBody(id, msg string) string {
	return fmt.Sprintf(`{"id":%q,"message":%q,"request_id":"9f1c2d3e-5b6a-4c7d-8e9f-0a1b2c3d4e5f"}`, id, msg)
}

const htmlBadGateway = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"

// reply is one canned answer.
type reply struct {
	status  int
	body    string
	ctype   string            // default application/json
	headers map[string]string // extra headers
	hang    bool              // never answer (until the client gives up)
	drop    bool              // close the connection without an answer
	check   func(t *testing.T, r *http.Request, body []byte)
}

// fakeDO answers only the routes it was given, in order (the last answer of a
// route repeats); any other request fails the test. Every request must carry
// the bearer token and our user agent.
type fakeDO struct {
	t   *testing.T
	srv *httptest.Server

	mu     sync.Mutex
	routes map[string][]reply
	hits   map[string]int
}

const testUA = "do-fip/test"

func newFake(t *testing.T, routes map[string][]reply) *fakeDO {
	t.Helper()
	f := &fakeDO{t: t, routes: routes, hits: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeDO) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	key := r.Method + " " + r.URL.Path
	f.mu.Lock()
	replies, ok := f.routes[key]
	n := f.hits[key]
	f.hits[key]++
	f.mu.Unlock()
	if !ok {
		f.t.Errorf("unexpected request %s", key)
		http.Error(w, "unexpected", http.StatusTeapot)
		return
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
		f.t.Errorf("%s: Authorization header is not the bearer token", key)
	}
	// godo appends its own name to ours.
	if got := r.Header.Get("User-Agent"); !strings.HasPrefix(got, testUA+" ") {
		f.t.Errorf("%s: User-Agent = %q, want it to start with %q", key, got, testUA)
	}
	rep := replies[min(n, len(replies)-1)]
	if rep.check != nil {
		rep.check(f.t, r, body)
	}
	switch {
	case rep.hang:
		<-r.Context().Done()
		return
	case rep.drop:
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	ct := rep.ctype
	if ct == "" {
		ct = "application/json; charset=utf-8"
	}
	w.Header().Set("Content-Type", ct)
	for k, v := range rep.headers {
		w.Header().Set(k, v)
	}
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)
}

func (f *fakeDO) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[key]
}

// client builds a client for the fake with millisecond waits and a debug
// logger whose output the test can read.
func (f *fakeDO) client(mod ...func(*Options)) (*Client, *testio.Buffer) {
	f.t.Helper()
	logs := &testio.Buffer{}
	o := Options{
		Token:         testToken,
		BaseURL:       f.srv.URL,
		AllowInsecure: true,
		UserAgent:     testUA,
		Logger:        zerolog.New(logs).Level(zerolog.DebugLevel),
		RetryWaitMin:  time.Millisecond,
		RetryWaitMax:  4 * time.Millisecond,
	}
	for _, m := range mod {
		m(&o)
	}
	c, err := New(o)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() {
		if strings.Contains(logs.String(), testToken) {
			f.t.Errorf("the token appears in the log")
		}
	})
	return c, logs
}
