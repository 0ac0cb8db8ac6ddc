package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/do-fip/do-fip/app"
	"github.com/do-fip/do-fip/dosim"
	"github.com/do-fip/do-fip/internal/testbin"
	"github.com/do-fip/do-fip/internal/testio"
	"github.com/do-fip/do-fip/state"
)

// These tests run do-fip against the simulator as keepalived would run it. Most run it in-process through
// app.Main, each run in a goroutine with its own environment (the row's map, nothing from this process) and its
// own stdout and stderr, so -race and -cover see app's own code and goroutines. The tests whose meaning depends on
// do-fip being a process of its own run the real binary instead (runBinary, startBinary, startCmd):
//   - keepalived's order of hooks: runs that race each other are ordered by their processes' start times
//     (state.SelfStart reads /proc/self/stat), and in-process runs share one process;
//   - the per-IP lock among many separate runs (TestConcurrentAssignsSerialize);
//   - signals and goroutine dumps, the Go runtime's reading of GODEBUG and GOTRACEBACK, and wrappers that put
//     the run in namespaces of its own (the fault matrix, a read-only state dir as root).
// Runs in-process are ordered among themselves by when they were started (see start), like processes.

var binary string

func TestMain(m *testing.M) {
	// These tests spend their time waiting for do-fip runs that wait on the simulator (retry-after,
	// action latencies, deadlines), not on the CPU: run more of them at once than -parallel's default of
	// GOMAXPROCS, unless -parallel is given.
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		_ = flag.Set("test.parallel", strconv.Itoa(max(16, 4*runtime.GOMAXPROCS(0))))
	}
	dir, err := os.MkdirTemp("", "do-fip-cli-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "do-fip")
	if err := testbin.Build(binary); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// token looks like a real DigitalOcean token so that a leak would be recognisable.
const token = "dop_v1_5e1f0c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f"

const (
	ipv4 = "203.0.113.10"
	ipv6 = "2001:db8:10::10"
)

type harness struct {
	t   *testing.T
	sim *dosim.Sim
	srv *httptest.Server
	dir string
	env map[string]string
}

func newHarness(t *testing.T, mutate ...func(*dosim.World)) *harness {
	t.Helper()
	t.Parallel()
	w := dosim.DemoWorld()
	w.Tokens = []string{token}
	w.ActionLatency = 150 * time.Millisecond
	for _, m := range mutate {
		m(&w)
	}
	sim, err := dosim.New(w)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	conf := filepath.Join(dir, "do-fip.conf")
	os.WriteFile(conf, []byte("# empty\n"), 0o644)
	return &harness{t: t, sim: sim, srv: srv, dir: dir, env: map[string]string{
		"DIGITALOCEAN_ACCESS_TOKEN": token,
		"DO_FIP_INSECURE_API":       "1",
		"DO_FIP_API_URL":            srv.URL,
		"DO_FIP_METADATA_URL":       srv.URL + "/droplets/1001",
		"DO_FIP_STATE_DIR":          filepath.Join(dir, "state"),
		"DO_FIP_LOG_FILE":           filepath.Join(dir, "do-fip.log"),
		"DO_FIP_SYSLOG":             "off",
		"DO_FIP_CONFIG":             conf,
		"DO_FIP_TIMEOUT":            "20s",
	}}
}

type result struct {
	stdout, stderr string
	code           int
	elapsed        time.Duration
}

// run runs do-fip in-process with the harness environment (and nothing else from this process's environment)
// and fails the test if the token shows up in its output or log.
func (h *harness) run(args ...string) result {
	h.t.Helper()
	return h.start(args...)()
}

// lastStart hands out the in-process runs' places in keepalived's order of hooks (state.ProcStart), in the order
// the runs are started, as the kernel stamps processes at fork.
var lastStart atomic.Uint64

// start runs do-fip in-process in the background and returns a function that waits for it. The run sees a
// copy of h.env as it is now, as a process would.
func (h *harness) start(args ...string) func() result {
	h.t.Helper()
	return h.startContext(context.Background(), args...)
}

// startContext is start for a run that ctx stops, as a signal stops the binary.
func (h *harness) startContext(ctx context.Context, args ...string) func() result {
	h.t.Helper()
	env := h.environ()
	self := state.ProcStart{Start: lastStart.Add(1), PID: os.Getpid()}
	var out, errb testio.Buffer
	m := app.Main{
		Version: "dev",
		Getenv:  func(k string) string { return env[k] },
		Stdout:  &out,
		Stderr:  &errb,
		Event:   func() state.ProcStart { return self },
	}
	done := make(chan result, 1)
	begin := time.Now()
	go func() {
		r := result{code: -1}
		defer func() {
			if p := recover(); p != nil {
				fmt.Fprintf(&errb, "panic: %v\n%s", p, debug.Stack())
			}
			r.elapsed = time.Since(begin)
			done <- r
		}()
		r.code = m.Run(ctx, append([]string{"do-fip"}, args...))
	}()
	return func() result {
		h.t.Helper()
		r := <-done
		r.stdout, r.stderr = out.String(), errb.String()
		if r.code < 0 {
			h.t.Fatalf("do-fip %s panicked:\n%s", strings.Join(args, " "), r.stderr)
		}
		h.wantNoToken(r)
		return r
	}
}

// environ is a run's whole environment: a PATH and HOME, and h.env (an empty value is an unset variable).
func (h *harness) environ() map[string]string {
	env := map[string]string{"PATH": "/usr/bin:/bin", "HOME": h.dir}
	maps.Copy(env, h.env)
	return env
}

// runBinary runs the real do-fip binary like run, for the tests that need it to be a process of its own.
func (h *harness) runBinary(args ...string) result {
	h.t.Helper()
	return h.startBinary(args...)()
}

// startBinary starts the real do-fip binary in the background like start.
func (h *harness) startBinary(args ...string) func() result {
	h.t.Helper()
	return h.startCmd(exec.Command(binary, args...))
}

// startCmd starts cmd (the do-fip binary, or a wrapper that ends by running it) with the harness environment
// like start.
func (h *harness) startCmd(cmd *exec.Cmd) func() result {
	h.t.Helper()
	cmd.Env = []string{}
	for k, v := range h.environ() {
		if v != "" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	return func() result {
		h.t.Helper()
		err := cmd.Wait()
		r := result{stdout: out.String(), stderr: errb.String(), elapsed: time.Since(begin)}
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
		} else if err != nil {
			h.t.Fatal(err)
		}
		h.wantNoToken(r)
		return r
	}
}

// wantNoToken fails the test if the token shows up in a run's output or in the log.
func (h *harness) wantNoToken(r result) {
	h.t.Helper()
	for _, s := range []string{r.stdout, r.stderr, h.logFile()} {
		if strings.Contains(s, token) || strings.Contains(s, token[7:]) {
			h.t.Errorf("the token appears in do-fip's output or log")
		}
	}
}

func (h *harness) logFile() string {
	b, _ := os.ReadFile(h.env["DO_FIP_LOG_FILE"])
	return string(b)
}

// requests returns the API (not metadata) requests whose method and path prefix match.
func (h *harness) requests(method, prefix string) []dosim.Request {
	var out []dosim.Request
	for _, r := range h.sim.Requests() {
		if !r.Metadata && (method == "" || r.Method == method) && strings.HasPrefix(r.Path, prefix) {
			out = append(out, r)
		}
	}
	return out
}

func (h *harness) allRequests() int { return len(h.sim.Requests()) }

func (h *harness) wantCode(r result, code int) {
	h.t.Helper()
	if r.code != code {
		h.t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
}

func (h *harness) wantHolder(ip string, droplet int) {
	h.t.Helper()
	if got := h.sim.Holder(ip); got != droplet {
		h.t.Fatalf("holder of %s is %d, want %d", ip, got, droplet)
	}
}

// wantPostGivenUp checks that a run gave up its hung POST for ip before DigitalOcean processed it: nothing
// moved, and no action is pending.
func (h *harness) wantPostGivenUp(ip string) {
	h.t.Helper()
	for _, q := range h.requests("POST", "") {
		if q.Fault != "delay-cancelled" {
			h.t.Errorf("a POST was processed: %+v", q)
		}
	}
	h.wantHolder(ip, 0)
	if h.sim.Locked(ip) {
		h.t.Error("an action is pending on the IP")
	}
}

func (h *harness) wantPosts(n int) {
	h.t.Helper()
	if got := len(h.requests("POST", "")); got != n {
		h.t.Fatalf("%d POSTs, want %d: %+v", got, n, h.requests("", ""))
	}
}

func TestAssignFirstMove(t *testing.T) {
	h := newHarness(t)
	r := h.run("assign", ipv4)
	h.wantCode(r, 0)
	h.wantHolder(ipv4, 1001)
	h.wantPosts(1)
	post := h.requests("POST", "")[0]
	if post.Path != "/v2/reserved_ips/"+ipv4+"/actions" {
		t.Errorf("POST path %s", post.Path)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(post.Body), &body); err != nil || len(body) != 2 || body["type"] != "assign" || body["droplet_id"] != float64(1001) {
		t.Errorf("POST body %s, want {\"droplet_id\":1001,\"type\":\"assign\"}", post.Body)
	}
	if !strings.Contains(r.stdout, ipv4+": moved to droplet 1001") {
		t.Errorf("stdout %q", r.stdout)
	}
	if n := len(h.requests("", "")); n > 8 {
		t.Errorf("%d API requests for one move, want at most 8", n)
	}
	if !strings.Contains(h.logFile(), `"event":"moved"`) {
		t.Errorf("log file lacks the moved event:\n%s", h.logFile())
	}
}

func TestAssignAlreadyHeldMakesNoPost(t *testing.T) {
	h := newHarness(t)
	h.sim.Assign(ipv4, 1001)
	r := h.run("assign", ipv4)
	h.wantCode(r, 0)
	h.wantPosts(0)
	if n := len(h.requests("", "")); n != 1 {
		t.Errorf("%d API requests, want 1 read", n)
	}
	if !strings.Contains(r.stdout, "already on droplet 1001") {
		t.Errorf("stdout %q", r.stdout)
	}
}

func TestAssignBothFamiliesInParallel(t *testing.T) {
	h := newHarness(t)
	h.sim.Assign(ipv4, 1002)
	r := h.run("assign", ipv4, ipv6)
	h.wantCode(r, 0)
	h.wantHolder(ipv4, 1001)
	h.wantHolder(ipv6, 1001)
	if n := len(h.requests("POST", "/v2/reserved_ipv6/"+ipv6)); n < 1 {
		t.Errorf("no POST to the reserved_ipv6 endpoint")
	}
}

func TestAssignTutorialForm(t *testing.T) {
	h := newHarness(t)
	h.env["DIGITALOCEAN_ACCESS_TOKEN"] = ""
	h.env["DO_TOKEN"] = token
	r := h.run("assign", ipv4, "1002")
	h.wantCode(r, 0)
	h.wantHolder(ipv4, 1002)
}

func TestAssignIPsFromEnvironment(t *testing.T) {
	h := newHarness(t)
	h.env["DO_FIP_IPS"] = ipv4 + "," + ipv6
	h.wantCode(h.run("assign"), 0)
	h.wantHolder(ipv4, 1001)
	h.wantHolder(ipv6, 1001)
}

func TestAssignLegacyEndpoints(t *testing.T) {
	h := newHarness(t, func(w *dosim.World) { w.LegacyOnly = true })
	h.wantCode(h.run("assign", ipv4), 0)
	h.wantHolder(ipv4, 1001)
	if n := len(h.requests("POST", "/v2/floating_ips/"+ipv4+"/actions")); n != 1 {
		t.Errorf("%d POSTs to the floating_ips endpoint, want 1", n)
	}
}

func TestAssignRateLimitedHonoursRetryAfter(t *testing.T) {
	h := newHarness(t)
	h.sim.AddFault(dosim.Fault{Method: "POST", Path: "/v2/reserved_ips/", Times: 1, Status: 429, RetryAfter: 1})
	r := h.run("assign", ipv4)
	h.wantCode(r, 0)
	h.wantHolder(ipv4, 1001)
	reqs := h.requests("POST", "/v2/reserved_ips/")
	if len(reqs) < 2 || reqs[0].Status != 429 {
		t.Fatalf("requests %+v, want a 429 then a retry", reqs)
	}
	if gap := reqs[1].Time.Sub(reqs[0].Time); gap < 900*time.Millisecond {
		t.Errorf("retried %v after a 429 with retry-after: 1, want about 1s", gap)
	}
}

func TestAssignRidesOut5xxBursts(t *testing.T) {
	h := newHarness(t)
	h.sim.AddFault(dosim.Fault{Method: "POST", Path: "/v2/", Times: 1, Status: 500})
	h.sim.AddFault(dosim.Fault{Method: "POST", Path: "/v2/", Times: 1, Status: 502, HTML: true})
	h.sim.AddFault(dosim.Fault{Method: "POST", Path: "/v2/", Times: 1, Status: 503})
	r := h.run("assign", ipv4)
	h.wantCode(r, 0)
	h.wantHolder(ipv4, 1001)
	h.wantPosts(4)
}

func TestAssignLostPostResponseDoesNotPostTwice(t *testing.T) {
	h := newHarness(t)
	h.sim.AddFault(dosim.Fault{Method: "POST", Path: "/v2/", Times: 1, LoseResponse: true})
	r := h.run("assign", ipv4)
	h.wantCode(r, 0)
	h.wantHolder(ipv4, 1001)
	// The POST was processed but its answer lost: do-fip waits, sees the move land in the metadata service
	// and confirms it with one read, instead of posting again into a 422.
	h.wantPosts(1)
}

func TestAssignErroredActionIsRetried(t *testing.T) {
	h := newHarness(t)
	h.sim.AddActionFault(dosim.ActionFault{Times: 1, Outcome: dosim.OutcomeErrored})
	h.env["DO_FIP_CHECK_AFTER"] = "500ms" // an errored move never shows in the metadata service
	r := h.run("assign", ipv4)
	h.wantCode(r, 0)
	h.wantHolder(ipv4, 1001)
	h.wantPosts(2)
}

func TestAssignStuckActionEndsAtTheDeadline(t *testing.T) {
	h := newHarness(t)
	h.sim.AddActionFault(dosim.ActionFault{Outcome: dosim.OutcomeStuck})
	r := h.run("assign", "--timeout", "2s", ipv4)
	// Accepted but never seen to land: exit 9, not the 6 of a run that got nothing accepted.
	h.wantCode(r, 9)
	if r.elapsed > 3*time.Second {
		t.Errorf("ran %v with a 2s deadline, want at most deadline + 1s", r.elapsed)
	}
	if !strings.Contains(r.stderr, "the API accepted the move but the deadline passed before it was seen to land") ||
		!strings.Contains(r.stderr, "hint: the move may still complete") {
		t.Errorf("stderr %q", r.stderr)
	}
}

func TestAssignActionNotFoundRightAfterCreate(t *testing.T) {
	h := newHarness(t)
	// Metadata of another droplet: no fast path, so completion must come from the API polls, which 404.
	h.env["DO_FIP_METADATA_URL"] = h.srv.URL + "/droplets/1002"
	h.sim.AddActionFault(dosim.ActionFault{Times: 1, NotFoundFor: 5 * time.Second})
	r := h.run("assign", "--droplet-id", "1001", ipv4)
	h.wantCode(r, 0)
	h.wantHolder(ipv4, 1001)
	h.wantPosts(1)
	var saw404 bool
	for _, q := range h.requests("GET", "/v2/reserved_ips/"+ipv4+"/actions/") {
		saw404 = saw404 || q.Status == 404
	}
	if !saw404 {
		t.Error("the action GET never answered 404; the fault did not apply")
	}
}

func TestAssignUnauthorizedStopsAtOnce(t *testing.T) {
	h := newHarness(t)
	h.env["DIGITALOCEAN_ACCESS_TOKEN"] = "dop_v1_" + strings.Repeat("0", 64)
	r := h.run("assign", ipv4)
	h.wantCode(r, 4)
	if n := len(h.requests("", "")); n != 1 {
		t.Errorf("%d API requests after a 401, want 1", n)
	}
	if !strings.Contains(r.stderr, "401") || !strings.Contains(r.stderr, "hint:") {
		t.Errorf("stderr %q", r.stderr)
	}
	if strings.Contains(r.stderr, strings.Repeat("0", 64)) {
		t.Error("the rejected token is printed")
	}
}

func TestAssignForbiddenHintsAtScopes(t *testing.T) {
	h := newHarness(t, func(w *dosim.World) { w.Tokens = nil; w.ReadOnlyTokens = []string{token} })
	r := h.run("assign", ipv4)
	h.wantCode(r, 4)
	if !strings.Contains(r.stderr, "reserved_ip:update") {
		t.Errorf("stderr %q lacks the scope hint", r.stderr)
	}
	h.wantHolder(ipv4, 0)
}

func TestAssignUnknownIP(t *testing.T) {
	h := newHarness(t)
	r := h.run("assign", "203.0.113.99")
	h.wantCode(r, 5)
	// The metadata service shows the IP elsewhere, so the POST is the first request: reserved_ips answers
	// 404, and so does the pre-2022 floating_ips endpoint.
	h.wantPosts(2)
	if !strings.Contains(r.stderr, "404") {
		t.Errorf("stderr %q", r.stderr)
	}
}

func TestAssignRegionMismatch(t *testing.T) {
	world := func(w *dosim.World) {
		w.Droplets = append(w.Droplets, dosim.Droplet{ID: 1003, Name: "lb-sfo", Region: "sfo3", PublicIPv4: "198.51.100.13"})
	}
	// The POST is the first request (the metadata service shows the IP elsewhere); DigitalOcean's 422 and one
	// read of the IP settle it, and nothing moves.
	t.Run("droplet from metadata", func(t *testing.T) {
		h := newHarness(t, world)
		h.env["DO_FIP_METADATA_URL"] = h.srv.URL + "/droplets/1003"
		r := h.run("assign", ipv4)
		h.wantCode(r, 5)
		h.wantPosts(1)
		h.wantHolder(ipv4, 0)
		if !strings.Contains(r.stderr, "region") {
			t.Errorf("stderr %q", r.stderr)
		}
	})
	t.Run("refused by the API", func(t *testing.T) {
		h := newHarness(t, world)
		h.env["DO_FIP_METADATA_URL"] = h.srv.URL + "/droplets/1001"
		r := h.run("assign", "--droplet-id", "1003", ipv4)
		h.wantCode(r, 5)
		h.wantPosts(1)
		h.wantHolder(ipv4, 0)
	})
}

func TestAssignMetadataDown(t *testing.T) {
	h := newHarness(t)
	h.sim.AddFault(dosim.Fault{Metadata: true, Status: 503})
	r := h.run("assign", ipv4)
	h.wantCode(r, 7)
	if n := len(h.requests("", "")); n != 0 {
		t.Errorf("%d API requests without a droplet ID, want 0", n)
	}
	if !strings.Contains(r.stderr, "--droplet-id") {
		t.Errorf("stderr %q lacks the --droplet-id hint", r.stderr)
	}
	r = h.run("assign", "--droplet-id", "1001", ipv4)
	h.wantCode(r, 0)
	h.wantHolder(ipv4, 1001)
}

func TestBadInputChangesNothing(t *testing.T) {
	tests := map[string]struct {
		args []string
		env  map[string]string
		conf string // config file content, when the row needs one
		code int
		want string
	}{
		"bad IP":                  {args: []string{"assign", "300.1.1.1"}, code: 2, want: `"300.1.1.1" is not an IP address`},
		"private IP":              {args: []string{"assign", "10.0.0.1"}, code: 2, want: "not a public unicast"},
		"IP twice":                {args: []string{"assign", ipv4, ipv4}, code: 2, want: "given twice"},
		"unknown flag":            {args: []string{"assign", "--frobnicate", ipv4}, code: 2, want: "flag provided but not defined"},
		"no IP anywhere":          {args: []string{"assign"}, code: 2, want: "no reserved IP given"},
		"non-numeric droplet ID":  {args: []string{"assign", "--droplet-id", "lb-a", ipv4}, code: 3, want: `"lb-a" is not a droplet ID`},
		"bad timeout":             {args: []string{"assign", "--timeout", "fast", ipv4}, code: 3, want: `timeout "fast"`},
		"http API without opt-in": {args: []string{"assign", ipv4}, env: map[string]string{"DO_FIP_INSECURE_API": ""}, code: 3, want: "refusing an http:// API URL"},
		"no token":                {args: []string{"assign", ipv4}, env: map[string]string{"DIGITALOCEAN_ACCESS_TOKEN": ""}, code: 3, want: "no API token"},
		"missing config file":     {args: []string{"assign", "--config", "/nonexistent/do-fip.conf", ipv4}, code: 3, want: "no such file"},
		"state dir is a file":     {args: []string{"assign", "--state-dir", "/dev/null", ipv4}, code: 3, want: "state dir /dev/null"},
		"completion of no shell":  {args: []string{"completion", "fish"}, code: 2, want: "bash or zsh"},

		// Malformed IPs, and one family where the other is expected. ips/--ip take both families; an
		// IPv4-mapped IPv6 address is the IPv4 address (so it and the IPv4 are the same IP given twice).
		"IP with a prefix length":   {args: []string{"assign", ipv4 + "/32"}, code: 2, want: `"203.0.113.10/32" is not an IP address`},
		"truncated IPv4":            {args: []string{"assign", "203.0.113"}, code: 2, want: `"203.0.113" is not an IP address`},
		"IPv6 in brackets":          {args: []string{"assign", "[" + ipv6 + "]"}, code: 2, want: "is not an IP address"},
		"IPv6 with a zone":          {args: []string{"assign", ipv6 + "%eth0"}, code: 2, want: "a reserved IP has no zone"},
		"IPv6 link-local":           {args: []string{"assign", "fe80::1"}, code: 2, want: "not a public unicast"},
		"IPv4-mapped and IPv4":      {args: []string{"assign", "::ffff:" + ipv4, ipv4}, code: 2, want: "203.0.113.10 is given twice"},
		"bad --ip":                  {args: []string{"assign", "--ip", "2001:db8::/64"}, code: 2, want: "bad --ip"},
		"bad IP in DO_FIP_IPS":      {args: []string{"assign"}, env: map[string]string{"DO_FIP_IPS": ipv4 + ",2001:db8:10::zz"}, code: 3, want: `ips from DO_FIP_IPS: "2001:db8:10::zz" is not an IP address`},
		"bad IP in the config file": {args: []string{"assign"}, conf: "ips = " + ipv4 + " 300.1.1.1\n", code: 3, want: `ips from CONF:1: "300.1.1.1" is not an IP address`},
		"multicast IP":              {args: []string{"assign", "224.0.0.18"}, code: 2, want: "not a public unicast"},
		// Droplet IDs.
		"tutorial form, droplet 0":   {args: []string{"assign", ipv4, "0"}, code: 2, want: `bad droplet ID argument: "0" is not a droplet ID`},
		"tutorial form, name for ID": {args: []string{"assign", ipv4, "lb-a"}, code: 2, want: `"lb-a" is not an IP address`},
		"droplet ID too large":       {args: []string{"assign", "--droplet-id", "99999999999999999999", ipv4}, code: 3, want: "is not a droplet ID"},
		"negative droplet ID in env": {args: []string{"assign", ipv4}, env: map[string]string{"DO_FIP_DROPLET_ID": "-5"}, code: 3, want: `"-5" is not a droplet ID`},
		"hex droplet ID in config":   {args: []string{"assign", ipv4}, conf: "droplet_id = 0x3e9\n", code: 3, want: `droplet id from CONF:1: "0x3e9" is not a droplet ID`},
		// Config files.
		"config file is a directory": {args: []string{"assign", "--config", "/", ipv4}, code: 3, want: "config file /: invalid setting: is a directory"},
		"unknown key in config":      {args: []string{"assign", ipv4}, conf: "# do-fip\n\ntimeuot = 5s\n", code: 3, want: `CONF:3: config syntax error: unknown key "timeuot"`},
		"line without '='":           {args: []string{"assign", ipv4}, conf: "timeout 5s\n", code: 3, want: "CONF:1: config syntax error: expected key = value"},
		"unterminated quote":         {args: []string{"assign", ipv4}, conf: "state_dir = \"/var/lib/do-fip\n", code: 3, want: "CONF:1: config syntax error: state_dir: unterminated"},
		"key set twice":              {args: []string{"assign", ipv4}, conf: "timeout = 5s\ntimeout = 6s\n", code: 3, want: `CONF:2: config syntax error: "timeout" already set on line 1`},
		"bad log level in config":    {args: []string{"assign", ipv4}, conf: "log_level = loud\n", code: 3, want: `log level "loud" from CONF:1`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			for k, v := range tc.env {
				h.env[k] = v
			}
			want := tc.want
			if tc.conf != "" {
				conf := filepath.Join(h.dir, "row.conf")
				if err := os.WriteFile(conf, []byte(tc.conf), 0o644); err != nil {
					t.Fatal(err)
				}
				h.env["DO_FIP_CONFIG"] = conf
				want = strings.ReplaceAll(want, "CONF", conf)
			}
			r := h.run(tc.args...)
			h.wantCode(r, tc.code)
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr %q, want %q", r.stderr, want)
			}
			if lines := strings.Count(strings.TrimSpace(r.stderr), "\n") + 1; lines > 2 {
				t.Errorf("error takes %d lines, want one (and a hint): %q", lines, r.stderr)
			}
			if n := h.allRequests(); n != 0 {
				t.Errorf("%d requests made on bad input, want 0", n)
			}
		})
	}
}

func TestConfigFileErrors(t *testing.T) {
	h := newHarness(t)
	conf := filepath.Join(h.dir, "bad.conf")
	os.WriteFile(conf, []byte("ips = "+ipv4+"\ntimeuot = 5s\n"), 0o644)
	r := h.run("assign", "--config", conf)
	h.wantCode(r, 3)
	if !strings.Contains(r.stderr, `bad.conf:2: config syntax error: unknown key "timeuot"`) {
		t.Errorf("stderr %q", r.stderr)
	}
	if h.allRequests() != 0 {
		t.Error("requests made with a broken config")
	}
}

func TestTokenFilePermissions(t *testing.T) {
	h := newHarness(t)
	h.env["DIGITALOCEAN_ACCESS_TOKEN"] = ""
	p := filepath.Join(h.dir, "token")
	os.WriteFile(p, []byte(token+"\n"), 0o644)
	os.Chmod(p, 0o644)
	r := h.run("assign", "--token-file", p, ipv4)
	h.wantCode(r, 3)
	if !strings.Contains(r.stderr, "chmod 600") {
		t.Errorf("stderr %q lacks the fix", r.stderr)
	}
	if h.allRequests() != 0 {
		t.Error("requests made with a loose token file")
	}
	os.Chmod(p, 0o600)
	h.wantCode(h.run("assign", "--token-file", p, ipv4), 0)
	h.wantHolder(ipv4, 1001)
}

func TestPrecedenceFlagEnvFile(t *testing.T) {
	h := newHarness(t)
	h.env["DO_FIP_METADATA_URL"] = h.srv.URL + "/droplets/1001"
	conf := filepath.Join(h.dir, "prec.conf")
	os.WriteFile(conf, []byte("droplet_id = 1002\nips = "+ipv4+"\n"), 0o644)
	h.env["DO_FIP_CONFIG"] = conf

	h.wantCode(h.run("assign"), 0)
	h.wantHolder(ipv4, 1002) // file over the metadata default

	h.env["DO_FIP_DROPLET_ID"] = "1001"
	h.wantCode(h.run("assign"), 0)
	h.wantHolder(ipv4, 1001) // env over file

	h.wantCode(h.run("assign", "--droplet-id", "1002"), 0)
	h.wantHolder(ipv4, 1002) // flag over env
}

func TestTokenNeverLogged(t *testing.T) {
	h := newHarness(t)
	h.env["DO_FIP_LOG_LEVEL"] = "debug"
	h.sim.AddFault(dosim.Fault{Method: "GET", Path: "/v2/", Times: 1, Status: 429, RetryAfter: 1})
	h.sim.AddFault(dosim.Fault{Method: "POST", Path: "/v2/", Times: 1, Status: 500})
	h.wantCode(h.run("assign", ipv4), 0)
	h.wantCode(h.run("status", "--json", ipv4), 0)
	// run() fails the test if the token shows up anywhere; make sure debug lines were really written.
	if !strings.Contains(h.logFile(), `"level":"debug"`) {
		t.Fatal("no debug lines logged; the check proves nothing")
	}
}

func TestStatusJSON(t *testing.T) {
	h := newHarness(t)
	h.sim.Assign(ipv4, 1002)
	h.wantCode(h.run("assign", ipv4), 0)
	r := h.run("status", "--json", ipv4, ipv6)
	h.wantCode(r, 0)
	var st struct {
		DropletID int    `json:"droplet_id"`
		Hostname  string `json:"hostname"`
		IPs       []struct {
			IP       string `json:"ip"`
			Holder   int    `json:"holder_droplet_id"`
			HeldHere bool   `json:"held_here"`
			Metadata bool   `json:"metadata_held_here"`
		} `json:"ips"`
		LastAssign *struct {
			Result string `json:"result"`
			IPs    []struct {
				Result   string `json:"result"`
				ActionID int    `json:"action_id"`
			} `json:"ips"`
		} `json:"last_assign"`
		RateLimit *struct {
			Remaining int `json:"remaining"`
		} `json:"rate_limit"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, r.stdout)
	}
	if st.DropletID != 1001 || st.Hostname != "lb-a" || len(st.IPs) != 2 {
		t.Fatalf("status %+v", st)
	}
	if st.IPs[0].IP != ipv4 || st.IPs[0].Holder != 1001 || !st.IPs[0].HeldHere || !st.IPs[0].Metadata {
		t.Errorf("v4 %+v", st.IPs[0])
	}
	if st.IPs[1].Holder != 0 || st.IPs[1].HeldHere {
		t.Errorf("v6 %+v", st.IPs[1])
	}
	if st.LastAssign == nil || st.LastAssign.Result != "ok" || st.LastAssign.IPs[0].Result != "moved" || st.LastAssign.IPs[0].ActionID == 0 {
		t.Errorf("last_assign %+v", st.LastAssign)
	}
	if st.RateLimit == nil || st.RateLimit.Remaining <= 0 {
		t.Errorf("rate_limit %+v", st.RateLimit)
	}
	if h.requests("POST", "") == nil || len(h.requests("POST", "")) != 1 {
		t.Error("status made a POST")
	}
}

func TestStatusTable(t *testing.T) {
	h := newHarness(t)
	h.sim.Assign(ipv4, 1002)
	r := h.run("status", ipv4)
	h.wantCode(r, 0)
	for _, want := range []string{"this droplet: 1001 lb-a, region nyc3", ipv4 + "  1002 lb-b", "last assign: none recorded"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestVersionAndMan(t *testing.T) {
	h := newHarness(t)
	r := h.run("--version")
	h.wantCode(r, 0)
	if !strings.HasPrefix(r.stdout, "do-fip version ") {
		t.Errorf("--version: %q", r.stdout)
	}
	r = h.run("man")
	h.wantCode(r, 0)
	for _, want := range []string{".TH do-fip 1", ".SH EXIT STATUS", ".SH ENVIRONMENT", "DO_FIP_TIMEOUT", "assign", "status", "reconcile"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("man page lacks %q", want)
		}
	}
	for _, sh := range []string{"bash", "zsh"} {
		r = h.run("completion", sh)
		h.wantCode(r, 0)
		if !strings.Contains(r.stdout, "--generate-bash-completion") {
			t.Errorf("%s completion: %q", sh, r.stdout)
		}
	}
}

// The common options work before the command too, as doctl's and kubectl's do; after the command wins.
func TestGlobalOptionsBeforeTheCommand(t *testing.T) {
	h := newHarness(t)
	h.env["DO_FIP_IPS"] = ipv4
	r := h.run("--log-level", "debug", "status")
	h.wantCode(r, 0)
	if !strings.Contains(r.stderr, "DBG") {
		t.Errorf("--log-level debug before the command logged no debug line:\n%s", r.stderr)
	}
	r = h.run("--log-level", "bogus", "status", "--log-level", "info")
	h.wantCode(r, 0)
	r = h.run("--log-level", "bogus", "status")
	h.wantCode(r, 3)
	if !strings.Contains(r.stderr, `log level "bogus"`) {
		t.Errorf("stderr %q", r.stderr)
	}
	r = h.run("--timeout", "5s", "assign", ipv4)
	h.wantCode(r, 0)
	if !strings.Contains(h.logFile(), `"timeout":"5s"`) {
		t.Errorf("--timeout before the command not used:\n%s", h.logFile())
	}
}

// status with a rejected token exits 4 (auth), as the README's table says, with an error and a hint line.
func TestStatusRejectedTokenExits4(t *testing.T) {
	h := newHarness(t)
	h.env["DIGITALOCEAN_ACCESS_TOKEN"] = "dop_v1_" + strings.Repeat("2", 64)
	r := h.run("status", ipv4)
	h.wantCode(r, 4)
	if !strings.Contains(r.stderr, "do-fip: error:") || !strings.Contains(r.stderr, "401") || !strings.Contains(r.stderr, "hint: check the token") {
		t.Errorf("stderr %q, want the 401 and a hint", r.stderr)
	}
	// The report is still printed.
	if !strings.Contains(r.stdout, ipv4) {
		t.Errorf("stdout %q", r.stdout)
	}
}
