package dosim

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const worldFile = `{
  "tokens": ["t1"],
  "read_only_tokens": ["r1"],
  "action_latency": "1.5s",
  "rate_per_minute": 10,
  "rate_per_hour": 100,
  "legacy_only": true,
  "droplets": [
    {"id": 7, "name": "a", "region": "ams3", "public_ipv4": "192.0.2.7", "anchor_ipv4": "10.18.0.7",
     "source_addrs": ["10.99.0.7"]},
    {"id": 8, "name": "b", "region": "ams3"}
  ],
  "ips": [
    {"ip": "203.0.113.99", "region": "ams3", "droplet_id": 7, "project_id": "p-1"},
    {"ip": "2001:db8::99", "region": "ams3"}
  ]
}`

func TestParseWorldReadsEveryField(t *testing.T) {
	w, err := ParseWorld([]byte(worldFile))
	if err != nil {
		t.Fatal(err)
	}
	want := World{
		Tokens: []string{"t1"}, ReadOnlyTokens: []string{"r1"}, ActionLatency: 1500 * time.Millisecond,
		RatePerMinute: 10, RatePerHour: 100, LegacyOnly: true,
		Droplets: []Droplet{
			{ID: 7, Name: "a", Region: "ams3", PublicIPv4: "192.0.2.7", AnchorIPv4: "10.18.0.7", SourceAddrs: []string{"10.99.0.7"}},
			{ID: 8, Name: "b", Region: "ams3"},
		},
		IPs: []ReservedIP{
			{IP: "203.0.113.99", Region: "ams3", DropletID: 7, ProjectID: "p-1"},
			{IP: "2001:db8::99", Region: "ams3"},
		},
	}
	if !reflect.DeepEqual(w, want) {
		t.Fatalf("got %+v\nwant %+v", w, want)
	}
}

func TestWorldJSONRoundTrip(t *testing.T) {
	demo := DemoWorld()
	b, err := demo.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"action_latency":"1s"`) {
		t.Fatalf("latency not written as a duration string: %s", b)
	}
	back, err := ParseWorld(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, demo) {
		t.Fatalf("round trip changed the world\ngot  %+v\nwant %+v", back, demo)
	}
}

func TestParseWorldRejects(t *testing.T) {
	tests := map[string]struct {
		json string
		want string
	}{
		"unknown field":       {`{"tokens":[],"droplet":[]}`, "unknown field"},
		"bad duration":        {`{"action_latency":"soon"}`, "action_latency"},
		"negative duration":   {`{"action_latency":"-1s"}`, "negative"},
		"duplicate droplet":   {`{"droplets":[{"id":1,"region":"nyc3"},{"id":1,"region":"nyc3"}]}`, "duplicate id"},
		"droplet without id":  {`{"droplets":[{"name":"x","region":"nyc3"}]}`, "id must be positive"},
		"droplet no region":   {`{"droplets":[{"id":1}]}`, "region is empty"},
		"bad droplet address": {`{"droplets":[{"id":1,"region":"nyc3","public_ipv4":"300.1.1.1"}]}`, "300.1.1.1"},
		"bad ip":              {`{"ips":[{"ip":"203.0.113","region":"nyc3"}]}`, "203.0.113"},
		"duplicate ip":        {`{"ips":[{"ip":"2001:db8::1","region":"nyc3"},{"ip":"2001:DB8:0::1","region":"nyc3"}]}`, "duplicate"},
		"ip without region":   {`{"ips":[{"ip":"203.0.113.1"}]}`, "region is empty"},
		"holder missing": {`{"ips":[{"ip":"203.0.113.1","region":"nyc3","droplet_id":5}]}`,
			"droplet 5 does not exist"},
		"holder in other region": {`{"droplets":[{"id":5,"region":"sfo3"}],"ips":[{"ip":"203.0.113.1","region":"nyc3","droplet_id":5}]}`,
			"region"},
		"two ipv4 on one droplet": {`{"droplets":[{"id":5,"region":"nyc3"}],"ips":[` +
			`{"ip":"203.0.113.1","region":"nyc3","droplet_id":5},{"ip":"203.0.113.2","region":"nyc3","droplet_id":5}]}`,
			"already holds 203.0.113.1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ParseWorld([]byte(tc.json))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestParseWorldAllowsOneIPOfEachFamilyPerDroplet(t *testing.T) {
	_, err := ParseWorld([]byte(`{"droplets":[{"id":5,"region":"nyc3"}],"ips":[` +
		`{"ip":"203.0.113.1","region":"nyc3","droplet_id":5},{"ip":"2001:db8::1","region":"nyc3","droplet_id":5}]}`))
	if err != nil {
		t.Fatal(err)
	}
}

func TestLoadWorld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "world.json")
	if err := os.WriteFile(path, []byte(worldFile), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := LoadWorld(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(w)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Holder("203.0.113.99"); got != 7 {
		t.Fatalf("holder %d, want 7 from the file", got)
	}

	if _, err := LoadWorld(filepath.Join(dir, "missing.json")); err == nil {
		t.Fatal("missing file: no error")
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"tokens":`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadWorld(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("broken file: error %v, want one naming the file", err)
	}
}

func TestNewDefaultsRateLimits(t *testing.T) {
	s, err := New(World{Tokens: []string{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	if s.world.RatePerMinute != 250 || s.world.RatePerHour != 5000 {
		t.Fatalf("limits %d/min %d/h, want 250 and 5000", s.world.RatePerMinute, s.world.RatePerHour)
	}
}

func TestDemoWorld(t *testing.T) {
	s, err := New(DemoWorld())
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range []string{"203.0.113.10", "2001:db8:10::10"} {
		if h := s.Holder(ip); h != 0 {
			t.Errorf("%s held by %d at start, want unassigned", ip, h)
		}
		if s.Locked(ip) {
			t.Errorf("%s locked at start", ip)
		}
	}
	if s.droplets[1001].Name != "lb-a" || s.droplets[1002].Name != "lb-b" || s.droplets[1001].Region != "nyc3" {
		t.Fatalf("demo droplets wrong: %+v %+v", s.droplets[1001], s.droplets[1002])
	}
	if DemoWorld().ActionLatency != time.Second {
		t.Fatal("demo latency is not 1s")
	}
}
