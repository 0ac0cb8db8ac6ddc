package app_test

import (
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/do-fip/do-fip/dosim"
)

// leaks reports whether s shows the token or its secret part.
func leaks(s string) bool { return strings.Contains(s, token) || strings.Contains(s, token[7:]) }

// wantNoTokenInStateDir fails if any file do-fip wrote in its state dir holds the token.
func (h *harness) wantNoTokenInStateDir() {
	h.t.Helper()
	n := 0
	_ = filepath.WalkDir(h.env["DO_FIP_STATE_DIR"], func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		n++
		if b, _ := os.ReadFile(p); leaks(string(b)) {
			h.t.Errorf("the token is in the state file %s", filepath.Base(p))
		}
		return nil
	})
	if n == 0 {
		h.t.Error("no state files written: the check proves nothing")
	}
}

// The token never shows, at any log level, on any path: successes, retries, refusals, timeouts, the status
// report in both forms, whatever the token's source. run() checks stdout, stderr and the log file of each run.
func TestTokenNeverShows(t *testing.T) {
	sources := map[string]func(h *harness){
		"environment": func(h *harness) {},
		"token file": func(h *harness) {
			p := filepath.Join(h.dir, "token")
			if err := os.WriteFile(p, []byte(token+"\n"), 0o600); err != nil {
				h.t.Fatal(err)
			}
			h.env["DIGITALOCEAN_ACCESS_TOKEN"], h.env["DO_FIP_TOKEN_FILE"] = "", p
		},
		"config file": func(h *harness) {
			p := filepath.Join(h.dir, "secret.conf")
			if err := os.WriteFile(p, []byte("token = \""+token+"\"\n"), 0o600); err != nil {
				h.t.Fatal(err)
			}
			h.env["DO_FIP_CONFIG"] = p
			h.env["DIGITALOCEAN_ACCESS_TOKEN"] = ""
		},
	}
	scenarios := map[string]struct {
		world func(*dosim.World)
		setup func(*harness)
		args  []string
	}{
		"moves through faults": {setup: func(h *harness) {
			h.sim.AddFault(dosim.Fault{Method: "GET", Path: "/v2/", Times: 1, Status: 429, RetryAfter: 1})
			h.sim.AddFault(dosim.Fault{Method: "POST", Path: "/v2/", Times: 1, Status: 500})
			h.sim.AddFault(dosim.Fault{Method: "GET", Path: "/v2/", Times: 1, Reset: true})
		}, args: []string{"assign", ipv4}},
		"token refused (401)": {world: func(w *dosim.World) { w.Tokens = []string{"another-token"} },
			args: []string{"assign", ipv4}},
		"token lacks scopes (403)": {world: func(w *dosim.World) { w.Tokens = nil; w.ReadOnlyTokens = []string{token} },
			args: []string{"assign", ipv4}},
		"deadline passes": {setup: func(h *harness) { h.sim.AddFault(dosim.Fault{Method: "GET", Path: "/v2/", Status: 503}) },
			args: []string{"assign", "--timeout", "2s", ipv4}},
		"rate limit after the deadline": {setup: func(h *harness) { h.sim.UseUpHour(token, time.Hour) },
			args: []string{"assign", ipv4}},
		"status": {args: []string{"status", ipv4, ipv6}},
		"status --json": {setup: func(h *harness) { h.sim.AddFault(dosim.Fault{Path: "/v2/reserved_ipv6/", Status: 500}) },
			args: []string{"status", "--json", ipv4, ipv6}},
		"status --json, token refused": {world: func(w *dosim.World) { w.Tokens = []string{"another-token"} },
			args: []string{"status", "--json", ipv4}},
	}
	for src, useSource := range sources {
		for name, sc := range scenarios {
			t.Run(src+"/"+name, func(t *testing.T) {
				var mutate []func(*dosim.World)
				if sc.world != nil {
					mutate = append(mutate, sc.world)
				}
				h := newHarness(t, mutate...)
				h.env["DO_FIP_LOG_LEVEL"] = "debug"
				useSource(h)
				if sc.setup != nil {
					sc.setup(h)
				}
				h.run(sc.args...) // fails the test if the token shows
				if !strings.Contains(h.logFile(), `"level":"debug"`) {
					t.Error("no debug lines logged: the check proves little")
				}
				if sc.args[0] == "assign" {
					h.wantNoTokenInStateDir()
				}
				// The simulator saw the token in the Authorization header: it really was in use.
				if n := len(h.requests("", "")); n == 0 {
					t.Error("no API request made: the token was never used")
				}
			})
		}
	}
}

// A goroutine dump (what a panic or SIGQUIT prints, with every stack) does not show the token: Go prints
// arguments as machine words, not the strings they point to. The dump is taken while a request is in flight.
func TestTokenNotInGoroutineDump(t *testing.T) {
	h := newHarness(t)
	h.env["GOTRACEBACK"] = "all"
	// Whichever API request comes first (the POST, when the metadata service shows the IP elsewhere) hangs.
	h.sim.AddFault(dosim.Fault{Path: "/v2/", Delay: time.Hour})
	cmd := exec.Command(binary, "assign", ipv4)
	wait := h.startCmd(cmd)
	h.waitFor("an API request to be in flight", func() bool { return strings.Contains(h.logFile(), `"event":"start"`) })
	time.Sleep(100 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	r := wait() // fails the test if the token shows
	if !strings.Contains(r.stderr, "goroutine ") || !strings.Contains(r.stderr, "SIGQUIT") {
		t.Fatalf("no goroutine dump on stderr; the check proves nothing:\n%s", r.stderr)
	}
}

// do-fip starts no other program, so no child can inherit the token from its environment: os/exec is not
// linked into the binary, and no package of this module calls os.StartProcess or the syscall exec functions.
func TestNoChildProcesses(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "..").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 {
		t.Fatalf("go list -deps printed %d packages; the check proves nothing", len(deps))
	}
	for _, d := range deps {
		if d == "os/exec" {
			t.Error("the do-fip binary links os/exec: a child process would inherit the environment, and the token with it")
		}
	}
	forbidden := map[string]bool{"os.StartProcess": true, "syscall.ForkExec": true, "syscall.Exec": true, "syscall.StartProcess": true}
	// The module's own packages linked into the binary, file by file (build tags applied by go list).
	out, err = exec.Command("go", "list", "-deps", "-f",
		`{{if .Module}}{{if .Module.Main}}{{range .GoFiles}}{{$.Dir}}/{{.}}{{"\n"}}{{end}}{{end}}{{end}}`, "..").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	files := 0
	for _, p := range strings.Fields(string(out)) {
		f, err := parser.ParseFile(gotoken.NewFileSet(), p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files++
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if id, ok := sel.X.(*ast.Ident); ok && forbidden[id.Name+"."+sel.Sel.Name] {
					t.Errorf("%s calls %s.%s", p, id.Name, sel.Sel.Name)
				}
			}
			return true
		})
	}
	if files < 20 {
		t.Fatalf("scanned %d files; the check proves nothing", files)
	}
}

// Files that hold the token are refused, before any request, when others could read or change them, with the
// fix in the message.
func TestLooseTokenFilesRefused(t *testing.T) {
	tests := map[string]struct {
		config bool // the token sits in the config file, not a token file
		mode   os.FileMode
		owner  int // -1: leave as created
		fix    string
	}{
		"token file world-readable":   {mode: 0o644, owner: -1, fix: "chmod 600"},
		"token file group-writable":   {mode: 0o660, owner: -1, fix: "chmod 600"},
		"token file of another user":  {mode: 0o600, owner: 65534, fix: "chown root"},
		"config file world-readable":  {config: true, mode: 0o644, owner: -1, fix: "chmod 600"},
		"config file of another user": {config: true, mode: 0o600, owner: 65534, fix: "chown root"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if tc.owner >= 0 && os.Geteuid() != 0 {
				if os.Getenv("CI") == "true" {
					t.Fatal("CI must run this: it needs root to give a file to another user")
				}
				t.Skip("needs root to give a file to another user")
			}
			h := newHarness(t)
			h.env["DIGITALOCEAN_ACCESS_TOKEN"] = ""
			p := filepath.Join(h.dir, "token")
			content := token + "\n"
			if tc.config {
				p, content = filepath.Join(h.dir, "secret.conf"), "token = "+token+"\n"
				h.env["DO_FIP_CONFIG"] = p
			} else {
				h.env["DO_FIP_TOKEN_FILE"] = p
			}
			if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, tc.mode); err != nil {
				t.Fatal(err)
			}
			if tc.owner >= 0 {
				if err := os.Chown(p, tc.owner, tc.owner); err != nil {
					t.Fatal(err)
				}
			}
			r := h.run("assign", ipv4)
			h.wantCode(r, 3)
			if !strings.Contains(r.stderr, "fix: "+tc.fix+" "+p) {
				t.Errorf("stderr %q, want the fix %q", r.stderr, tc.fix)
			}
			if h.allRequests() != 0 {
				t.Errorf("%d requests made with a loose token file", h.allRequests())
			}
		})
	}
}
