package preflight

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

// Version is a keepalived release, e.g. 2.2.7.
type Version [3]int

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2]) }

// Less says whether v is older than o.
func (v Version) Less(o Version) bool {
	for i := range v {
		if v[i] != o[i] {
			return v[i] < o[i]
		}
	}
	return false
}

// Releases that changed what do-fip's wiring needs (keepalived's ChangeLog and source at each tag).
var (
	// v206 brought arguments on the generic notify line (before, the whole value is one file name) and
	// notify_master_rx_lower_pri.
	v206 = Version{2, 0, 6}
	// 1.3.4 and 1.3.5 fail to resolve the default keepalived_script user and run such scripts as root.
	v134 = Version{1, 3, 4}
	v136 = Version{1, 3, 6}
)

var versionRe = regexp.MustCompile(`Keepalived v(\d+)\.(\d+)\.(\d+)`)

// ParseVersion reads the version from `keepalived --version` output ("Keepalived v2.2.7 (01/16,2022)").
func ParseVersion(out []byte) (Version, bool) {
	m := versionRe.FindSubmatch(out)
	if m == nil {
		return Version{}, false
	}
	var v Version
	for i := range v {
		v[i], _ = strconv.Atoi(string(m[i+1]))
	}
	return v, true
}

// findKeepalived returns the keepalived binary to ask: the one named, else the first on PATH or in the
// directories distributions install it to.
func findKeepalived(named string) (string, error) {
	if named != "" {
		return named, nil
	}
	if p, err := exec.LookPath("keepalived"); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(d, "keepalived")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("no keepalived on PATH or in /usr/sbin, /sbin, /usr/local/sbin")
}

// keepalivedVersion runs `keepalived --version` (1.x prints to stderr, 2.x to stdout and stderr), bounded by
// two seconds, with no environment: the version line is all it needs.
func keepalivedVersion(ctx context.Context, bin string) (Version, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--version")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if v, ok := ParseVersion(out.Bytes()); ok {
		return v, nil
	}
	if err != nil {
		return Version{}, fmt.Errorf("%s --version: %v", bin, err)
	}
	return Version{}, fmt.Errorf("%s --version printed no version", bin)
}
