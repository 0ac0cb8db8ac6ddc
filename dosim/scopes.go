package dosim

import (
	"fmt"
	"net/http"
	"strings"
)

// Custom token scopes, as DigitalOcean names them (docs.digitalocean.com/reference/api/scopes). Reserved IPv6
// uses the reserved_ip scopes too. Only the scopes of the endpoints the simulator serves are known here.
var knownScopes = map[string]bool{
	"account:read": true, "actions:read": true, "droplet:read": true,
	"reserved_ip:read": true, "reserved_ip:update": true,
}

// RequiredScope is the scope DigitalOcean requires of a custom-scoped token for a request, or "" when the
// simulator serves no such endpoint.
func RequiredScope(method, path string) string {
	seg := strings.Split(strings.Trim(strings.TrimPrefix(path, "/v2"), "/"), "/")
	switch seg[0] {
	case "account":
		return "account:read"
	case "actions":
		return "actions:read"
	case "droplets":
		return "droplet:read"
	case kindReserved, kindFloating, kindV6:
		if method == http.MethodGet {
			return "reserved_ip:read"
		}
		return "reserved_ip:update"
	}
	return ""
}

// scopeAllows says whether token may make the request: always for full-access and read-only tokens (their
// limits are checked apart), only with the required scope for a custom-scoped one. Callers hold s.mu.
func (s *Sim) scopeAllows(token, method, path string) bool {
	scopes, ok := s.scoped[token]
	if !ok {
		return true
	}
	need := RequiredScope(method, path)
	return need == "" || scopes[need]
}

func validateScopes(tokens map[string][]string) error {
	for t, scopes := range tokens {
		if t == "" {
			return fmt.Errorf("scoped token: empty token")
		}
		for _, sc := range scopes {
			if !knownScopes[sc] {
				return fmt.Errorf("scoped token: unknown scope %q", sc)
			}
		}
	}
	return nil
}
