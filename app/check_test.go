package app_test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/do-fip/do-fip/dosim"
)

// The check tests build each setup for real: the shipped examples installed under a directory of their own
// (as the package installs them, owned by a throwaway system user made for the test), a fake `keepalived
// --version`, and the simulator for the API and the metadata service. They need root to create users and
// give files away; CI runs as root.

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI must run this: it needs root to create users and give files to them")
		}
		t.Skip("needs root to create users and give files to them (sudo go test ./app/ -run TestCheck)")
	}
}

// userMu serializes useradd and userdel, which lock /etc/passwd and fail when another holds the lock.
var userMu sync.Mutex

// addUser creates a throwaway system user (useradd arguments after the name) and deletes it, and its group,
// when the test ends.
func addUser(t *testing.T, name string, args ...string) {
	t.Helper()
	userMu.Lock()
	defer userMu.Unlock()
	out, err := exec.Command("useradd", append(append([]string{"--system", "--no-create-home", "--shell", "/usr/sbin/nologin"}, args...), name)...).CombinedOutput()
	if err != nil {
		t.Fatalf("useradd %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		userMu.Lock()
		defer userMu.Unlock()
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v: %s", name, err, out)
		}
		_ = exec.Command("groupdel", name).Run() // a group of its own, if it still exists
	})
}

func addGroup(t *testing.T, name string) {
	t.Helper()
	userMu.Lock()
	defer userMu.Unlock()
	if out, err := exec.Command("groupadd", "--system", name).CombinedOutput(); err != nil {
		t.Fatalf("groupadd %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		userMu.Lock()
		defer userMu.Unlock()
		_ = exec.Command("groupdel", name).Run()
	})
}

var userSeq struct {
	sync.Mutex
	n int
}

// throwawayName is a user name no real system has.
func throwawayName() string {
	userSeq.Lock()
	defer userSeq.Unlock()
	userSeq.n++
	return fmt.Sprintf("dfck%d_%d", os.Getpid()%100000, userSeq.n)
}

// checkSetup is one load balancer's files under root: keepalived.conf, do-fip.conf, the token, the state dir
// and the do-fip binary keepalived.conf names.
type checkSetup struct {
	*harness
	root       string
	user       string // the hook user (script_user) and its group
	kaConf     string
	conf       string
	token      string
	state      string
	bin        string
	keepalived string // a fake keepalived binary: its version string and nothing that runs
}

func (s *checkSetup) path(p string) string { return filepath.Join(s.root, p) }

// newCheckSetup installs the two-node example (lb1) and the example do-fip.conf as the package installs
// them, with every absolute path moved under a new directory and script_user a new throwaway user.
func newCheckSetup(t *testing.T, mutate ...func(*dosim.World)) *checkSetup {
	needRoot(t)
	h := newHarness(t, mutate...)
	root, err := os.MkdirTemp("", "do-fip-check-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	s := &checkSetup{harness: h, root: root, user: throwawayName()}
	addUser(t, s.user, "--user-group")
	s.kaConf = s.path("etc/keepalived/keepalived.conf")
	s.conf = s.path("etc/do-fip/do-fip.conf")
	s.token = s.path("etc/do-fip/token")
	s.state = s.path("var/lib/do-fip")
	s.bin = s.path("usr/bin/do-fip")
	s.keepalived = s.path("usr/sbin/keepalived")
	for _, d := range []string{"etc/keepalived", "etc/do-fip", "usr/bin", "usr/sbin", "var/lib"} {
		if err := os.MkdirAll(s.path(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ka, err := os.ReadFile("../examples/keepalived/two-node/lb1.conf")
	if err != nil {
		t.Fatal(err)
	}
	s.writeKA(strings.NewReplacer("/usr/bin/do-fip", s.bin, "script_user keepalived_script", "script_user "+s.user).Replace(string(ka)))
	conf, err := os.ReadFile("../examples/do-fip.conf")
	if err != nil {
		t.Fatal(err)
	}
	s.install(s.conf, strings.NewReplacer("/etc/do-fip/token", s.token, "/var/lib/do-fip", s.state).Replace(string(conf)), "root", s.user, 0o640)
	s.install(s.token, token+"\n", "root", s.user, 0o640)
	if err := os.Mkdir(s.state, 0o750); err != nil {
		t.Fatal(err)
	}
	s.chown(s.state, s.user, s.user)
	s.install(s.bin, "#!/bin/sh\n", "root", "root", 0o755)
	s.setKeepalived("2.2.7")
	// The config file names the token file and the state dir; the harness's environment would override them.
	h.env["DIGITALOCEAN_ACCESS_TOKEN"] = ""
	h.env["DO_FIP_STATE_DIR"] = ""
	h.env["DO_FIP_LOG_FILE"] = ""
	h.env["DO_FIP_CONFIG"] = s.conf
	return s
}

func (s *checkSetup) writeKA(text string) {
	s.t.Helper()
	s.install(s.kaConf, text, "root", "root", 0o644)
}

// editKA replaces old with new in keepalived.conf; old must be there.
func (s *checkSetup) editKA(old, new string) {
	s.t.Helper()
	b, err := os.ReadFile(s.kaConf)
	if err != nil {
		s.t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		s.t.Fatalf("keepalived.conf has no %q", old)
	}
	s.writeKA(strings.Replace(string(b), old, new, 1))
}

// setKeepalived writes a fake keepalived that carries a version string as keepalived's binary does.
// at is "keepalived.conf:N" for the first line of keepalived.conf that holds text.
func (s *checkSetup) at(text string) string {
	s.t.Helper()
	b, err := os.ReadFile(s.kaConf)
	if err != nil {
		s.t.Fatal(err)
	}
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, text) {
			return fmt.Sprintf("%s:%d", s.kaConf, i+1)
		}
	}
	s.t.Fatalf("keepalived.conf has no line with %q", text)
	return ""
}

func (s *checkSetup) setKeepalived(version string) {
	s.install(s.keepalived, fmt.Sprintf("\x7fELF\x00not a program\x00Keepalived v%s (01/16,2022)\x00", version), "root", "root", 0o755)
}

func (s *checkSetup) install(p, content, user, group string, mode os.FileMode) {
	s.t.Helper()
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		s.t.Fatal(err)
	}
	s.chown(p, user, group)
}

func (s *checkSetup) chown(p, user, group string) {
	s.t.Helper()
	if out, err := exec.Command("chown", user+":"+group, p).CombinedOutput(); err != nil {
		s.t.Fatalf("chown %s:%s %s: %v: %s", user, group, p, err, out)
	}
}

func (s *checkSetup) check(args ...string) result {
	s.t.Helper()
	return s.run(append([]string{"check", "--keepalived-config", s.kaConf, "--keepalived", s.keepalived}, args...)...)
}

// lines returns the report's lines with the given status ("ok", "warn", "FAIL").
func lines(r result, status string) []string {
	var out []string
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(l, status+" ") {
			out = append(out, l)
		}
	}
	return out
}

// wantLine fails unless the report has exactly this line.
func (s *checkSetup) wantLine(r result, line string) {
	s.t.Helper()
	for _, l := range strings.Split(r.stdout, "\n") {
		if l == line {
			return
		}
	}
	s.t.Fatalf("no line\n%s\nin\n%s%s", line, r.stdout, r.stderr)
}

// wantMatch fails unless a line of the report matches the pattern (for lines with a request ID or an OS
// error in them).
func (s *checkSetup) wantMatch(r result, pattern string) {
	s.t.Helper()
	re := regexp.MustCompile("^" + pattern + "$")
	for _, l := range strings.Split(r.stdout, "\n") {
		if re.MatchString(l) {
			return
		}
	}
	s.t.Fatalf("no line matching\n%s\nin\n%s%s", pattern, r.stdout, r.stderr)
}

func TestCheckGoodSetupPasses(t *testing.T) {
	// The droplet's anchor IP is where reserved-IP traffic arrives; here it is loopback, where the test listens.
	s := newCheckSetup(t, func(w *dosim.World) { w.Droplets[0].AnchorIPv4 = "127.0.0.1" })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	r := s.check("--port", strconv.Itoa(port))
	s.wantCode(r, 0)
	if f := lines(r, "FAIL"); len(f) > 0 {
		t.Fatalf("FAIL lines in a good setup:\n%s", r.stdout)
	}
	want := []string{
		"ok    keepalived: " + s.keepalived + " is keepalived 2.2.7",
		"ok    keepalived.conf: read " + s.kaConf,
		"ok    hook lines: 3 do-fip lines, each quoted as one command and running the command its hook needs",
		"ok    wiring VI_1: the generic notify runs do-fip notify (" + s.at(`notify "`) + ")",
		"ok    split brain VI_1: notify_master_rx_lower_pri and periodic check chk_do_fip (every 15s, timeout 25s, weight 0)",
		"ok    unicast VI_1: unicast peers 10.10.0.12",
		"ok    hook user: do-fip hooks run as user " + s.user + " with group " + s.user + " only (script_user in global_defs)",
		"ok    access " + s.user + ": " + s.user + ":" + s.user + " can read the config and the token file and write the state dir " + s.state,
		"ok    script path: " + s.bin + " (root:root 0755): every directory on it is root's and not writable by others, as enable_script_security requires",
		"ok    droplet: droplet 1001 lb-a, region nyc3, anchor IP 127.0.0.1, IPv6 2001:0DB8:0001:0000:0000:0000:0000:0011",
		"ok    token: from the token file " + s.token,
		"ok    reserved IP 203.0.113.10: region nyc3, held by no droplet",
		"ok    token: the API accepts it and it can read the reserved IPs",
		"warn  token: whether it may move an IP cannot be tested without moving one: it needs reserved_ip:update and actions:read -- fix: check the token's scopes in the control panel (API, Tokens): reserved_ip:read, reserved_ip:update, actions:read (and droplet:read), or full access",
		"ok    clock: within 5s of the API's (its Date header)",
		"ok    logging: hook runs log to " + s.state + "/do-fip.log (no syslog socket and no log_file; kept under 1 MiB)",
		fmt.Sprintf("ok    traffic :%d: listening on 127.0.0.1:%d", port, port),
	}
	for _, l := range want {
		s.wantLine(r, l)
	}
	if w := lines(r, "warn"); len(w) != 1 {
		t.Errorf("warnings: %q, want only the one about moving", w)
	}
	// A handful of requests: one metadata read, one API read per IP; no POST, nothing moved.
	if n := len(s.requests("", "")); n != 1 {
		t.Errorf("%d API requests, want 1: %+v", n, s.requests("", ""))
	}
	if n := s.allRequests(); n != 2 {
		t.Errorf("%d requests in all, want 2 (one metadata, one API)", n)
	}
	if !strings.Contains(r.stdout, "0 FAIL, 1 warn, ") || !strings.Contains(r.stdout, "(1 API requests, 1 metadata requests; nothing was changed)") {
		t.Errorf("summary line: %s", r.stdout)
	}
	entries, _ := os.ReadDir(s.state)
	if len(entries) != 0 {
		t.Errorf("check wrote into the state dir: %v", entries)
	}
}

func TestCheckBrokenSetups(t *testing.T) {
	tests := map[string]struct {
		world func(*dosim.World)
		edit  func(s *checkSetup)
		args  []string
		code  int
		want  func(s *checkSetup) string // the exact line, or a pattern when it starts with "~"
	}{
		"unquoted hook line": {
			edit: func(s *checkSetup) { s.editKA(`notify "`+s.bin+` notify"`, `notify `+s.bin+` notify`) },
			code: 10,
			want: func(s *checkSetup) string {
				return "FAIL  hook lines: " + s.at("notify "+s.bin) + ": notify " + s.bin + ` notify is not quoted: keepalived reads "notify" as the user to run it as and drops the hook without a word (keepalived --config-test does not notice) -- fix: notify "` + s.bin + ` notify"`
			},
		},
		"notify and notify_master both wired": {
			edit: func(s *checkSetup) {
				s.editKA(`notify "`+s.bin+` notify"`, `notify "`+s.bin+` notify"`+"\n    notify_master \""+s.bin+" assign\"")
			},
			code: 10,
			want: func(s *checkSetup) string {
				m := s.at(`notify_master "`)
				return "FAIL  wiring VI_1: both notify (" + s.at(`notify "`) + ") and notify_master (" + m + ") run do-fip: keepalived starts both at the same moment and the two runs race for the IP -- fix: delete " + m + ` (notify_master "` + s.bin + ` assign")`
			},
		},
		"rx_lower_pri on a keepalived too old for it": {
			edit: func(s *checkSetup) {
				s.setKeepalived("1.3.5")
				// The per-state wiring 1.3.5 can run; only the rx_lower_pri line is too new for it.
				s.editKA(`notify "`+s.bin+` notify"`, `notify_master "`+s.bin+` notify MASTER"`+"\n    notify_backup \""+s.bin+" notify BACKUP\"\n    notify_fault \""+s.bin+" notify FAULT\"")
			},
			code: 0,
			want: func(s *checkSetup) string {
				rx := s.at(`notify_master_rx_lower_pri "`)
				return "warn  split brain VI_1: " + rx + ": keepalived 1.3.5 does not know notify_master_rx_lower_pri (it needs 2.0.6 or later) and ignores the line -- fix: delete " + rx + ": on this keepalived the periodic reconcile check is the repair"
			},
		},
		"generic notify on a keepalived too old for its arguments": {
			edit: func(s *checkSetup) { s.setKeepalived("1.3.5") },
			code: 10,
			want: func(s *checkSetup) string {
				return "FAIL  wiring VI_1: " + s.at(`notify "`) + `: keepalived 1.3.5 opens the whole notify value as one file name and drops the hook (arguments on the generic notify need keepalived 2.0.6 or later) -- fix: notify_master "/usr/bin/do-fip notify MASTER", notify_backup "/usr/bin/do-fip notify BACKUP", notify_fault "/usr/bin/do-fip notify FAULT" instead of notify "` + s.bin + ` notify"`
			},
		},
		"tutorial-made user whose primary group cannot read the config": {
			edit: func(s *checkSetup) {
				// useradd -g users -M keepalived_script, as older guides do: the files' group is only a
				// supplementary group of the user, which keepalived drops.
				tut := throwawayName()
				addGroup(s.t, tut)
				addUser(s.t, tut, "--gid", "users", "--groups", tut)
				s.editKA("script_user "+s.user, "script_user "+tut)
				s.chown(s.conf, "root", tut)
				s.chown(s.token, "root", tut)
				s.chown(s.state, tut, tut)
				s.user = tut
			},
			code: 10,
			want: func(s *checkSetup) string {
				return "FAIL  access " + s.user + ": " + s.user + ":users cannot read the config " + s.conf + ": no read permission on " + s.conf + " (root:" + s.user + " 0640) -- fix: usermod -g " + s.user + " " + s.user + " (keepalived runs hooks with the primary group only)"
			},
		},
		"token file readable by others": {
			edit: func(s *checkSetup) { os.Chmod(s.token, 0o644) },
			code: 10,
			want: func(s *checkSetup) string {
				return "FAIL  token: token file " + s.token + ": insecure permissions: mode 0644 lets other users read or change it -- fix: chown root:" + s.user + " " + s.token + " && chmod 0640 " + s.token
			},
		},
		"token file owned by the hook user, as the hook accepts it": {
			edit: func(s *checkSetup) { s.chown(s.token, s.user, s.user); os.Chmod(s.token, 0o600) },
			code: 0,
			want: func(s *checkSetup) string { return "ok    token: from the token file " + s.token },
		},
		"token rejected (401)": {
			edit: func(s *checkSetup) { s.install(s.token, "dop_v1_revoked\n", "root", s.user, 0o640) },
			code: 10,
			want: func(s *checkSetup) string {
				return `~FAIL  token: the API refused the token \(401\): get 203\.0\.113\.10: 401 unauthorized: Unable to authenticate you\.? \(request [^)]+\) -- fix: create a new token with the scopes reserved_ip:read, reserved_ip:update, actions:read \(and droplet:read\) and put it in the token file`
			},
		},
		"token that cannot read reserved IPs (403)": {
			world: func(w *dosim.World) {
				w.ScopedTokens = map[string][]string{"dop_v1_droplets_only": {"droplet:read", "actions:read"}}
			},
			edit: func(s *checkSetup) { s.install(s.token, "dop_v1_droplets_only\n", "root", s.user, 0o640) },
			code: 10,
			want: func(s *checkSetup) string {
				return "FAIL  token: reading 203.0.113.10 answered 403: the token lacks the reserved_ip:read scope -- fix: give the token the scope reserved_ip:read (control panel: API, Tokens; do-fip needs reserved_ip:read, reserved_ip:update, actions:read (and droplet:read))"
			},
		},
		"IP in another region": {
			world: func(w *dosim.World) { w.IPs[0].Region = "sfo3" },
			code:  10,
			want: func(s *checkSetup) string {
				return "FAIL  reserved IP 203.0.113.10: in region sfo3, this droplet in nyc3: DigitalOcean moves a reserved IP only to a droplet of its region -- fix: use a reserved IP of nyc3 (doctl compute reserved-ip create --region nyc3)"
			},
		},
		"metadata down": {
			edit: func(s *checkSetup) { s.env["DO_FIP_METADATA_URL"] = "http://127.0.0.1:1" },
			code: 10,
			want: func(s *checkSetup) string {
				return `~FAIL  droplet: the metadata service does not answer \(metadata GET /metadata/v1\.json: .*connection refused\): do-fip cannot tell which droplet it runs on -- fix: run do-fip on the droplet and allow it to reach http://127\.0\.0\.1:1 \(or set droplet_id in ` + regexp.QuoteMeta(s.conf) + `\)`
			},
		},
		"state dir not writable by the hook user": {
			edit: func(s *checkSetup) { s.chown(s.state, "root", "root"); os.Chmod(s.state, 0o755) },
			code: 10,
			want: func(s *checkSetup) string {
				return "FAIL  access " + s.user + ": " + s.user + ":" + s.user + " cannot write the state dir " + s.state + ": no write permission on " + s.state + " (root:root 0755) -- fix: chown -R " + s.user + ":" + s.user + " " + s.state
			},
		},
		"state file left by a run as root": {
			edit: func(s *checkSetup) { s.install(filepath.Join(s.state, "203.0.113.10.lock"), "", "root", "root", 0o600) },
			code: 10,
			want: func(s *checkSetup) string {
				return "FAIL  access " + s.user + ": " + s.user + ":" + s.user + " cannot read and write " + s.state + "/203.0.113.10.lock (root:root 0600): a do-fip run by hand as another user left it -- fix: chown -R " + s.user + ":" + s.user + " " + s.state
			},
		},
		"binary on a group-writable path": {
			edit: func(s *checkSetup) { s.chown(s.path("usr/bin"), "root", "users"); os.Chmod(s.path("usr/bin"), 0o775) },
			code: 10,
			want: func(s *checkSetup) string {
				d := s.path("usr/bin")
				return "FAIL  script path: " + s.bin + ": " + d + " is writable by group users (root:users 0775): whoever can write there can replace do-fip, which runs as " + s.user + " and reads the API token -- fix: chown root:root " + d + " && chmod go-w " + d + " (or install do-fip in /usr/bin)"
			},
		},
		"no unicast peers": {
			edit: func(s *checkSetup) { s.editKA("unicast_peer {\n        10.10.0.12\n    }", "") },
			code: 10,
			want: func(s *checkSetup) string {
				return "FAIL  unicast VI_1: " + s.at("vrrp_instance VI_1") + ": no unicast_peer: DigitalOcean has no multicast, so the nodes never hear each other and each one becomes MASTER -- fix: unicast_src_ip THIS_VPC_IP and unicast_peer { PEER_VPC_IP } in vrrp_instance VI_1"
			},
		},
		"reconcile check timeout not above do-fip's": {
			edit: func(s *checkSetup) { s.editKA("    timeout 25\n", "    timeout 15\n") },
			code: 10,
			want: func(s *checkSetup) string {
				return "FAIL  split brain VI_1: " + s.at("vrrp_script chk_do_fip") + ": keepalived stops the check after 15s (its timeout, else its interval) and counts that as a failure, which with weight 0 puts VI_1 in FAULT; do-fip's own deadline there is 20s -- fix: script \"" + s.bin + " reconcile --timeout 10s\" in vrrp_script chk_do_fip"
			},
		},
		"clock off": {
			edit: func(s *checkSetup) { s.sim.SetClockOffset(-3 * time.Minute) },
			code: 0,
			want: func(s *checkSetup) string {
				// The Date header has one-second resolution and the answer takes its time on a busy machine: the
				// skew reads 3 min give or take a second or two.
				return `~warn  clock: this host's clock is (2m59s|3m0s|3m1s|3m2s) ahead of the API's \(its Date header\): logs, records and rate-limit resets read wrong -- fix: timedatectl set-ntp true \(or chronyc makestep\)`
			},
		},
		"nothing listens where traffic arrives": {
			args: []string{"--port", "1"},
			code: 0,
			want: func(s *checkSetup) string {
				return "warn  traffic :1: nothing listens on port 1, not on the anchor IP 10.17.0.11 or 0.0.0.0, where reserved-IP traffic arrives -- fix: bind the service to 10.17.0.11:1 or 0.0.0.0:1 (HAProxy: bind 10.17.0.11:1)"
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var mut []func(*dosim.World)
			if tc.world != nil {
				mut = append(mut, tc.world)
			}
			s := newCheckSetup(t, mut...)
			if tc.edit != nil {
				tc.edit(s)
			}
			r := s.check(tc.args...)
			want := tc.want(s)
			if p, ok := strings.CutPrefix(want, "~"); ok {
				s.wantMatch(r, p)
			} else {
				s.wantLine(r, want)
			}
			s.wantCode(r, tc.code)
			if posts := s.requests("POST", ""); len(posts) != 0 {
				t.Errorf("check moved something: %+v", posts)
			}
		})
	}
}

func TestCheckJSON(t *testing.T) {
	s := newCheckSetup(t, func(w *dosim.World) { w.IPs[0].Region = "sfo3" })
	r := s.check("--json")
	s.wantCode(r, 10)
	var got struct {
		Checks []struct {
			Status, Check, Saw, Fix string
		} `json:"checks"`
		Failed      int   `json:"failed"`
		Warnings    int   `json:"warnings"`
		APIRequests int64 `json:"api_requests"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if got.Failed != 1 || got.Warnings != 1 || got.APIRequests != 1 {
		t.Errorf("failed %d, warnings %d, api requests %d; want 1, 1, 1", got.Failed, got.Warnings, got.APIRequests)
	}
	found := false
	for _, c := range got.Checks {
		if c.Status == "FAIL" && c.Check == "reserved IP 203.0.113.10" && strings.HasPrefix(c.Fix, "use a reserved IP of nyc3") {
			found = true
		}
	}
	if !found {
		t.Errorf("no FAIL for the region in %s", r.stdout)
	}
}
