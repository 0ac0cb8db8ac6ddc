package app_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/do-fip/do-fip/dosim"
)

// The fault matrix: the real binary against the simulator under the faults a failover hook meets on its worst
// night. Each row pins the final holder, the exit code, how many API requests reached the simulator, and that
// the run ended within its deadline (+1 s for process start and exit). FAULTS_TABLE=1 prints the figures as a
// table (make faults).

// faultRow is one row of the matrix.
type faultRow struct {
	name     string
	setup    func(h *harness)
	args     []string      // after "assign"; default: the reserved IPv4
	deadline time.Duration // --timeout; default 20s
	code     int
	holder   int    // the IPv4's holder afterwards
	requests [2]int // API requests that reached the simulator, at least and at most
	posts    int    // POSTs that reached the simulator; -1: not checked
	stderr   string // for a failure: what the one-line error must say
	netns    bool   // run in a network namespace of its own (needs root)
	ip       string // whose holder is checked; default the reserved IPv4
	world    func(*dosim.World)
}

// Requests of a clean move of one IP: the POST. The metadata service said the IP is elsewhere before it and
// shows the move landing after it.
const cleanMove = 1

// anyNum is an unchecked POST count.
const anyNum = -1

func faultRows() []faultRow {
	metaOther := func(h *harness) { h.env["DO_FIP_METADATA_URL"] = h.srv.URL + "/droplets/1002" }
	here := func(h *harness) { h.sim.Assign(ipv4, 1001) }
	// Errored actions never show in the metadata service: the action is read CheckAfter after the POST.
	checkSoon := func(h *harness) { h.env["DO_FIP_CHECK_AFTER"] = "1s" }
	both := func(fs ...func(*harness)) func(*harness) {
		return func(h *harness) {
			for _, f := range fs {
				f(h)
			}
		}
	}
	return []faultRow{
		{name: "no fault", code: 0, holder: 1001, requests: [2]int{cleanMove, cleanMove}, posts: 1},
		{name: "IP already here: one read confirms the metadata service", setup: here,
			code: 0, holder: 1001, requests: [2]int{1, 1}, posts: 0},

		// Rate limits.
		{name: "429 burst on the POST, retry-after 1s",
			setup: postFault(dosim.Fault{Times: 1, Status: 429, RetryAfter: 1}),
			code:  0, holder: 1001, requests: [2]int{cleanMove + 1, cleanMove + 1}, posts: 2},
		{name: "429 from a proxy without rate headers on the POST, 3 times",
			setup: postFault(dosim.Fault{Times: 3, Status: 429, HTML: true}),
			code:  0, holder: 1001, requests: [2]int{cleanMove + 3, cleanMove + 3}, posts: 4},
		// DigitalOcean's 429 without retry-after has ratelimit-remaining 0 and ratelimit-reset a minute away.
		{name: "429 without retry-after, window resets after the deadline", setup: postFault(dosim.Fault{Status: 429, Times: 1}),
			code: 1, holder: 0, requests: [2]int{1, 1}, posts: 1, stderr: "the API takes requests again in"},
		{name: "429 on the confirming read, retry-after 1s, twice", setup: both(here, readFault(dosim.Fault{Times: 2, Status: 429, RetryAfter: 1})),
			code: 0, holder: 1001, requests: [2]int{3, 3}, posts: 0},
		{name: "hourly limit used up, resets in 2s",
			setup: func(h *harness) { h.sim.UseUpHour(token, 2*time.Second) },
			code:  0, holder: 1001, requests: [2]int{cleanMove + 1, cleanMove + 1}, posts: 2},
		{name: "hourly limit used up, resets after the deadline",
			setup: func(h *harness) { h.sim.UseUpHour(token, 30*time.Minute) },
			code:  1, holder: 0, requests: [2]int{1, 1}, posts: 1, stderr: "rate limit"},
		{name: "clock skew: API 10 min ahead, hour resets in 2s",
			setup: func(h *harness) { h.sim.SetClockOffset(10 * time.Minute); h.sim.UseUpHour(token, 2*time.Second) },
			code:  0, holder: 1001, requests: [2]int{cleanMove + 1, cleanMove + 1}, posts: 2},
		{name: "clock skew: API 10 min behind, hour resets in 2s",
			setup: func(h *harness) { h.sim.SetClockOffset(-10 * time.Minute); h.sim.UseUpHour(token, 2*time.Second) },
			code:  0, holder: 1001, requests: [2]int{cleanMove + 1, cleanMove + 1}, posts: 2},
		{name: "clock skew: API 10 min ahead, hour resets after the deadline",
			setup: func(h *harness) { h.sim.SetClockOffset(10 * time.Minute); h.sim.UseUpHour(token, 30*time.Minute) },
			code:  1, holder: 0, requests: [2]int{1, 1}, posts: 1, stderr: "rate limit"},
		{name: "clock skew: API 10 min behind, hour resets after the deadline",
			setup: func(h *harness) { h.sim.SetClockOffset(-10 * time.Minute); h.sim.UseUpHour(token, 30*time.Minute) },
			code:  1, holder: 0, requests: [2]int{1, 1}, posts: 1, stderr: "rate limit"},
		// After an accepted POST, every read meets a 429 whose wait would pass the deadline: the move is
		// still followed, through the metadata service once it answers again (down here for ~8 s, well past
		// the 3 s after which the action is read instead; a 429 puts off the next read until the window
		// frees), and the run succeeds.
		{name: "429 on every read after the POST, metadata down for a while",
			setup: both(readFault(dosim.Fault{Status: 429, RetryAfter: 600}),
				metaFault(dosim.Fault{Skip: 1, Times: 80, Status: 503}),
				func(h *harness) { h.sim.AddActionFault(dosim.ActionFault{Times: 1, Latency: 2 * time.Second}) }),
			code: 0, holder: 1001, requests: [2]int{2, 3}, posts: 1},

		// Server errors. A POST answered 5xx may have been done: do-fip waits (watching the metadata service)
		// and posts again; DigitalOcean's 422 would say if the first one had been.
		{name: "500 on the POST", setup: postFault(dosim.Fault{Status: 500, Times: 1}),
			code: 0, holder: 1001, requests: [2]int{cleanMove + 1, cleanMove + 1}, posts: 2},
		{name: "HTML 503 page on the POST", setup: postFault(dosim.Fault{HTML: true, Status: 503, Times: 1}),
			code: 0, holder: 1001, requests: [2]int{cleanMove + 1, cleanMove + 1}, posts: 2},
		{name: "504 on the POST", setup: postFault(dosim.Fault{Status: 504, Times: 1}),
			code: 0, holder: 1001, requests: [2]int{cleanMove + 1, cleanMove + 1}, posts: 2},
		{name: "500 on every request", setup: apiFault(dosim.Fault{Status: 500}), deadline: 3 * time.Second,
			code: 6, holder: 0, requests: [2]int{2, 20}, posts: anyNum, stderr: "500 server error"},
		{name: "500 on the confirming read, 3 times", setup: both(here, readFault(dosim.Fault{Status: 500, Times: 3})),
			code: 0, holder: 1001, requests: [2]int{4, 4}, posts: 0},
		{name: "502 on the confirming read, 3 times", setup: both(here, readFault(dosim.Fault{Status: 502, Times: 3})),
			code: 0, holder: 1001, requests: [2]int{4, 4}, posts: 0},
		{name: "HTML 502 page on the confirming read, 3 times", setup: both(here, readFault(dosim.Fault{HTML: true, Status: 502, Times: 3})),
			code: 0, holder: 1001, requests: [2]int{4, 4}, posts: 0},
		{name: "200 with a truncated body on the confirming read", setup: both(here, readFault(dosim.Fault{Garbage: true, Times: 1})),
			code: 0, holder: 1001, requests: [2]int{2, 2}, posts: 0},

		// Connections.
		{name: "connection reset on the confirming read, twice", setup: both(here, readFault(dosim.Fault{Reset: true, Times: 2})),
			code: 0, holder: 1001, requests: [2]int{3, 3}, posts: 0},
		{name: "connection reset before the POST is processed", setup: postFault(dosim.Fault{Reset: true, Times: 1}),
			code: 0, holder: 1001, requests: [2]int{cleanMove + 1, cleanMove + 1}, posts: 2},
		// The move was made but its answer lost: the metadata service shows it landing during the wait, and one
		// read confirms it. No second POST.
		{name: "connection reset after the POST is processed", setup: postFault(dosim.Fault{LoseResponse: true, Times: 1}),
			code: 0, holder: 1001, requests: [2]int{2, 2}, posts: 1},
		{name: "connection reset on every request", setup: apiFault(dosim.Fault{Reset: true}), deadline: 3 * time.Second,
			code: 6, holder: 0, requests: [2]int{2, 20}, posts: anyNum, stderr: "EOF"},
		{name: "API port closed (connection refused)", deadline: 3 * time.Second,
			setup: func(h *harness) { h.env["DO_FIP_API_URL"] = refusingURL(h.t) },
			code:  6, holder: 0, requests: [2]int{0, 0}, posts: 0, stderr: "connection refused"},

		// Slow and hung answers. An attempt is given up after 5 s; a hung POST was not processed (the
		// simulator drops a request its client gave up on), so it is posted again after a wait.
		{name: "slow POST: 2s", setup: postFault(dosim.Fault{Delay: 2 * time.Second, Times: 1}),
			code: 0, holder: 1001, requests: [2]int{cleanMove, cleanMove}, posts: 1},
		{name: "slow confirming read: 2s", setup: both(here, readFault(dosim.Fault{Delay: 2 * time.Second, Times: 1})),
			code: 0, holder: 1001, requests: [2]int{1, 1}, posts: 0},
		{name: "hung confirming read", setup: both(here, readFault(dosim.Fault{Delay: time.Hour, Times: 1})),
			code: 0, holder: 1001, requests: [2]int{2, 2}, posts: 0},
		{name: "hung POST", setup: postFault(dosim.Fault{Delay: time.Hour, Times: 1}),
			code: 0, holder: 1001, requests: [2]int{cleanMove + 1, cleanMove + 1}, posts: 2},
		{name: "API hung on every request", setup: apiFault(dosim.Fault{Delay: time.Hour}), deadline: 3 * time.Second,
			code: 6, holder: 0, requests: [2]int{1, 1}, posts: 1, stderr: "deadline"},

		// Actions. An errored move never shows in the metadata service: it is found by reading the action
		// --check-after (1 s here) after the POST.
		{name: "action errors once",
			setup: both(checkSoon, func(h *harness) { h.sim.AddActionFault(dosim.ActionFault{Times: 1, Outcome: dosim.OutcomeErrored}) }),
			code:  0, holder: 1001, requests: [2]int{cleanMove + 2, cleanMove + 2}, posts: 2},
		{name: "action errors every time",
			setup:    both(checkSoon, func(h *harness) { h.sim.AddActionFault(dosim.ActionFault{Outcome: dosim.OutcomeErrored}) }),
			deadline: 10 * time.Second,
			code:     1, holder: 0, requests: [2]int{6, 6}, posts: 3, stderr: "errored"},
		// Accepted but never seen to land: not "nothing happened" (6) but "accepted, unverified" (9).
		{name: "action never completes",
			setup:    both(checkSoon, func(h *harness) { h.sim.AddActionFault(dosim.ActionFault{Outcome: dosim.OutcomeStuck}) }),
			deadline: 3 * time.Second,
			code:     9, holder: 0, requests: [2]int{3, 7}, posts: 1, stderr: "accepted the move"},
		{name: "action takes 3s",
			setup: func(h *harness) { h.sim.AddActionFault(dosim.ActionFault{Times: 1, Latency: 3 * time.Second}) },
			code:  0, holder: 1001, requests: [2]int{cleanMove, cleanMove}, posts: 1},
		// A move slower than --check-after costs one action read, and nothing more.
		{name: "action takes 3s, check after 1s",
			setup: both(checkSoon, func(h *harness) { h.sim.AddActionFault(dosim.ActionFault{Times: 1, Latency: 3 * time.Second}) }),
			code:  0, holder: 1001, requests: [2]int{cleanMove + 3, cleanMove + 6}, posts: 1},
		// The action GET answers 404 for a while after the POST (terraform-provider-digitalocean#1557, and
		// IPv6 actions live at /v2/actions/{id} only): that is not an errored move.
		{name: "action GET 404 right after create",
			setup: both(checkSoon, func(h *harness) {
				h.sim.AddActionFault(dosim.ActionFault{Times: 1, NotFoundFor: 5 * time.Second, Latency: 3 * time.Second})
			}),
			code: 0, holder: 1001, requests: [2]int{cleanMove + 3, cleanMove + 6}, posts: 1},
		{name: "IPv6: action GET 404 right after create", args: []string{ipv6}, ip: ipv6,
			setup: both(checkSoon, func(h *harness) {
				h.sim.AddActionFault(dosim.ActionFault{Times: 1, NotFoundFor: 5 * time.Second, Latency: 3 * time.Second})
			}),
			code: 0, holder: 1001, requests: [2]int{cleanMove + 3, cleanMove + 6}, posts: 1},
		// The metadata service describes another droplet than --droplet-id: the action tells at once.
		{name: "--droplet-id for another droplet than the metadata service's", setup: metaOther,
			args: []string{"--droplet-id", "1001", ipv4},
			code: 0, holder: 1001, requests: [2]int{cleanMove + 2, cleanMove + 2}, posts: 1},
		// The metadata service shows moves 3 s late. A run that finds the IP "here" only because the metadata
		// service still shows a move away reads the API, which names the other holder: it posts, and succeeds
		// only once the metadata service has shown the IP gone and then back.
		{name: "metadata lags 3s behind a move away",
			world: func(w *dosim.World) { w.MetadataLag = 3 * time.Second },
			setup: func(h *harness) {
				h.sim.Assign(ipv4, 1001)
				h.moveAway(ipv4, 1002)
			},
			code: 0, holder: 1001, requests: [2]int{2, 2}, posts: 1},

		// The metadata service. Without it, this droplet's ID is unknown: no API request at all.
		{name: "metadata slow: 1.5s", setup: metaFault(dosim.Fault{Delay: 1500 * time.Millisecond, Times: 1}),
			code: 0, holder: 1001, requests: [2]int{cleanMove, cleanMove}, posts: 1},
		{name: "metadata hung once (past its 2s timeout)", setup: metaFault(dosim.Fault{Delay: time.Hour, Times: 1}),
			code: 0, holder: 1001, requests: [2]int{cleanMove, cleanMove}, posts: 1},
		{name: "metadata down (503)", setup: metaFault(dosim.Fault{Status: 503}),
			code: 7, holder: 0, requests: [2]int{0, 0}, posts: 0, stderr: "metadata"},
		{name: "metadata hung", setup: metaFault(dosim.Fault{Delay: time.Hour}),
			code: 7, holder: 0, requests: [2]int{0, 0}, posts: 0, stderr: "metadata"},
		{name: "metadata answers garbage", setup: metaFault(dosim.Fault{Garbage: true}),
			code: 7, holder: 0, requests: [2]int{0, 0}, posts: 0, stderr: "not metadata JSON"},
		// With --droplet-id the run needs no metadata service: the move is followed through the action.
		{name: "metadata down, --droplet-id given", setup: metaFault(dosim.Fault{Status: 503}),
			args: []string{"--droplet-id", "1001", ipv4},
			code: 0, holder: 1001, requests: [2]int{cleanMove + 2, cleanMove + 2}, posts: 1},
		// After the first read the metadata service goes down for good: after 1 s of failures the move is
		// followed through the action instead.
		{name: "metadata down during the follow", setup: both(metaFault(dosim.Fault{Skip: 1, Status: 503}),
			func(h *harness) { h.sim.AddActionFault(dosim.ActionFault{Times: 1, Latency: 2 * time.Second}) }),
			code: 0, holder: 1001, requests: [2]int{cleanMove + 2, cleanMove + 4}, posts: 1},

		// DNS: the API host cannot be resolved. Run in a network namespace with only a loopback interface and a
		// resolv.conf naming 127.0.0.1, where nothing listens: no query leaves this machine.
		{name: "DNS failure for the API host", netns: true, deadline: 3 * time.Second,
			setup: func(h *harness) { h.env["DO_FIP_API_URL"] = "https://api.digitalocean.com" },
			args:  []string{"--droplet-id", "1001", ipv4},
			code:  6, holder: 0, requests: [2]int{0, 0}, posts: 0, stderr: "lookup api.digitalocean.com"},
	}
}

// moveAway moves ip to droplet through the API, as another node's hook would, and waits until the API names
// the new holder; a lagging metadata service still shows the old one.
func (h *harness) moveAway(ip string, droplet int) {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.srv.URL+"/v2/reserved_ips/"+ip+"/actions",
		strings.NewReader(fmt.Sprintf(`{"type":"assign","droplet_id":%d}`, droplet)))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		h.t.Fatalf("move %s to %d: status %d", ip, droplet, resp.StatusCode)
	}
	for end := time.Now().Add(5 * time.Second); h.sim.Holder(ip) != droplet; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			h.t.Fatalf("%s never reached %d", ip, droplet)
		}
	}
	h.sim.ResetRequests()
}

func apiFault(f dosim.Fault) func(*harness) {
	f.Path = "/v2/"
	return func(h *harness) { h.sim.AddFault(f) }
}

func readFault(f dosim.Fault) func(*harness) {
	f.Method, f.Path = "GET", "/v2/"
	return func(h *harness) { h.sim.AddFault(f) }
}

func postFault(f dosim.Fault) func(*harness) {
	f.Method, f.Path = "POST", "/v2/"
	return func(h *harness) { h.sim.AddFault(f) }
}

func metaFault(f dosim.Fault) func(*harness) {
	f.Metadata = true
	return func(h *harness) { h.sim.AddFault(f) }
}

// refusingURL returns an http URL on 127.0.0.1 that refuses connections: its port is bound, so no other test's
// server can take it, but never listened on, so a connection meets a reset (ECONNREFUSED). The socket is closed
// when the test ends.
func refusingURL(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("http://127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
}

// closedPortURL returns an http URL on 127.0.0.1 where nothing listens (a port just released), for a server
// the test starts there itself.
func closedPortURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

type faultFigures struct {
	name            string
	deadline        time.Duration
	code, holder    int
	requests, posts int
	elapsed         time.Duration
	skipped         string
}

func TestFaultMatrix(t *testing.T) {
	var (
		mu   sync.Mutex
		figs []faultFigures
	)
	t.Cleanup(func() {
		if os.Getenv("FAULTS_TABLE") == "" {
			return
		}
		sort.Slice(figs, func(i, j int) bool { return figs[i].name < figs[j].name })
		printFaultTable(figs)
	})
	for _, row := range faultRows() {
		t.Run(row.name, func(t *testing.T) {
			var mutate []func(*dosim.World)
			if row.world != nil {
				mutate = append(mutate, row.world)
			}
			h := newHarness(t, mutate...)
			deadline := row.deadline
			if deadline == 0 {
				deadline = 20 * time.Second
			}
			if row.setup != nil {
				row.setup(h)
			}
			args := append([]string{"assign", "--timeout", deadline.String()}, row.args...)
			if len(row.args) == 0 {
				args = append(args, ipv4)
			}
			var r result
			if row.netns {
				cmd, ok := netnsCommand(t, h, args)
				if !ok {
					mu.Lock()
					figs = append(figs, faultFigures{name: row.name, skipped: "skipped: needs root"})
					mu.Unlock()
					return
				}
				r = h.startCmd(cmd)()
			} else {
				r = h.runBinary(args...)
			}
			checked := ipv4
			if row.ip != "" {
				checked = row.ip
			}
			fig := faultFigures{name: row.name, deadline: deadline, code: r.code, holder: h.sim.Holder(checked),
				requests: len(h.requests("", "")), posts: len(h.requests("POST", "")), elapsed: r.elapsed}
			mu.Lock()
			figs = append(figs, fig)
			mu.Unlock()

			if r.code != row.code {
				t.Errorf("exit code %d, want %d\nstderr: %s", r.code, row.code, r.stderr)
			}
			if fig.holder != row.holder {
				t.Errorf("holder %d, want %d", fig.holder, row.holder)
			}
			if fig.requests < row.requests[0] || fig.requests > row.requests[1] {
				t.Errorf("%d API requests reached the API, want %d to %d: %s", fig.requests, row.requests[0], row.requests[1], describe(h.requests("", "")))
			}
			if row.posts >= 0 && fig.posts != row.posts {
				t.Errorf("%d POSTs, want %d", fig.posts, row.posts)
			}
			if r.elapsed > deadline+time.Second {
				t.Errorf("ran %v with a deadline of %v, want at most the deadline + 1s", r.elapsed.Round(time.Millisecond), deadline)
			}
			if row.code != 0 {
				t.Logf("%s", errorLines(r.stderr))
				if !strings.Contains(r.stderr, row.stderr) {
					t.Errorf("stderr %q, want it to say %q", r.stderr, row.stderr)
				}
				if lines := strings.Count(strings.TrimSpace(errorLines(r.stderr)), "\n") + 1; lines > 2 {
					t.Errorf("error takes %d lines, want one and a hint:\n%s", lines, errorLines(r.stderr))
				}
			}
		})
	}
}

// errorLines keeps the person-facing error lines of stderr, dropping the log lines.
func errorLines(stderr string) string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "do-fip: error:") || strings.HasPrefix(l, "hint:") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func describe(reqs []dosim.Request) string {
	var b strings.Builder
	for _, r := range reqs {
		fmt.Fprintf(&b, "\n  %s %s %d %s", r.Method, r.Path, r.Status, r.Fault)
	}
	return b.String()
}

var exitWords = map[int]string{0: "ok", 1: "api error", 2: "usage", 3: "config", 4: "auth", 5: "refused", 6: "timeout", 7: "metadata", 8: "superseded", 9: "unverified"}

func printFaultTable(figs []faultFigures) {
	fmt.Println("FAULT MATRIX")
	fmt.Printf("| %-62s | %8s | %-13s | %6s | %8s | %5s | %8s |\n", "fault", "deadline", "outcome", "holder", "requests", "posts", "time")
	fmt.Printf("|%s|%s|%s|%s|%s|%s|%s|\n", strings.Repeat("-", 64), strings.Repeat("-", 10), strings.Repeat("-", 15),
		strings.Repeat("-", 8), strings.Repeat("-", 10), strings.Repeat("-", 7), strings.Repeat("-", 10))
	for _, f := range figs {
		if f.skipped != "" {
			fmt.Printf("| %-62s | %s |\n", f.name, f.skipped)
			continue
		}
		fmt.Printf("| %-62s | %8s | %-13s | %6d | %8d | %5d | %7.2fs |\n", f.name, f.deadline,
			fmt.Sprintf("%d %s", f.code, exitWords[f.code]), f.holder, f.requests, f.posts, f.elapsed.Seconds())
	}
	fmt.Println("END FAULT MATRIX")
}

// netnsCommand wraps do-fip in a new network namespace (only a loopback interface, brought up) and mount
// namespace, where /etc/resolv.conf names 127.0.0.1 (nothing listens there) and /etc/hosts knows only localhost.
// Name lookups fail at once and nothing can leave the machine. It needs root; CI runs as root, so there the row
// must run.
func netnsCommand(t *testing.T, h *harness, args []string) (*exec.Cmd, bool) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI must run the DNS row: it needs root for a network namespace")
		}
		t.Skip("needs root for a network namespace of its own (sudo go test ./app/ -run TestFaultMatrix)")
		return nil, false
	}
	tools := map[string]string{}
	for _, name := range []string{"unshare", "mount", "ip"} {
		p, err := exec.LookPath(name)
		if err != nil {
			for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
				if _, serr := os.Stat(filepath.Join(dir, name)); serr == nil {
					p, err = filepath.Join(dir, name), nil
					break
				}
			}
		}
		if err != nil {
			t.Fatalf("the DNS row needs %s: %v", name, err)
		}
		tools[name] = p
	}
	resolv := filepath.Join(h.dir, "resolv.conf")
	hosts := filepath.Join(h.dir, "hosts")
	if err := os.WriteFile(resolv, []byte("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hosts, []byte("127.0.0.1 localhost\n::1 localhost\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := `set -e
"$MOUNT" --bind "$RESOLV" /etc/resolv.conf
"$MOUNT" --bind "$HOSTS" /etc/hosts
"$IP" link set lo up
exec "$@"`
	cmd := exec.Command(tools["unshare"], append([]string{"--net", "--mount", "--propagation", "private", "--",
		"/bin/sh", "-c", script, "sh", binary}, args...)...)
	h.env["MOUNT"], h.env["IP"], h.env["RESOLV"], h.env["HOSTS"] = tools["mount"], tools["ip"], resolv, hosts
	// The pure Go resolver reads only resolv.conf and hosts; a libc resolver could ask a local daemon
	// (systemd-resolved) over a Unix socket, which a network namespace does not isolate.
	h.env["GODEBUG"] = "netdns=go"
	return cmd, true
}
