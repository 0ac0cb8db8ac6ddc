package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/do-fip/do-fip/dosim"
)

// cloud is the simulator, run by do-fip simulate in the cloud namespace: the API and the
// control API on cloudAddr:80, the metadata service on 169.254.169.254:80, answering as
// the droplet whose private address sent the request.
type cloud struct {
	t      *testing.T
	sim    *proc
	client *http.Client
	base   string
}

// e2eToken is the simulator's token for one lab; the nodes read it from a token file.
func e2eToken() string { return fmt.Sprintf("dosim-e2e-%d", os.Getpid()) }

// startCloud writes the world (one droplet per node, the reserved IP unassigned), starts
// the simulator and writes each node's do-fip.conf and token file.
func (l *lab) startCloud(latency time.Duration) *cloud {
	t := l.t
	t.Helper()
	w := dosim.World{
		Tokens:        []string{e2eToken()},
		ActionLatency: latency,
		IPs:           []dosim.ReservedIP{{IP: reservedIP, Region: "nyc3"}, {IP: reservedIPv6, Region: "nyc3"}},
	}
	for i, n := range l.nodes {
		w.Droplets = append(w.Droplets, dosim.Droplet{
			ID: n.dropletID, Name: n.name, Region: "nyc3",
			AnchorIPv4: fmt.Sprintf("10.17.0.%d", 11+i), PrivateIPv4: n.addr,
		})
	}
	b, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	world := filepath.Join(l.dir, "world.json")
	if err := os.WriteFile(world, b, 0o644); err != nil {
		t.Fatal(err)
	}
	c := &cloud{
		t:      t,
		client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: dialerIn(l.cloud)}},
		base:   "http://" + cloudAddr,
	}
	c.sim = startProc(t, l.cloud, "dosim", l.dir, []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
		l.bin, "simulate", "--listen", cloudAddr+":80", "--listen", metaAddr+":80", "--world", world)
	if _, ok := c.sim.out.waitFor(time.Time{}, 10*time.Second, func(s string) bool {
		return strings.HasPrefix(s, "dosim: action latency")
	}); !ok {
		t.Fatalf("simulator did not start; its output:\n%s", dump(c.sim.out))
	}
	for _, n := range l.nodes {
		n.writeDoFipConf(c.base)
	}
	return c
}

// writeDoFipConf writes the node's do-fip.conf and token file, with the permissions
// examples/do-fip.conf asks for: keepalived_script reads them, nobody else.
func (n *node) writeDoFipConf(apiURL string) {
	t := n.lab.t
	t.Helper()
	_, gid := scriptIDs(t)
	token := filepath.Join(n.dir, "token")
	conf := filepath.Join(n.dir, "do-fip.conf")
	body := strings.Join([]string{
		"# " + n.name + ", written by the e2e harness",
		"ips = " + reservedIP,
		"api_url = " + apiURL,
		"token_file = " + token,
		"state_dir = " + n.stateDir(),
		"log_file = " + n.logFile(),
		"log_level = debug",
		"syslog = off",
		"timeout = 30s",
		// The lab's moves take about 1 s, not DigitalOcean's 10-15 s: an errored one is looked for sooner.
		"check_after = 3s",
		"metrics_file = " + n.metricsFile(),
		"",
	}, "\n")
	for path, content := range map[string]string{token: e2eToken() + "\n", conf: body} {
		if err := os.WriteFile(path, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(path, 0, gid); err != nil {
			t.Fatal(err)
		}
	}
}

// do sends a control request and decodes the answer into out (when not nil).
func (c *cloud) do(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		return err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// must fails the test on a control API error.
func (c *cloud) must(err error) {
	c.t.Helper()
	if err != nil {
		c.t.Fatal(err)
	}
}

// holder is the droplet holding the reserved IPv4 per the simulator (0: nobody).
func (c *cloud) holder() int {
	c.t.Helper()
	return c.holderOf(reservedIP)
}

// holderOf is the droplet holding reserved IP ip per the simulator (0: nobody).
func (c *cloud) holderOf(ip string) int {
	c.t.Helper()
	var st dosim.State
	c.must(c.do("GET", "/_sim/state", nil, &st))
	for _, s := range st.IPs {
		if s.IP == ip {
			return s.DropletID
		}
	}
	c.t.Fatalf("simulator does not know %s", ip)
	return 0
}

// requests is the simulator's request log.
func (c *cloud) requests() []dosim.Request {
	c.t.Helper()
	var reqs []dosim.Request
	c.must(c.do("GET", "/_sim/requests", nil, &reqs))
	return reqs
}

// waitHolder polls the simulator until droplet id holds the reserved IPv4 and returns
// when it first saw that, or fails the test after timeout.
func (c *cloud) waitHolder(id int, timeout time.Duration) time.Time {
	c.t.Helper()
	return c.waitHolderOf(reservedIP, id, timeout)
}

// waitHolderOf is waitHolder for reserved IP ip.
func (c *cloud) waitHolderOf(ip string, id int, timeout time.Duration) time.Time {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if c.holderOf(ip) == id {
			return time.Now()
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("droplet %d does not hold %s after %v (holder %d)", id, ip, timeout, c.holderOf(ip))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// assignPosts are the assign POSTs for droplet id that reached the simulator at or after since.
func (c *cloud) assignPosts(id int, since time.Time) []dosim.Request {
	c.t.Helper()
	var out []dosim.Request
	want := fmt.Sprintf(`"droplet_id":%d`, id)
	for _, r := range c.requests() {
		if r.Method == "POST" && strings.HasSuffix(r.Path, "/"+reservedIP+"/actions") &&
			strings.Contains(strings.ReplaceAll(r.Body, " ", ""), want) && !r.Time.Before(since) {
			out = append(out, r)
		}
	}
	return out
}

// dump renders a line log for a failure message.
func dump(l *lineLog) string {
	var b strings.Builder
	for _, ln := range l.all() {
		fmt.Fprintf(&b, "%s %s\n", ln.at.Format("15:04:05.000"), ln.text)
	}
	return b.String()
}
