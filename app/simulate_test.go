package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/do-fip/do-fip/dosim"
)

// do-fip simulate serves the demo world until it is stopped, and do-fip can move an IP against it.
func TestSimulateServesUntilStopped(t *testing.T) {
	h := newHarness(t)
	url := closedPortURL(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wait := h.startContext(ctx, "simulate", "--listen", strings.TrimPrefix(url, "http://"), "--action-latency", "100ms")
	answers := func() bool {
		resp, err := http.Get(url + "/droplets/1001/metadata/v1/id")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	h.waitFor("the simulator to answer", answers)

	h.env["DO_FIP_API_URL"], h.env["DO_FIP_METADATA_URL"] = url, url+"/droplets/1001"
	h.env["DIGITALOCEAN_ACCESS_TOKEN"] = dosim.DemoToken
	r := h.run("assign", ipv4)
	h.wantCode(r, 0)
	if !strings.Contains(r.stdout, ipv4+": moved to droplet 1001") {
		t.Errorf("assign against the simulator: %q", r.stdout)
	}

	cancel()
	s := wait() // simulate ends when its context does, as on SIGTERM
	h.wantCode(s, 0)
	for _, want := range []string{"dosim: serving " + url, "dosim: metadata of droplet 1001 at " + url + "/droplets/1001", "action latency 100ms"} {
		if !strings.Contains(s.stdout, want) {
			t.Errorf("simulate printed %q, want %q in it", s.stdout, want)
		}
	}
	if answers() {
		t.Error("the simulator still answers after it was stopped")
	}
	if h.allRequests() != 0 {
		t.Error("the harness's own simulator was used")
	}
}
