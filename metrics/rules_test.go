package metrics_test

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/do-fip/do-fip/metrics"
	"github.com/do-fip/do-fip/metrics/metricstest"
)

const (
	rulesFile     = "../examples/prometheus/do-fip.rules.yml"
	rulesTestFile = "../examples/prometheus/do-fip.rules.test.yml"
)

// Promtool returns the path of promtool (Debian's prometheus package). CI installs it (.ci/run), so there a
// missing one is a failure.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool not found: .ci/run installs Debian's prometheus package, which provides it")
		}
		t.Skip("promtool not found (apt-get install prometheus); CI runs this test")
	}
	return p
}

// The shipped alerting rules load in Prometheus (promtool check rules) and behave as their tests say: quiet with
// one holder that is the MASTER, firing for a split brain, two holders, none, a BACKUP holder, no MASTER, and a
// node that stopped looking (promtool test rules).
func TestAlertRules(t *testing.T) {
	p := promtool(t)
	for _, args := range [][]string{{"check", "rules", rulesFile}, {"test", "rules", rulesTestFile}} {
		out, err := exec.Command(p, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}

// Every metric the rules use is one do-fip writes, with the type the rule assumes.
func TestAlertRulesUseMetricsDoFipWrites(t *testing.T) {
	rules, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	s := metrics.Load(nil)
	s.Add(metrics.Run{Command: "notify", End: time.Now(), IPs: []string{ip4}, Held: map[string]bool{ip4: true}, HeldComplete: true,
		Moves: []metrics.MoveResult{{IP: ip4, Move: metrics.Move{Time: time.Now(), OK: true}}}})
	var b bytes.Buffer
	if err := s.WriteText(&b, map[string]metrics.Keepalived{ip4: {State: "MASTER", Since: time.Now()}}, "x"); err != nil {
		t.Fatal(err)
	}
	f, err := metricstest.Parse(&b)
	if err != nil {
		t.Fatal(err)
	}
	used := regexp.MustCompile(`\bdo_fip_[a-z_]+`).FindAllString(string(rules), -1)
	if len(used) == 0 {
		t.Fatal("the rules use no do_fip_ metric")
	}
	for _, name := range used {
		if _, ok := f.Types[name]; !ok {
			t.Errorf("the rules use %s, which do-fip does not write (it writes %v)", name, f.Names())
		}
	}
}
