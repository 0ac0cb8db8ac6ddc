// Package bench measures what do-fip adds to a failover, running the real binary against the simulator on
// loopback: start-up to the first API request, time beyond the API's own action latency, and API requests per
// assign. `make bench` prints the figures; nothing here asserts timings.
package bench

import (
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/do-fip/do-fip/dosim"
	"github.com/do-fip/do-fip/internal/testbin"
)

const token = "dop_v1_bench0000000000000000000000000000000000000000000000000000000000"

var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		os.Exit(m.Run()) // no benchmark asked for: nothing to build
	}
	dir, err := os.MkdirTemp("", "do-fip-bench-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "do-fip")
	if err := testbin.Build(binary); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type rig struct {
	sim *dosim.Sim
	srv *httptest.Server
	dir string
}

func newRig(b *testing.B, latency time.Duration) *rig {
	w := dosim.DemoWorld()
	w.Tokens = []string{token}
	w.ActionLatency = latency
	w.RatePerMinute, w.RatePerHour = 100000, 1000000 // measure do-fip, not the limiter
	sim, err := dosim.New(w)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(sim.Handler())
	b.Cleanup(srv.Close)
	return &rig{sim: sim, srv: srv, dir: b.TempDir()}
}

// assign runs `do-fip assign` as droplet id and returns when it started and how long it ran.
func (r *rig) assign(b *testing.B, id int, ips ...string) (time.Time, time.Duration) {
	cmd := exec.Command(binary, append([]string{"assign"}, ips...)...)
	cmd.Env = []string{
		"DIGITALOCEAN_ACCESS_TOKEN=" + token, "DO_FIP_INSECURE_API=1", "DO_FIP_API_URL=" + r.srv.URL,
		fmt.Sprintf("DO_FIP_METADATA_URL=%s/droplets/%d", r.srv.URL, id),
		fmt.Sprintf("DO_FIP_STATE_DIR=%s/%d", r.dir, id), "DO_FIP_SYSLOG=off", "DO_FIP_CONFIG=/dev/null",
		"DO_FIP_LOG_LEVEL=warn",
	}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("assign as %d: %v\n%s", id, err, out)
	}
	return start, time.Since(start)
}

func (r *rig) apiRequests() []dosim.Request {
	var out []dosim.Request
	for _, q := range r.sim.Requests() {
		if !q.Metadata {
			out = append(out, q)
		}
	}
	return out
}

func median(d []float64) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func maxOf(d []float64) float64 { return slices.Max(d) }

// BenchmarkStartToFirstRequest: from exec to the first API request (the metadata lookup included).
func BenchmarkStartToFirstRequest(b *testing.B) {
	r := newRig(b, time.Millisecond)
	r.sim.Assign("203.0.113.10", 1001)
	var ms []float64
	for range max(b.N, 20) {
		r.sim.ResetRequests()
		start, _ := r.assign(b, 1001, "203.0.113.10")
		q := r.apiRequests()
		if len(q) == 0 {
			b.Fatal("no API request")
		}
		ms = append(ms, float64(q[0].Time.Sub(start).Microseconds())/1000)
	}
	b.ReportMetric(median(ms), "ms-median")
	b.ReportMetric(maxOf(ms), "ms-max")
	report("start to first API request", fmt.Sprintf("median %.1f ms, max %.1f ms over %d runs (target < 20 ms)", median(ms), maxOf(ms), len(ms)))
}

// failovers moves the IPs back and forth between the two droplets and reports the overhead beyond the
// action latency (per action: two families on one droplet move one after the other, as DigitalOcean
// allows one pending event per droplet) and the API requests per assign.
func failovers(b *testing.B, latency time.Duration, runs int, ips ...string) {
	r := newRig(b, latency)
	for _, ip := range ips {
		r.sim.Assign(ip, 1002)
	}
	var overhead, reqs []float64
	for i := range runs {
		id := 1001 + i%2
		r.sim.ResetRequests()
		_, took := r.assign(b, id, ips...)
		for _, ip := range ips {
			if h := r.sim.Holder(ip); h != id {
				b.Fatalf("%s held by %d after assign as %d", ip, h, id)
			}
		}
		overhead = append(overhead, float64((took-time.Duration(len(ips))*latency).Microseconds())/1000)
		reqs = append(reqs, float64(len(r.apiRequests())))
	}
	b.ReportMetric(median(overhead), "ms-overhead-median")
	b.ReportMetric(median(reqs), "requests-median")
	b.ReportMetric(maxOf(reqs), "requests-max")
	report(fmt.Sprintf("assign %s at %s action latency", strings.Join(ips, " + "), latency),
		fmt.Sprintf("overhead median %.0f ms (max %.0f); API requests median %.0f, max %.0f over %d failovers",
			median(overhead), maxOf(overhead), median(reqs), maxOf(reqs), runs))
}

func BenchmarkFailover1sOneIP(b *testing.B) { failovers(b, time.Second, 10, "203.0.113.10") }
func BenchmarkFailover1sV4V6(b *testing.B) {
	failovers(b, time.Second, 6, "203.0.113.10", "2001:db8:10::10")
}
func BenchmarkFailover10sOneIP(b *testing.B) { failovers(b, 10*time.Second, 3, "203.0.113.10") }
func BenchmarkFailover10sV4V6(b *testing.B) {
	failovers(b, 10*time.Second, 2, "203.0.113.10", "2001:db8:10::10")
}

func report(what, figures string) {
	fmt.Printf("FIGURE  %-52s %s\n", what+":", figures)
}
