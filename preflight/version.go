package preflight

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
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

// findKeepalived returns the keepalived binary to read: the one named, else the first on PATH or in the
// directories distributions install it to. PATH comes from getenv, the run's environment.
func findKeepalived(named string, getenv func(string) string) (string, error) {
	if named != "" {
		return named, nil
	}
	dirs := filepath.SplitList(getenv("PATH"))
	dirs = append(dirs, "/usr/sbin", "/sbin", "/usr/local/sbin")
	for _, d := range dirs {
		if d == "" || !filepath.IsAbs(d) {
			continue
		}
		p := filepath.Join(d, "keepalived")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("no keepalived on PATH or in /usr/sbin, /sbin, /usr/local/sbin")
}

// maxKeepalivedBinary bounds what is read of the binary; keepalived is 1 to 2 MiB.
const maxKeepalivedBinary = 64 << 20

// keepalivedVersion reads the version from the binary itself: every release since 1.x carries the line
// `keepalived --version` prints ("Keepalived v2.2.7 (01/16,2022)") as a string. Reading it starts no
// program, so nothing of do-fip's environment (the token) can reach a child process.
func keepalivedVersion(bin string) (Version, error) {
	f, err := os.Open(bin)
	if err != nil {
		return Version{}, err
	}
	defer f.Close()
	// Scan in chunks that overlap by more than the longest version string, so none is cut in two.
	const chunk, overlap = 1 << 20, 64
	buf := make([]byte, chunk+overlap)
	n, keep := 0, 0
	for read := 0; read < maxKeepalivedBinary; {
		m, err := io.ReadFull(f, buf[keep:])
		n = keep + m
		read += m
		if v, ok := ParseVersion(buf[:n]); ok {
			return v, nil
		}
		if err != nil {
			break
		}
		keep = copy(buf, buf[n-overlap:n])
	}
	return Version{}, fmt.Errorf("%s: no \"Keepalived vX.Y.Z\" version string in it", bin)
}
