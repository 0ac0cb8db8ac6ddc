package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/do-fip/do-fip/metrics/metricstest"
	"github.com/do-fip/do-fip/state"
)

// Every node writes do-fip's metrics file (metrics_file in its do-fip.conf) as node_exporter would read it. The
// shipped alerting rules are judged by promtool itself: the nodes' files, parsed with Prometheus' parser and
// labelled with the node's name as instance, become a `promtool test rules` input, and the test expects the
// recorded series do_fip:reserved_ip_problem (what DoFipReservedIPNotOnMaster fires on) to be exactly what the
// scenario says: none once a scenario has settled (one holder, the MASTER), the split brain while it lasts.

const rulesFile = "../examples/prometheus/do-fip.rules.yml"

// ruleSettleTimeout bounds the wait for the rule to agree. A node that leaves MASTER looks (asks the metadata
// service) when keepalived runs its hook, maybe before the new MASTER's move lands; its next look is its
// reconcile, at most chk_do_fip's 15 s interval later.
const ruleSettleTimeout = 25 * time.Second

func (n *node) metricsDir() string  { return filepath.Join(n.dir, "textfile") }
func (n *node) metricsFile() string { return filepath.Join(n.metricsDir(), "do-fip.prom") }

// problem is one series of do_fip:reserved_ip_problem.
type problem struct {
	ip, kind string
	nodes    float64
}

// ruleEval runs promtool over the nodes' metrics files, expecting want; nil when promtool agrees. A node whose
// keepalived was killed stands for a dead droplet: its node_exporter went with it, so its file is not read.
func (l *lab) ruleEval(want []problem) error {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		return fmt.Errorf("promtool not found: apt-get install prometheus (.ci/run does)")
	}
	rules, err := filepath.Abs(rulesFile)
	if err != nil {
		return err
	}
	// promtool's clock starts at 0: timestamps move so that their age at the evaluation is their age now.
	const evalAt = time.Hour
	now := float64(time.Now().UnixMilli()) / 1000
	var input []map[string]string
	for _, n := range l.nodes {
		if n.ka == nil || !n.ka.running() {
			continue
		}
		f, err := metricstest.ReadFile(n.metricsFile())
		if err != nil {
			return fmt.Errorf("%s: %w", n.name, err)
		}
		for _, smp := range f.List {
			v := smp.Value
			if strings.HasSuffix(smp.Name, "_timestamp_seconds") {
				v += evalAt.Seconds() - now
			}
			labels := maps.Clone(smp.Labels)
			labels["instance"] = n.name
			input = append(input, map[string]string{
				"series": promSeries(smp.Name, labels),
				"values": strconv.FormatFloat(v, 'f', -1, 64) + "x250", // 250 × 15 s: past evalAt
			})
		}
	}
	exp := []map[string]any{}
	for _, p := range want {
		exp = append(exp, map[string]any{
			"labels": promSeries("do_fip:reserved_ip_problem", map[string]string{"ip": p.ip, "problem": p.kind}),
			"value":  p.nodes,
		})
	}
	test := map[string]any{
		"rule_files":          []string{rules},
		"evaluation_interval": "15s",
		"tests": []any{map[string]any{
			"interval":     "15s",
			"input_series": input,
			"promql_expr_test": []any{map[string]any{
				"expr": "do_fip:reserved_ip_problem", "eval_time": fmt.Sprintf("%ds", int(evalAt.Seconds())), "exp_samples": exp,
			}},
		}},
	}
	b, err := json.MarshalIndent(test, "", " ") // YAML reads JSON
	if err != nil {
		return err
	}
	path := filepath.Join(l.dir, "rule-test.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return err
	}
	if out, err := exec.Command(promtool, "test", "rules", path).CombinedOutput(); err != nil {
		return fmt.Errorf("promtool test rules (%s): %v\n%s", path, err, out)
	}
	return nil
}

func promSeries(name string, labels map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, k+"="+strconv.Quote(labels[k]))
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

// waitRule waits up to timeout for the rule's series to be exactly one of wants and returns promtool's last
// disagreement if they never are.
func (l *lab) waitRule(timeout time.Duration, wants ...[]problem) error {
	deadline := time.Now().Add(timeout)
	for {
		var err error
		for _, want := range wants {
			if err = l.ruleEval(want); err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(time.Second)
	}
}

// ruleQuietAtEnd runs as the scenario's cleanup, before keepalived is stopped (node.start registers it after
// keepalived's own cleanup, and cleanups run last first): once every scenario has settled, the alert rule's
// expression is quiet on every node's metrics.
func (l *lab) ruleQuietAtEnd() {
	if l.ruleChecked || l.t.Failed() || l.t.Skipped() {
		return
	}
	l.ruleChecked = true
	start := time.Now()
	err := l.waitRule(ruleSettleTimeout, nil)
	if err == nil {
		l.t.Logf("the alert rule is quiet on every node's metrics (%.1f s after the scenario)", time.Since(start).Seconds())
	}
	if err != nil {
		l.t.Errorf("after the scenario the alert rule still fires (want one holder, the MASTER): %v", err)
		for _, n := range l.nodes {
			b, _ := os.ReadFile(n.metricsFile())
			l.t.Logf("%s (%s) %s:\n%s", n.name, n.state(), n.metricsFile(), b)
		}
	}
}

// While a split brain lasts, both nodes are MASTER and the rule fires (problem "masters", 2 nodes); once it
// heals it is quiet again (ruleQuietAtEnd). The rule's `for: 1m` is not part of this check: promtool is given
// each node's current values as if they had held for an hour.
func TestSplitBrainAlert(t *testing.T) {
	l := newLab(t, labOptions{})
	m := l.ready()
	b := l.nodes[1]
	if err := l.ruleEval(nil); err != nil {
		t.Fatalf("before the split brain the rule fires: %v", err)
	}
	l.failover("split brain: link cut", b, func() { m.cutFrom(b) })
	// The MASTER that lost the IP says so at its next reconcile (up to 15 s): until then it still says it holds
	// it, and the rule sees two holders as well.
	masters := problem{reservedIP, "masters", 2}
	if err := l.waitRule(5*time.Second, []problem{masters}, []problem{{reservedIP, "holders", 2}, masters}); err != nil {
		t.Fatalf("during the split brain the rule does not fire as two MASTERs: %v", err)
	}
	t1 := time.Now()
	m.healTowards(b)
	b.healTowards(m)
	b.waitState("BACKUP", t1, electTimeout)
	l.sim.waitHolder(m.dropletID, ruleSettleTimeout)
	l.waitHooksIdle()
}

// wantHistoryOfTransitions checks that `do-fip status --history` on each node lists every keepalived
// transition since t0, in keepalived's order, as its notify runs.
func (l *lab) wantHistoryOfTransitions(t0 time.Time) {
	t := l.t
	t.Helper()
	for _, n := range l.nodes {
		var want []string
		for _, ln := range n.ka.out.all() {
			if m := stateRE.FindStringSubmatch(ln.text); m != nil && !ln.at.Before(t0) {
				want = append(want, m[2])
			}
		}
		cmd := exec.Command(l.bin, "status", "--history", "--json")
		cmd.Env = append(n.env(), "DO_FIP_LOG_FILE="+filepath.Join(l.dir, "status-history.log"), "DO_FIP_SYSLOG=off")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: status --history: %v\n%s", n.name, err, out)
		}
		var h struct {
			History []state.HistoryEntry `json:"history"`
		}
		if err := json.Unmarshal(out, &h); err != nil {
			t.Fatalf("%s: status --history --json: %v\n%s", n.name, err, out)
		}
		var got []string
		for _, e := range h.History {
			if e.Command == "notify" && !e.Time.Before(t0) {
				got = append(got, e.State)
			}
		}
		if !historyMatches(got, want, keepalived(t).perState()) {
			text := exec.Command(l.bin, "status", "--history")
			text.Env = cmd.Env
			table, _ := text.CombinedOutput()
			t.Errorf("%s: status --history lists transitions %v, keepalived made %v\n%s", n.name, got, want, table)
		} else {
			t.Logf("%s: status --history lists all %d transitions in order", n.name, len(got))
		}
	}
}

// historyMatches says whether the notify entries of status --history (got) are keepalived's logged state
// changes (want). keepalived 2.x logs every state change it runs a hook for: they must be equal. keepalived
// before 2.0.6, wired per state, also runs notify_fault when a failing check is re-evaluated while the
// instance is in FAULT or BACKUP, without logging a state change (seen with 1.3.5: two FAULT hooks in the same
// millisecond, then BACKUP): every logged change must be in the history in order, and the MASTER entries,
// the ones that move the IP, must be exactly keepalived's.
func historyMatches(got, want []string, perState bool) bool {
	if !perState {
		return slices.Equal(got, want)
	}
	count := func(s []string) int {
		n := 0
		for _, x := range s {
			if x == "MASTER" {
				n++
			}
		}
		return n
	}
	i := 0
	for _, x := range got {
		if i < len(want) && x == want[i] {
			i++
		}
	}
	return i == len(want) && count(got) == count(want)
}
