package dosim

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// IP kinds by the path segment that names them.
const (
	kindReserved = "reserved_ips"
	kindFloating = "floating_ips"
	kindV6       = "reserved_ipv6"
)

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// serveAPI answers /v2/... after faults: rate limit, authentication, then the endpoint. The answer is built
// under the lock and written after it, so a slow client does not hold up others.
func (s *Sim) serveAPI(w http.ResponseWriter, r *http.Request, body []byte, reqID string) served {
	token := bearer(r)
	key := "token:" + token
	if token == "" {
		// Without a token there is no account to charge; count by address instead.
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		key = "addr:" + host
	}
	rec := &recorder{header: http.Header{}}
	rec.header.Set("X-Request-Id", reqID)

	s.mu.Lock()
	s.settle()
	rate := s.takeRate(key)
	s.setRateHeaders(rec.header, rate)
	sc := s.tokens[token]
	out := served{tokenValid: token != "" && sc != scopeNone}
	switch {
	case !rate.allowed:
		if rate.retryAfter > 0 {
			rec.header.Set("Retry-After", strconv.Itoa(rate.retryAfter))
		}
		s.fail(rec, http.StatusTooManyRequests, "", reqID)
	case !out.tokenValid:
		s.fail(rec, http.StatusUnauthorized, "", reqID)
	case r.Method != http.MethodGet && sc != scopeFull, !s.scopeAllows(token, r.Method, r.URL.Path):
		s.fail(rec, http.StatusForbidden, "", reqID)
	default:
		s.route(rec, r, body, reqID)
	}
	s.mu.Unlock()

	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.code())
	_, _ = w.Write(rec.body.Bytes())
	return out
}

func (s *Sim) fail(w http.ResponseWriter, status int, msg, reqID string) {
	id, def := errorFor(status)
	if msg == "" {
		msg = def
	}
	writeError(w, status, id, msg, reqID)
}

func (s *Sim) notFound(w http.ResponseWriter, reqID string) {
	s.fail(w, http.StatusNotFound, "", reqID)
}

// route dispatches an authenticated API request. Callers hold s.mu.
func (s *Sim) route(w http.ResponseWriter, r *http.Request, body []byte, reqID string) {
	seg := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/v2"), "/"), "/")
	get := r.Method == http.MethodGet
	switch {
	case len(seg) == 1 && seg[0] == "account" && get:
		s.getAccount(w)
	case len(seg) == 1 && seg[0] == "actions" && get:
		s.listActions(w, "")
	case len(seg) == 2 && seg[0] == "actions" && get:
		s.getAction(w, seg[1], "", reqID)
	case len(seg) == 1 && seg[0] == "droplets" && get:
		s.listDroplets(w)
	case len(seg) == 2 && seg[0] == "droplets" && get:
		s.getDroplet(w, seg[1], reqID)
	case len(seg) >= 1 && (seg[0] == kindReserved || seg[0] == kindFloating || seg[0] == kindV6):
		s.routeIP(w, r, seg, body, reqID)
	default:
		s.notFound(w, reqID)
	}
}

func (s *Sim) routeIP(w http.ResponseWriter, r *http.Request, seg []string, body []byte, reqID string) {
	kind := seg[0]
	if s.world.LegacyOnly && kind != kindFloating {
		s.notFound(w, reqID)
		return
	}
	get := r.Method == http.MethodGet
	if len(seg) == 1 {
		if get {
			s.listIPs(w, kind)
		} else {
			s.notFound(w, reqID)
		}
		return
	}
	ip := s.lookupIP(seg[1])
	if ip == nil || ip.v6 != (kind == kindV6) {
		s.notFound(w, reqID)
		return
	}
	switch {
	case len(seg) == 2 && get:
		s.getIP(w, kind, ip)
	case len(seg) == 3 && seg[2] == "actions" && r.Method == http.MethodPost:
		s.postIPAction(w, kind, ip, body, reqID)
	// DigitalOcean has no per-IP action listing or lookup for IPv6: those are polled at /v2/actions/{id}.
	case len(seg) == 3 && seg[2] == "actions" && get && kind != kindV6:
		s.listActions(w, ip.IP)
	case len(seg) == 4 && seg[2] == "actions" && get && kind != kindV6:
		s.getAction(w, seg[3], ip.IP, reqID)
	default:
		s.notFound(w, reqID)
	}
}

func (s *Sim) getAccount(w http.ResponseWriter) {
	var a accountJSON
	a.DropletLimit, a.FloatingIPLimit, a.ReservedIPLimit, a.VolumeLimit = 25, 3, 3, 100
	a.Email, a.Name, a.UUID = "sammy@example.com", "Sammy", "b6fr89dbf6d9156cace5f3c78dc9851d957381ef"
	a.EmailVerified, a.Status = true, "active"
	a.Team.UUID, a.Team.Name = "5df3e3004a17e242b7c20ca6c9fc25b701a47ece", "My Team"
	writeJSON(w, http.StatusOK, map[string]any{"account": a})
}

func ipKey(kind string) string {
	switch kind {
	case kindFloating:
		return "floating_ip"
	case kindV6:
		return "reserved_ipv6"
	}
	return "reserved_ip"
}

func (s *Sim) getIP(w http.ResponseWriter, kind string, ip *ipState) {
	if kind == kindV6 {
		writeJSON(w, http.StatusOK, map[string]any{ipKey(kind): s.reservedIPv6Object(ip)})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{ipKey(kind): s.reservedIPObject(ip)})
}

func (s *Sim) listIPs(w http.ResponseWriter, kind string) {
	var items []any
	for _, k := range s.ipOrder {
		ip := s.ips[k]
		if ip.v6 != (kind == kindV6) {
			continue
		}
		if kind == kindV6 {
			items = append(items, s.reservedIPv6Object(ip))
		} else {
			items = append(items, s.reservedIPObject(ip))
		}
	}
	if items == nil {
		items = []any{}
	}
	// One page holds everything: a simulated account has few IPs.
	listKey := kind
	if kind == kindV6 {
		listKey = "reserved_ipv6s"
	}
	writeJSON(w, http.StatusOK, map[string]any{listKey: items, "links": linksJSON{}, "meta": metaJSON{Total: len(items)}})
}

func (s *Sim) listDroplets(w http.ResponseWriter) {
	items := []*dropletJSON{}
	for _, id := range s.sortedDropletIDs() {
		items = append(items, s.dropletObject(s.droplets[id]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"droplets": items, "links": linksJSON{}, "meta": metaJSON{Total: len(items)}})
}

func (s *Sim) getDroplet(w http.ResponseWriter, idText, reqID string) {
	id, err := strconv.Atoi(idText)
	d := s.droplets[id]
	if err != nil || d == nil {
		s.notFound(w, reqID)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"droplet": s.dropletObject(d)})
}

func (s *Sim) listActions(w http.ResponseWriter, ip string) {
	items := []actionJSON{}
	// Newest first, as DigitalOcean lists actions.
	for i := len(s.actOrder) - 1; i >= 0; i-- {
		a := s.actions[s.actOrder[i]]
		if ip != "" && a.ip != ip {
			continue
		}
		if s.clock().Before(a.hiddenUntil) {
			continue
		}
		items = append(items, actionObject(a))
	}
	writeJSON(w, http.StatusOK, map[string]any{"actions": items, "links": linksJSON{}, "meta": metaJSON{Total: len(items)}})
}

func (s *Sim) getAction(w http.ResponseWriter, idText, ip, reqID string) {
	id, err := strconv.Atoi(idText)
	a := s.actions[id]
	if err != nil || a == nil || (ip != "" && a.ip != ip) || s.clock().Before(a.hiddenUntil) {
		s.notFound(w, reqID)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"action": actionObject(a)})
}

// actionRequest is the body of POST .../actions. droplet_id is kept raw because DigitalOcean also accepts it
// as a numeric string, which is what the classic assign-ip script sends.
type actionRequest struct {
	Type      *string         `json:"type"`
	DropletID json.RawMessage `json:"droplet_id"`
}

func parseDropletID(raw json.RawMessage) (int, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, false
	}
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return 0, false
	}
	switch t := v.(type) {
	case json.Number:
		n = t
	case string:
		n = json.Number(strings.TrimSpace(t))
	default:
		return 0, false
	}
	id, err := strconv.Atoi(string(n))
	if err != nil || id <= 0 {
		return 0, false
	}
	return id, true
}

// Messages for the 422 rules. The pending-event wordings are DigitalOcean's as reported by its users; the
// others are the simulator's, since DigitalOcean's exact wording for them is not published.
const (
	msgDropletPending  = "Droplet already has a pending event."
	msgDropletNotFound = "Droplet not found."
	msgAlreadyHeld     = "The %s is already assigned to that Droplet."
	msgDropletHasOne   = "The Droplet already has a %s assigned."
	msgRegionMismatch  = "The %s and the Droplet must be in the same region."
	msgNotAssigned     = "The %s is not assigned to a Droplet."
	msgBadType         = "Type must be one of: assign, unassign."
	msgNoDroplet       = "Droplet ID is required to assign."
	msgBadJSON         = "The request body is not valid JSON."
)

// noun is how error messages name the IP, following the endpoint the client used.
func noun(kind string) string {
	switch kind {
	case kindFloating:
		return "floating IP"
	case kindV6:
		return "reserved IPv6"
	}
	return "reserved IP"
}

func (s *Sim) postIPAction(w http.ResponseWriter, kind string, ip *ipState, body []byte, reqID string) {
	var req actionRequest
	if err := json.Unmarshal(body, &req); err != nil {
		s.fail(w, http.StatusBadRequest, msgBadJSON, reqID)
		return
	}
	if req.Type == nil || (*req.Type != "assign" && *req.Type != "unassign") {
		s.fail(w, http.StatusUnprocessableEntity, msgBadType, reqID)
		return
	}
	n := noun(kind)
	unprocessable := func(format string) {
		msg := format
		if strings.Contains(format, "%s") {
			msg = strings.Replace(format, "%s", n, 1)
		}
		s.fail(w, http.StatusUnprocessableEntity, msg, reqID)
	}
	if s.pendingForIP(ip.IP) != nil {
		unprocessable("The %s already has a pending event.")
		return
	}
	resourceType := ipKey(kind)
	if *req.Type == "unassign" {
		if ip.DropletID == 0 {
			unprocessable(msgNotAssigned)
			return
		}
		if s.pendingForDroplet(ip.DropletID) {
			unprocessable(msgDropletPending)
			return
		}
		a := s.startAction(ip, TypeUnassign, resourceType, 0)
		writeJSON(w, http.StatusCreated, map[string]any{"action": actionObject(a)})
		return
	}
	id, ok := parseDropletID(req.DropletID)
	if !ok {
		unprocessable(msgNoDroplet)
		return
	}
	d := s.droplets[id]
	switch {
	case d == nil:
		unprocessable(msgDropletNotFound)
	case d.Region != ip.Region:
		unprocessable(msgRegionMismatch)
	case ip.DropletID == id:
		unprocessable(msgAlreadyHeld)
	case s.pendingForDroplet(id) || (ip.DropletID != 0 && s.pendingForDroplet(ip.DropletID)):
		unprocessable(msgDropletPending)
	case s.holdsOther(id, ip):
		unprocessable(msgDropletHasOne)
	default:
		a := s.startAction(ip, TypeAssign, resourceType, id)
		writeJSON(w, http.StatusCreated, map[string]any{"action": actionObject(a)})
	}
}

// holdsOther reports whether the droplet already holds another reserved IP of ip's family: a droplet takes one
// reserved IPv4 and one reserved IPv6. Callers hold s.mu.
func (s *Sim) holdsOther(dropletID int, ip *ipState) bool {
	for _, other := range s.ips {
		if other != ip && other.v6 == ip.v6 && other.DropletID == dropletID {
			return true
		}
	}
	return false
}
