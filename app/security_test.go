package app_test

import (
	"io"
	"log"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingListener counts accepted connections, so a test sees attempts that never became HTTP requests.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// TLS verification has no off switch: an API behind a certificate the system does not trust (here httptest's
// self-signed one) is refused at once, whatever the environment says, with the x509 cause.
func TestTLSVerificationCannotBeTurnedOff(t *testing.T) {
	h := newHarness(t)
	tlsSrv := httptest.NewUnstartedServer(h.sim.Handler())
	var conns atomic.Int64
	tlsSrv.Listener = countingListener{Listener: tlsSrv.Listener, n: &conns}
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are expected
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	h.env["DO_FIP_API_URL"] = tlsSrv.URL
	// The opt-in for plain http must not loosen https, nor may anything else in the environment.
	h.env["DO_FIP_INSECURE_API"] = "1"
	h.env["GODEBUG"] = "x509ignoreCN=0"
	r := h.runBinary("assign", "--timeout", "10s", ipv4) // GODEBUG is read by the Go runtime of the process
	if r.code == 0 {
		t.Fatalf("exit 0 against an untrusted certificate")
	}
	h.wantCode(r, 1)
	if !strings.Contains(r.stderr, "x509: certificate signed by unknown authority") || !strings.Contains(r.stderr, "hint: ") {
		t.Errorf("stderr %q, want the x509 cause and a hint", r.stderr)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections to the untrusted API, want 1: a certificate does not become trusted by asking again", n)
	}
	if n := len(h.requests("", "")); n != 0 {
		t.Errorf("%d API requests got through the untrusted TLS, want 0", n)
	}
	if r.elapsed > 5*time.Second {
		// Not a timing test: waiting for the 10 s deadline would mean the refusal was retried.
		t.Errorf("took %v: the refusal was retried until the deadline", r.elapsed)
	}
}

// No config key loosens TLS or the http opt-in: such keys are unknown, hence errors.
func TestNoConfigKeyLoosensTransportSecurity(t *testing.T) {
	for _, line := range []string{
		"insecure = 1", "insecure_api = 1", "tls_verify = false", "insecure_skip_verify = true",
		"ca_file = /tmp/ca.pem", "DO_FIP_INSECURE_API = 1",
	} {
		t.Run(line, func(t *testing.T) {
			h := newHarness(t)
			h.env["DO_FIP_INSECURE_API"] = ""
			conf := filepath.Join(h.dir, "loose.conf")
			if err := os.WriteFile(conf, []byte("ips = "+ipv4+"\n"+line+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			r := h.run("assign", "--config", conf)
			h.wantCode(r, 3)
			if !strings.Contains(r.stderr, "loose.conf:2: config syntax error: unknown key") {
				t.Errorf("stderr %q", r.stderr)
			}
			if h.allRequests() != 0 {
				t.Errorf("%d requests", h.allRequests())
			}
		})
	}
}
