package app_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A state dir do-fip cannot write (a read-only file system, or no permission) is a configuration error found
// before any request: the per-IP locks live there.
func TestUnwritableStateDir(t *testing.T) {
	h := newHarness(t)
	dir := filepath.Join(h.dir, "ro-state")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	h.env["DO_FIP_STATE_DIR"] = dir
	var r result
	if os.Geteuid() == 0 {
		// Permissions do not stop root: mount the dir read-only in a mount namespace of the run's own.
		mount, err := exec.LookPath("mount")
		if err != nil {
			mount = "/usr/bin/mount"
		}
		script := `set -e; "$MOUNT" --bind -o ro "$DIR" "$DIR"; exec "$@"`
		h.env["MOUNT"], h.env["DIR"] = mount, dir
		r = h.startCmd(exec.Command("unshare", "--mount", "--propagation", "private", "--",
			"/bin/sh", "-c", script, "sh", binary, "assign", ipv4))()
	} else {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		r = h.run("assign", ipv4)
	}
	h.wantCode(r, 3)
	want := "state dir " + dir + ": state directory unusable: " + dir + " is not writable by uid"
	if !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "hint: ") {
		t.Errorf("stderr %q, want %q and a hint", r.stderr, want)
	}
	if lines := strings.Count(strings.TrimSpace(r.stderr), "\n") + 1; lines != 2 {
		t.Errorf("%d lines on stderr, want the error and a hint: %q", lines, r.stderr)
	}
	if n := h.allRequests(); n != 0 {
		t.Errorf("%d requests with an unusable state dir, want 0", n)
	}
}

// ips and --ip take both families; an IPv4-mapped IPv6 address names the IPv4 reserved IP, and moves it.
func TestIPv4MappedAddressIsTheIPv4(t *testing.T) {
	h := newHarness(t)
	r := h.run("assign", "::ffff:"+ipv4)
	h.wantCode(r, 0)
	h.wantHolder(ipv4, 1001)
	h.wantPosts(1)
	if got := h.requests("POST", "")[0].Path; got != "/v2/reserved_ips/"+ipv4+"/actions" {
		t.Errorf("POST to %s, want the IPv4 endpoint", got)
	}
	if !strings.Contains(r.stdout, ipv4+": moved to droplet 1001") {
		t.Errorf("stdout %q", r.stdout)
	}
}

// An API answer about another address than the one asked for (here the IPv6 where the IPv4 was asked) is not
// acted on: no POST, exit 1 (unexpected answer), at once.
func TestAnswerAboutAnotherFamilyIsNotActedOn(t *testing.T) {
	h := newHarness(t)
	h.sim.Assign(ipv4, 1001) // the metadata service shows it here: the API is read to confirm
	sim := h.sim.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, r)
		body := rec.Body.String()
		if r.Method == "GET" && r.URL.Path == "/v2/reserved_ips/"+ipv4 {
			body = strings.Replace(body, `"ip":"`+ipv4+`"`, `"ip":"`+ipv6+`"`, 1)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	h.env["DO_FIP_API_URL"] = srv.URL
	r := h.run("assign", "--timeout", "10s", ipv4)
	h.wantCode(r, 1)
	if !strings.Contains(r.stderr, "unexpected answer: the answer is about "+ipv6) {
		t.Errorf("stderr %q", r.stderr)
	}
	h.wantPosts(0)
	if n := len(h.requests("", "")); n != 1 {
		t.Errorf("%d API requests, want 1: an answer about another IP is not worth asking again", n)
	}
}
