package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/do-fip/do-fip/preflight"
)

// envKeepalived names the keepalived binary under test; unset, the one on PATH (Debian's package). `make e2e`
// runs the tests once per keepalived version, each with the wiring the README gives for it.
const envKeepalived = "KEEPALIVED"

// kaVersion is a keepalived release number, as do-fip check reads it.
type kaVersion = preflight.Version

// argsOnNotify is the first keepalived whose generic notify takes arguments and that knows
// notify_master_rx_lower_pri (ChangeLog 2.0.6); before it, do-fip is wired per state.
var argsOnNotify = kaVersion{2, 0, 6}

// kaUnderTest is the keepalived the tests run: its path, version and command-line options.
type kaUnderTest struct {
	path    string
	version kaVersion
	help    string
}

var (
	kaOnce sync.Once
	kaInfo kaUnderTest
	kaErr  error
)

// keepalivedPath is $KEEPALIVED, else keepalived from PATH ("" when there is none).
func keepalivedPath() string {
	if p := os.Getenv(envKeepalived); p != "" {
		return p
	}
	p, _ := exec.LookPath("keepalived")
	return p
}

// keepalived returns the keepalived under test, probing its version and options once.
func keepalived(t *testing.T) kaUnderTest {
	t.Helper()
	kaOnce.Do(func() {
		path := keepalivedPath()
		if path == "" {
			kaErr = fmt.Errorf("no keepalived on PATH and %s unset", envKeepalived)
			return
		}
		out, err := runErr(path, "--version")
		v, ok := preflight.ParseVersion([]byte(out))
		if !ok {
			kaErr = fmt.Errorf("%s --version: %v: %s", path, err, out)
			return
		}
		help, _ := runErr(path, "--help")
		kaInfo = kaUnderTest{path: path, version: v, help: help}
	})
	if kaErr != nil {
		t.Fatal(kaErr)
	}
	return kaInfo
}

// perState tells whether this keepalived needs the per-state wiring (before 2.0.6).
func (k kaUnderTest) perState() bool { return k.version.Less(argsOnNotify) }

// has tells whether keepalived --help lists a long option.
func (k kaUnderTest) has(option string) bool { return strings.Contains(k.help, option) }

// argv is the command line that runs keepalived with conf in the foreground (-n), its log on the console
// (-l -D, and not syslog where the version can say so: -G) for the harness to stamp, and its own pid files in
// dir, which several keepalived on one machine need. Builds without LVS (the upstream ones here) have no
// checker process and refuse its pid file option.
func (k kaUnderTest) argv(dir, conf string) []string {
	argv := []string{k.path, "-n", "-l", "-D", "-f", conf,
		"-p", filepath.Join(dir, "keepalived.pid"),
		"-r", filepath.Join(dir, "vrrp.pid")}
	if k.has("--no-syslog") {
		argv = append(argv, "-G")
	}
	if k.has("--checkers_pid") {
		argv = append(argv, "-c", filepath.Join(dir, "checkers.pid"))
	}
	return argv
}

// exampleRange is the keepalived versions an example is meant for, from its header line
// "# For keepalived 2.0.6 and later." or "# For keepalived 1.3.0 to 2.0.5.".
var exampleRange = regexp.MustCompile(`(?m)^# For keepalived (\d+)\.(\d+)\.(\d+)(?: and later| to (\d+)\.(\d+)\.(\d+))\.`)

// meantFor reports whether an example says it is meant for version v; ok is false without such a line.
func meantFor(conf string, v kaVersion) (meant, ok bool) {
	m := exampleRange.FindStringSubmatch(conf)
	if m == nil {
		return false, false
	}
	num := func(s []string) kaVersion {
		var out kaVersion
		for i := range out {
			out[i], _ = strconv.Atoi(s[i])
		}
		return out
	}
	from := num(m[1:4])
	if v.Less(from) {
		return false, true
	}
	if m[4] != "" && num(m[4:7]).Less(v) {
		return false, true
	}
	return true, true
}
