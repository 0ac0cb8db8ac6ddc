package dosim

import (
	"net/http"
	"strings"
	"testing"
)

func TestScopedTokens(t *testing.T) {
	f := newFixture(t, func(w *World) {
		w.ScopedTokens = map[string][]string{
			"no-ip-read": {"actions:read", "droplet:read"},
			"ip-read":    {"reserved_ip:read", "actions:read"},
			"mover":      {"reserved_ip:read", "reserved_ip:update", "actions:read", "droplet:read"},
		}
	})
	tests := []struct {
		token, method, path, body string
		want                      int
	}{
		{"no-ip-read", "GET", "/v2/reserved_ips/203.0.113.10", "", http.StatusForbidden},
		{"no-ip-read", "GET", "/v2/reserved_ipv6/2001:db8:10::10", "", http.StatusForbidden},
		{"no-ip-read", "GET", "/v2/droplets/1001", "", http.StatusOK},
		{"ip-read", "GET", "/v2/reserved_ips/203.0.113.10", "", http.StatusOK},
		{"ip-read", "GET", "/v2/floating_ips/203.0.113.10", "", http.StatusOK},
		{"ip-read", "GET", "/v2/droplets/1001", "", http.StatusForbidden},
		{"ip-read", "GET", "/v2/account", "", http.StatusForbidden},
		{"ip-read", "POST", "/v2/reserved_ips/203.0.113.10/actions", `{"type":"assign","droplet_id":1001}`, http.StatusForbidden},
		{"mover", "POST", "/v2/reserved_ips/203.0.113.10/actions", `{"type":"assign","droplet_id":1001}`, http.StatusCreated},
		{"unknown", "GET", "/v2/reserved_ips/203.0.113.10", "", http.StatusUnauthorized},
	}
	for _, tc := range tests {
		r := f.do(t, tc.method, tc.path, tc.token, tc.body)
		if r.status != tc.want {
			t.Errorf("%s %s %s: %d, want %d: %s", tc.token, tc.method, tc.path, r.status, tc.want, r.body)
		}
		if tc.want == http.StatusForbidden && !strings.Contains(string(r.body), `"id":"forbidden"`) {
			t.Errorf("%s %s %s: body %s, want DigitalOcean's forbidden error", tc.token, tc.method, tc.path, r.body)
		}
	}
}

func TestScopedTokensInWorldFile(t *testing.T) {
	w, err := ParseWorld([]byte(`{"tokens":[],"scoped_tokens":{"t":["reserved_ip:read"]},"droplets":[],"ips":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := w.ScopedTokens["t"]; len(got) != 1 || got[0] != "reserved_ip:read" {
		t.Fatalf("scoped tokens %v", w.ScopedTokens)
	}
	if _, err := ParseWorld([]byte(`{"tokens":[],"scoped_tokens":{"t":["reserved_ip:reed"]},"droplets":[],"ips":[]}`)); err == nil || !strings.Contains(err.Error(), `unknown scope "reserved_ip:reed"`) {
		t.Fatalf("a misspelt scope: %v", err)
	}
}
