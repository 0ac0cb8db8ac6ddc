package e2e

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/do-fip/do-fip/dosim"
)

// The lab's addresses live only inside the namespaces a test creates.
const (
	subnet     = "10.200.0.0/24"
	cloudAddr  = "10.200.0.2"
	metaAddr   = "169.254.169.254"
	reservedIP = "203.0.113.10"
	// reservedIPv6 is the second reserved IP of the active/active lab.
	reservedIPv6 = "2001:db8:10::10"
	bogusMAC     = "02:00:00:00:de:ad"
	scriptUser   = "keepalived_script"
	instance     = "VI_1"
)

// labOptions shapes one lab.
type labOptions struct {
	nodes      int           // load balancers, lb1..lbN, droplets 1001..100N
	priorities []int         // VRRP priority per node; default 150, 100, 50
	noPreempt  bool          // keepalived's nopreempt on every node
	latency    time.Duration // the simulator's action latency; default 1s
	// activeActive runs two instances, VI_V4 and VI_V6, one per reserved IP, each node
	// the preferred MASTER of one, as in examples/keepalived/active-active.
	activeActive bool
}

// lab is one test's world: a bridge namespace joining one namespace per load balancer and
// a cloud namespace where the simulator serves the API and the metadata service.
type lab struct {
	t      *testing.T
	dir    string
	bridge string
	cloud  string
	bin    string // do-fip: every node's hook, and the simulator
	nodes  []*node
	sim    *cloud
	// latency is the simulator's action latency, for timing a move to the instant the
	// simulator completed it; a test that changes it there changes it here, and 0 makes
	// the harness time moves by polling alone.
	latency time.Duration
	// ruleChecked: the end-of-scenario alert rule check ran (metrics_test.go).
	ruleChecked bool
}

// node is one load balancer: a namespace, a keepalived, and do-fip's files.
type node struct {
	lab       *lab
	name      string // lb1
	ns        string
	addr      string
	mac       string
	dropletID int
	priority  int
	dir       string
	health    string // file whose presence is the node's health check
	ka        *proc
	starts    int
}

// newLab builds the namespaces and writes each node's files; keepalived is not started.
func newLab(t *testing.T, opt labOptions) *lab {
	t.Helper()
	requireLab(t)
	if opt.nodes == 0 {
		opt.nodes = 2
	}
	if opt.priorities == nil {
		opt.priorities = []int{150, 100, 50}[:opt.nodes]
	}
	ensureScriptUser(t)
	l := &lab{t: t, dir: scriptDir(t), bridge: nsName(t, "br"), cloud: nsName(t, "cloud")}
	l.bin = buildDoFip(t, l.dir)

	addNS(t, l.bridge)
	ipIn(t, l.bridge, "link", "add", "br0", "type", "bridge")
	ipIn(t, l.bridge, "link", "set", "br0", "up")
	attach := func(ns, port, addr string) {
		ipIn(t, l.bridge, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
		ipIn(t, l.bridge, "link", "set", port, "master", "br0", "up")
		ipIn(t, ns, "addr", "add", addr+"/24", "dev", "eth0")
		ipIn(t, ns, "link", "set", "eth0", "up")
	}

	addNS(t, l.cloud)
	attach(l.cloud, "vcloud", cloudAddr)
	// The metadata service's link-local address sits on the cloud's loopback; nodes
	// reach it through a route, so the simulator sees each node's own source address.
	ipIn(t, l.cloud, "addr", "add", metaAddr+"/32", "dev", "lo")

	for i := 0; i < opt.nodes; i++ {
		n := &node{
			lab:       l,
			name:      fmt.Sprintf("lb%d", i+1),
			addr:      fmt.Sprintf("10.200.0.%d", 11+i),
			dropletID: 1001 + i,
			priority:  opt.priorities[i],
		}
		n.ns = nsName(t, n.name)
		n.dir = filepath.Join(l.dir, n.name)
		n.health = filepath.Join(n.dir, "healthy")
		addNS(t, n.ns)
		attach(n.ns, "v"+n.name, n.addr)
		ipIn(t, n.ns, "route", "add", metaAddr+"/32", "via", cloudAddr)
		n.mac = linkMAC(t, n.ns, "eth0")
		l.nodes = append(l.nodes, n)
	}
	for _, n := range l.nodes {
		n.writeFiles(opt)
	}
	if opt.latency == 0 {
		opt.latency = time.Second
	}
	l.latency = opt.latency
	l.sim = l.startCloud(opt.latency)
	t.Cleanup(l.explainFailure)
	return l
}

// start starts keepalived on every node and waits until one node is MASTER.
func (l *lab) start() *node {
	l.t.Helper()
	since := time.Now()
	for _, n := range l.nodes {
		n.setHealthy(true)
		n.start()
	}
	return l.waitMaster(since, 15*time.Second)
}

// waitMaster waits until some node enters MASTER at or after since.
func (l *lab) waitMaster(since time.Time, timeout time.Duration) *node {
	l.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, n := range l.nodes {
			if _, ok := n.stateLine("MASTER", since); ok {
				return n
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	l.t.Fatalf("no node entered MASTER within %v", timeout)
	return nil
}

// scriptDir returns a test directory that keepalived's script_user can traverse: the
// hooks run as keepalived_script and enable_script_security refuses a script under a
// directory that others can write.
func scriptDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// ensureScriptUser creates the keepalived_script user the examples run hooks as, as the
// package does, when the host does not have it yet.
func ensureScriptUser(t *testing.T) {
	t.Helper()
	if _, err := user.Lookup(scriptUser); err == nil {
		return
	}
	run(t, "useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", scriptUser)
	t.Logf("created user %s", scriptUser)
}

// scriptIDs returns keepalived_script's uid and gid.
func scriptIDs(t *testing.T) (int, int) {
	t.Helper()
	u, err := user.Lookup(scriptUser)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return uid, gid
}

// keepalivedConf is a node's keepalived.conf: the hook wiring of
// examples/keepalived/two-node/lb1.conf (one instance) or of the active/active example
// (one instance per reserved IP, each hook given its IP) - or, for keepalived before 2.0.6,
// the per-state wiring of examples/keepalived/two-node-1.3 - with the test's paths, and a
// health check on a file the test toggles instead of HAProxy.
var keepalivedConf = template.Must(template.New("keepalived.conf").Parse(`# {{.Name}}, written by the e2e harness
global_defs {
    router_id {{.Name}}
    enable_script_security
    script_user {{.User}}
}

vrrp_script chk_health {
    script "/usr/bin/test -f {{.Health}}"
    interval 1
    fall 1
    rise 1
}
{{range .Instances}}
vrrp_script chk_do_fip{{.Suffix}} {
    script "{{$.Bin}} reconcile --timeout 20s{{.IPFlag}}"
    interval 15
    timeout 25
    weight 0
}
{{end}}
{{- range .Instances}}
vrrp_instance {{.Name}} {
    interface eth0
    state BACKUP
    virtual_router_id {{.VRID}}
    priority {{.Priority}}
    advert_int 1
{{- if $.NoPreempt}}
    nopreempt
{{- end}}
    unicast_src_ip {{$.Addr}}
    unicast_peer {
{{- range $.Peers}}
        {{.}}
{{- end}}
    }
    track_script {
        chk_health
        chk_do_fip{{.Suffix}}
    }
{{- if $.PerState}}
    notify_master "{{$.Bin}} notify{{.IPFlag}} MASTER"
    notify_backup "{{$.Bin}} notify{{.IPFlag}} BACKUP"
    notify_fault "{{$.Bin}} notify{{.IPFlag}} FAULT"
{{- else}}
    notify "{{$.Bin}} notify{{.IPFlag}}"
    notify_master_rx_lower_pri "{{$.Bin}} reconcile --now{{.IPFlag}}"
{{- end}}
}
{{end}}`))

// kaInstance is one vrrp_instance of a node's keepalived.conf.
type kaInstance struct {
	Name     string
	VRID     int
	Priority int
	IPFlag   string // " --ip IP" on every do-fip hook, or "" to use do-fip.conf's ips
	Suffix   string // of its chk_do_fip check
}

// instances are the node's VRRP instances: VI_1 for the reserved IPv4, or, active/active,
// VI_V4 (lb1 preferred) and VI_V6 (lb2 preferred), one per reserved IP.
func (n *node) instances(opt labOptions) []kaInstance {
	if !opt.activeActive {
		return []kaInstance{{Name: instance, VRID: 51, Priority: n.priority}}
	}
	v4, v6 := 150, 100
	if n.name != "lb1" {
		v4, v6 = 100, 150
	}
	return []kaInstance{
		{Name: "VI_V4", VRID: 51, Priority: v4, IPFlag: " --ip " + reservedIP, Suffix: "_v4"},
		{Name: "VI_V6", VRID: 52, Priority: v6, IPFlag: " --ip " + reservedIPv6, Suffix: "_v6"},
	}
}

// writeFiles writes the node's keepalived.conf and creates the directories do-fip uses.
func (n *node) writeFiles(opt labOptions) {
	t := n.lab.t
	t.Helper()
	uid, gid := scriptIDs(t)
	for _, d := range []string{n.dir, n.stateDir(), filepath.Dir(n.logFile()), n.metricsDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{n.stateDir(), filepath.Dir(n.logFile()), n.metricsDir()} {
		if err := os.Chown(d, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	var peers []string
	for _, o := range n.lab.nodes {
		if o != n {
			peers = append(peers, o.addr)
		}
	}
	var b strings.Builder
	err := keepalivedConf.Execute(&b, map[string]any{
		"Name": n.name, "User": scriptUser, "Health": n.health, "Bin": n.lab.bin,
		"Instances": n.instances(opt), "NoPreempt": opt.noPreempt,
		"Addr": n.addr, "Peers": peers, "PerState": keepalived(t).perState(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(n.confFile(), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (n *node) confFile() string { return filepath.Join(n.dir, "keepalived.conf") }
func (n *node) stateDir() string { return filepath.Join(n.dir, "state") }
func (n *node) logFile() string  { return filepath.Join(n.dir, "log", "do-fip.log") }

// env is keepalived's whole environment; keepalived hands it to every hook.
func (n *node) env() []string {
	return []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"DO_FIP_CONFIG=" + filepath.Join(n.dir, "do-fip.conf"),
		// The simulator speaks plain HTTP; this is the only way do-fip accepts that.
		"DO_FIP_INSECURE_API=1",
	}
}

// start starts keepalived in the node's namespace.
func (n *node) start() {
	t := n.lab.t
	t.Helper()
	n.starts++
	n.ka = startKeepalived(t, n.ns, fmt.Sprintf("%s-keepalived-%d", n.name, n.starts), n.dir, n.confFile(), n.env())
	t.Cleanup(n.lab.ruleQuietAtEnd)
}

// startKeepalived runs the keepalived under test with conf in namespace ns (see kaUnderTest.argv).
func startKeepalived(t *testing.T, ns, name, dir, conf string, env []string) *proc {
	t.Helper()
	return startProc(t, ns, name, dir, env, keepalived(t).argv(dir, conf)...)
}

// crash kills keepalived and its children at once with SIGKILL: no priority-0 advert, the
// peers notice only the missing adverts.
func (n *node) crash() {
	n.lab.t.Helper()
	if err := n.ka.signal(9, 5*time.Second); err != nil {
		n.lab.t.Fatal(err)
	}
}

// setHealthy creates or removes the file the node's health check tests.
func (n *node) setHealthy(ok bool) {
	t := n.lab.t
	t.Helper()
	if ok {
		if err := os.WriteFile(n.health, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := os.Remove(n.health); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
}

// cutFrom stops VRRP between n and o in both directions while both still reach the cloud:
// a permanent neighbour entry with a MAC nobody has (no iptables or tc needed).
func (n *node) cutFrom(o *node) {
	ipIn(n.lab.t, n.ns, "neigh", "replace", o.addr, "lladdr", bogusMAC, "nud", "permanent", "dev", "eth0")
	ipIn(n.lab.t, o.ns, "neigh", "replace", n.addr, "lladdr", bogusMAC, "nud", "permanent", "dev", "eth0")
}

// healTowards restores n's neighbour entry for o, so that n's packets reach o again
// (one direction of what cutFrom broke).
func (n *node) healTowards(o *node) {
	ipIn(n.lab.t, n.ns, "neigh", "replace", o.addr, "lladdr", o.mac, "nud", "reachable", "dev", "eth0")
}

// stateRE matches keepalived's state changes, e.g. "(VI_1) Entering MASTER STATE" and
// "(VI_1): entering FAULT state (interface eth0 down)".
var stateRE = regexp.MustCompile(`\((\w+)\):? [Ee]ntering (MASTER|BACKUP|FAULT) (?i:state)`)

// stateLine returns the node's first entry into state at or after since.
func (n *node) stateLine(state string, since time.Time) (line, bool) {
	if n.ka == nil {
		return line{}, false
	}
	return n.ka.out.find(since, func(s string) bool {
		m := stateRE.FindStringSubmatch(s)
		return m != nil && m[2] == state
	})
}

// waitState waits for the node (any of its instances) to enter state at or after since.
func (n *node) waitState(state string, since time.Time, timeout time.Duration) time.Time {
	n.lab.t.Helper()
	return n.waitInstanceState("", state, since, timeout)
}

// waitInstanceState waits for instance inst ("" for any) to enter state at or after since.
func (n *node) waitInstanceState(inst, state string, since time.Time, timeout time.Duration) time.Time {
	t := n.lab.t
	t.Helper()
	ln, ok := n.ka.out.waitFor(since, timeout, func(s string) bool {
		m := stateRE.FindStringSubmatch(s)
		return m != nil && m[2] == state && (inst == "" || m[1] == inst)
	})
	if !ok {
		t.Fatalf("%s %s did not enter %s within %v", n.name, inst, state, timeout)
	}
	return ln.at
}

// state is the node's current VRRP state per its log ("" before the first change).
func (n *node) state() string {
	if n.ka == nil || !n.ka.running() {
		return "DOWN"
	}
	st := ""
	for _, ln := range n.ka.out.all() {
		if m := stateRE.FindStringSubmatch(ln.text); m != nil {
			st = m[2]
		}
	}
	return st
}

// lastState is when the node last entered state (zero if never).
func (n *node) lastState(state string) time.Time {
	var at time.Time
	if n.ka == nil {
		return at
	}
	for _, ln := range n.ka.out.all() {
		if m := stateRE.FindStringSubmatch(ln.text); m != nil && m[2] == state {
			at = ln.at
		}
	}
	return at
}

// transitions counts the node's state changes since t0.
func (n *node) transitions(t0 time.Time) int {
	count := 0
	for _, ln := range n.ka.out.all() {
		if !ln.at.Before(t0) && stateRE.MatchString(ln.text) {
			count++
		}
	}
	return count
}

// waitLine waits for a keepalived log line on the node and returns when it was read.
func (n *node) waitLine(since time.Time, timeout time.Duration, match func(string) bool) time.Time {
	t := n.lab.t
	t.Helper()
	ln, ok := n.ka.out.waitFor(since, timeout, match)
	if !ok {
		t.Fatalf("%s: no matching keepalived line within %v; log:\n%s", n.name, timeout, dump(n.ka.out))
	}
	return ln.at
}

// explainFailure logs, when the test failed, what a reader needs to see why: every
// node's keepalived state changes, every do-fip run's decisions, and the API requests.
func (l *lab) explainFailure() {
	t := l.t
	if !t.Failed() {
		return
	}
	var b strings.Builder
	for _, n := range l.nodes {
		fmt.Fprintf(&b, "--- %s (%s, droplet %d) keepalived:\n", n.name, n.addr, n.dropletID)
		if n.ka != nil {
			for _, ln := range n.ka.out.all() {
				if stateRE.MatchString(ln.text) || strings.Contains(ln.text, "advert") || strings.Contains(ln.text, "VRRP_Script") {
					fmt.Fprintf(&b, "%s %s\n", ln.at.Format("15:04:05.000"), ln.text)
				}
			}
		}
		fmt.Fprintf(&b, "--- %s do-fip log (info and above):\n", n.name)
		if data, err := os.ReadFile(n.logFile()); err == nil {
			for _, ln := range strings.Split(string(data), "\n") {
				if ln != "" && !strings.Contains(ln, `"level":"debug"`) {
					b.WriteString(ln + "\n")
				}
			}
		}
	}
	if l.sim != nil && l.sim.sim.running() {
		b.WriteString("--- API requests:\n")
		var reqs []dosim.Request
		if err := l.sim.do("GET", "/_sim/requests", nil, &reqs); err == nil {
			for _, r := range reqs {
				if !r.Metadata {
					fmt.Fprintf(&b, "%s %s %s %d %s\n", r.Time.Format("15:04:05.000"), r.Method, r.Path, r.Status, r.Body)
				}
			}
		}
	}
	t.Logf("what happened:\n%s", b.String())
}
