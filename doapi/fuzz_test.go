package doapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// FuzzAPIAnswer answers every request with a fuzzed status, content type and body, and reads a reserved IP,
// posts an assign and reads an action through the client. Whatever DigitalOcean (or a proxy in front of it)
// answers, the client returns a result that fits the question, or an error on one bounded line that names what
// was asked and never shows the token.
func FuzzAPIAnswer(f *testing.F) {
	for _, seed := range []struct {
		status uint16
		ctype  string
		body   string
	}{
		{200, "application/json; charset=utf-8", reservedIPAssigned},
		{200, "application/json", reservedIPUnassignedLocked},
		{200, "application/json", strings.Replace(reservedIPAssigned, `"ip": "203.0.113.10"`, `"ip": "2001:db8:10::10"`, 1)},
		{201, "application/json", actionInProgress},
		{200, "application/json", strings.Replace(actionCompleted, "72531856", "7", 1)},
		{200, "application/json", `{"action":{}}`},
		{200, "application/json", `{"action":{"id":-1,"status":"completed"}}`},
		{401, "application/json", errBody("unauthorized", "Unable to authenticate you.")},
		{403, "application/json", errBody("forbidden", "You do not have access for the attempted action.")},
		{422, "application/json", errBody("unprocessable_entity", "The floating IP already has a pending event.")},
		{429, "application/json", errBody("too_many_requests", "API rate limit exceeded.")},
		{500, "application/json", errBody("server_error", "Server was unable to give you a response.\n\tline two")},
		{502, "text/html", htmlBadGateway},
		{200, "application/json", `{"reserved_ip":{"ip":"203.0.`},
		{404, "", ""},
		{200, "application/json", `{"reserved_ip":null}`},
		{200, "application/json", "\x00\xff" + testToken},
	} {
		f.Add(seed.status, seed.ctype, []byte(seed.body))
	}

	var (
		mu     sync.Mutex
		status int
		ctype  string
		body   []byte
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if ctype != "" {
			w.Header().Set("Content-Type", ctype)
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	c, err := New(Options{Token: testToken, BaseURL: srv.URL, AllowInsecure: true, RetryMax: -1,
		AttemptTimeout: 5 * time.Second})
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, st uint16, ct string, b []byte) {
		mu.Lock()
		status, ctype, body = int(st), ct, b
		if status < 200 || status > 599 {
			status = 200 + status%400
		}
		code := status
		mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()

		check := func(op string, err error) {
			t.Helper()
			msg := err.Error()
			if !strings.HasPrefix(msg, op+": ") {
				t.Fatalf("error does not name what was asked (%s): %q", op, msg)
			}
			if strings.ContainsAny(msg, "\n\r") || len(msg) > 1000 {
				t.Fatalf("error is not one bounded line: %q", msg)
			}
			if strings.Contains(msg, testToken) {
				t.Fatalf("error shows the token: %q", msg)
			}
			var ae *APIError
			if code >= 300 && !errors.As(err, &ae) {
				t.Fatalf("status %d gave a %T, want an *APIError: %v", code, err, err)
			}
		}

		ip, err := c.GetIP(ctx, ip4)
		switch {
		case err != nil:
			check("get 203.0.113.10", err)
		case code >= 300:
			t.Fatalf("status %d read as success: %+v", code, ip)
		case ip.Addr != ip4:
			t.Fatalf("read %v for %v", ip.Addr, ip4)
		}

		a, err := c.Assign(ctx, ip4, 1001)
		switch {
		case err != nil:
			check("assign 203.0.113.10 to droplet 1001", err)
		case code >= 300:
			t.Fatalf("status %d read as success: %+v", code, a)
		case a.ID <= 0:
			t.Fatalf("assign answered action %d, which cannot be followed", a.ID)
		}

		a, err = c.GetAction(ctx, ip4, 7)
		switch {
		case err != nil:
			check("get action 7 of 203.0.113.10", err)
		case code >= 300:
			t.Fatalf("status %d read as success: %+v", code, a)
		case a.ID != 7:
			t.Fatalf("asked for action 7, got action %d", a.ID)
		}
	})
}
