package dosim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"time"
)

// Defaults DigitalOcean documents for every token.
const (
	DefaultRatePerMinute = 250
	DefaultRatePerHour   = 5000
)

// DemoToken is the bearer token DemoWorld accepts. It is a simulator token, not a secret.
const DemoToken = "dosim-demo-token"

// World is the starting state of a simulated account.
type World struct {
	Tokens []string // accepted bearer tokens with full access
	// ReadOnlyTokens authenticate but lack write scopes: any POST answers 403, as DigitalOcean does for a
	// custom-scoped token without reserved_ip:update.
	ReadOnlyTokens []string
	// ScopedTokens are custom-scoped tokens: each maps to its scopes ("reserved_ip:read", "actions:read", ...).
	// A request the token's scopes do not cover answers 403, as on DigitalOcean (see scopes.go).
	ScopedTokens  map[string][]string
	ActionLatency time.Duration // how long an action stays in-progress
	// ActionJitter spreads action times uniformly over ActionLatency ± ActionJitter, as real actions vary
	// (10–12 s is typical on DigitalOcean).
	ActionJitter time.Duration
	// MetadataLag is how long the metadata service goes on showing a reserved IP's previous holder after the
	// action that moved it completed. DigitalOcean does not document it; zero shows every move at once.
	MetadataLag   time.Duration
	RatePerMinute int // burst limit per token; 0 means DefaultRatePerMinute
	RatePerHour   int // hourly limit per token; 0 means DefaultRatePerHour
	// RateCountsRefused counts requests refused with 429 toward the limits too. Whether DigitalOcean does is
	// not documented, so clients must work either way; off, a client that waits as told gets through.
	RateCountsRefused bool
	// LegacyOnly makes the reserved_ips and reserved_ipv6 endpoints answer 404 so only /v2/floating_ips works,
	// like an API that predates the 2022 rename.
	LegacyOnly bool
	Droplets   []Droplet
	IPs        []ReservedIP
}

// Droplet is a simulated droplet.
type Droplet struct {
	ID          int    `json:"id"`
	Name        string `json:"name"`
	Region      string `json:"region"`
	PublicIPv4  string `json:"public_ipv4,omitempty"`
	AnchorIPv4  string `json:"anchor_ipv4,omitempty"` // empty: no anchor IP (old or custom-image droplets)
	PrivateIPv4 string `json:"private_ipv4,omitempty"`
	PublicIPv6  string `json:"public_ipv6,omitempty"`
	// SourceAddrs are addresses whose requests to /metadata/v1/... are answered as this droplet, in addition to
	// the droplet's own addresses above.
	SourceAddrs []string `json:"source_addrs,omitempty"`
}

// ReservedIP is a reserved IPv4 or IPv6 address; the family follows from the address.
type ReservedIP struct {
	IP        string `json:"ip"`
	Region    string `json:"region"`
	DropletID int    `json:"droplet_id,omitempty"` // 0: unassigned
	ProjectID string `json:"project_id,omitempty"`
}

// DemoWorld is the world of the project's demo: two load balancers in nyc3 and one reserved address of each
// family, both unassigned.
func DemoWorld() World {
	return World{
		Tokens:        []string{DemoToken},
		ActionLatency: time.Second,
		RatePerMinute: DefaultRatePerMinute,
		RatePerHour:   DefaultRatePerHour,
		Droplets: []Droplet{
			{ID: 1001, Name: "lb-a", Region: "nyc3", PublicIPv4: "198.51.100.11", AnchorIPv4: "10.17.0.11",
				PrivateIPv4: "10.108.0.11", PublicIPv6: "2001:db8:1::11"},
			{ID: 1002, Name: "lb-b", Region: "nyc3", PublicIPv4: "198.51.100.12", AnchorIPv4: "10.17.0.12",
				PrivateIPv4: "10.108.0.12", PublicIPv6: "2001:db8:1::12"},
		},
		IPs: []ReservedIP{
			{IP: "203.0.113.10", Region: "nyc3", ProjectID: "5f2a2a9e-3c7b-4d1e-9a40-0b7d3f1c2e10"},
			{IP: "2001:db8:10::10", Region: "nyc3"},
		},
	}
}

// worldJSON is World's file form; durations are strings such as "1.5s".
type worldJSON struct {
	Tokens         []string            `json:"tokens"`
	ReadOnlyTokens []string            `json:"read_only_tokens,omitempty"`
	ScopedTokens   map[string][]string `json:"scoped_tokens,omitempty"`
	ActionLatency  string              `json:"action_latency,omitempty"`
	ActionJitter   string              `json:"action_jitter,omitempty"`
	MetadataLag    string              `json:"metadata_lag,omitempty"`
	RatePerMinute  int                 `json:"rate_per_minute,omitempty"`
	RatePerHour    int                 `json:"rate_per_hour,omitempty"`
	CountRefused   bool                `json:"rate_counts_refused,omitempty"`
	LegacyOnly     bool                `json:"legacy_only,omitempty"`
	Droplets       []Droplet           `json:"droplets"`
	IPs            []ReservedIP        `json:"ips"`
}

// MarshalJSON writes the world in the form ParseWorld reads.
func (w World) MarshalJSON() ([]byte, error) {
	return json.Marshal(worldJSON{
		Tokens: w.Tokens, ReadOnlyTokens: w.ReadOnlyTokens, ScopedTokens: w.ScopedTokens, ActionLatency: w.ActionLatency.String(),
		ActionJitter: durationText(w.ActionJitter), MetadataLag: durationText(w.MetadataLag),
		RatePerMinute: w.RatePerMinute, RatePerHour: w.RatePerHour, CountRefused: w.RateCountsRefused,
		LegacyOnly: w.LegacyOnly, Droplets: w.Droplets, IPs: w.IPs,
	})
}

func durationText(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// UnmarshalJSON reads the form MarshalJSON writes.
func (w *World) UnmarshalJSON(b []byte) error {
	var j worldJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	return w.fromJSON(j)
}

func (w *World) fromJSON(j worldJSON) error {
	var durs [3]time.Duration
	for i, f := range []struct{ name, text string }{
		{"action_latency", j.ActionLatency}, {"action_jitter", j.ActionJitter}, {"metadata_lag", j.MetadataLag},
	} {
		d, err := parseDuration(f.name, f.text)
		if err != nil {
			return err
		}
		durs[i] = d
	}
	*w = World{
		Tokens: j.Tokens, ReadOnlyTokens: j.ReadOnlyTokens, ScopedTokens: j.ScopedTokens, ActionLatency: durs[0], ActionJitter: durs[1],
		MetadataLag: durs[2], RatePerMinute: j.RatePerMinute, RatePerHour: j.RatePerHour,
		RateCountsRefused: j.CountRefused, LegacyOnly: j.LegacyOnly, Droplets: j.Droplets, IPs: j.IPs,
	}
	return nil
}

// ParseWorld reads a world from JSON and validates it. Unknown fields are errors so a typo in a world file
// does not silently change the simulation.
func ParseWorld(b []byte) (World, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var j worldJSON
	if err := dec.Decode(&j); err != nil {
		return World{}, fmt.Errorf("parse world: %w", err)
	}
	var w World
	if err := w.fromJSON(j); err != nil {
		return World{}, fmt.Errorf("parse world: %w", err)
	}
	if err := w.validate(); err != nil {
		return World{}, fmt.Errorf("parse world: %w", err)
	}
	return w, nil
}

// LoadWorld reads a world file written as JSON.
func LoadWorld(path string) (World, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return World{}, fmt.Errorf("load world: %w", err)
	}
	w, err := ParseWorld(b)
	if err != nil {
		return World{}, fmt.Errorf("load world %s: %w", path, err)
	}
	return w, nil
}

func parseDuration(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", field, err)
	}
	if d < 0 {
		return 0, fmt.Errorf("%s: negative duration %s", field, s)
	}
	return d, nil
}

// validate rejects worlds DigitalOcean could not be in.
func (w World) validate() error {
	if w.ActionLatency < 0 || w.ActionJitter < 0 || w.MetadataLag < 0 {
		return fmt.Errorf("action latency, jitter and metadata lag must not be negative")
	}
	if w.ActionJitter > w.ActionLatency {
		return fmt.Errorf("action jitter %s is larger than the action latency %s", w.ActionJitter, w.ActionLatency)
	}
	if w.RatePerMinute < 0 || w.RatePerHour < 0 {
		return fmt.Errorf("rate limits must not be negative")
	}
	if err := validateScopes(w.ScopedTokens); err != nil {
		return err
	}
	drops := map[int]Droplet{}
	for _, d := range w.Droplets {
		if d.ID <= 0 {
			return fmt.Errorf("droplet %q: id must be positive", d.Name)
		}
		if _, dup := drops[d.ID]; dup {
			return fmt.Errorf("droplet %d: duplicate id", d.ID)
		}
		if d.Region == "" {
			return fmt.Errorf("droplet %d: region is empty", d.ID)
		}
		for _, a := range append([]string{d.PublicIPv4, d.AnchorIPv4, d.PrivateIPv4, d.PublicIPv6}, d.SourceAddrs...) {
			if a == "" {
				continue
			}
			if _, err := netip.ParseAddr(a); err != nil {
				return fmt.Errorf("droplet %d: address %q: %w", d.ID, a, err)
			}
		}
		drops[d.ID] = d
	}
	seen := map[netip.Addr]bool{}
	heldV4 := map[int]string{}
	heldV6 := map[int]string{}
	for _, ip := range w.IPs {
		a, err := netip.ParseAddr(ip.IP)
		if err != nil {
			return fmt.Errorf("reserved ip %q: %w", ip.IP, err)
		}
		if a.Zone() != "" || a.Is4In6() {
			return fmt.Errorf("reserved ip %q: not a plain address", ip.IP)
		}
		if seen[a] {
			return fmt.Errorf("reserved ip %s: duplicate", ip.IP)
		}
		seen[a] = true
		if ip.Region == "" {
			return fmt.Errorf("reserved ip %s: region is empty", ip.IP)
		}
		if ip.DropletID == 0 {
			continue
		}
		d, ok := drops[ip.DropletID]
		if !ok {
			return fmt.Errorf("reserved ip %s: droplet %d does not exist", ip.IP, ip.DropletID)
		}
		if d.Region != ip.Region {
			return fmt.Errorf("reserved ip %s: region %s differs from droplet %d region %s", ip.IP, ip.Region, d.ID, d.Region)
		}
		held := heldV4
		if a.Is6() {
			held = heldV6
		}
		if other, dup := held[d.ID]; dup {
			return fmt.Errorf("reserved ip %s: droplet %d already holds %s", ip.IP, d.ID, other)
		}
		held[d.ID] = ip.IP
	}
	return nil
}
