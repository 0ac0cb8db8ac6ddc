package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
)

// Token environment variables, in the order they are consulted: doctl's name, Terraform's, then the tutorial's
// DO_TOKEN so a drop-in replacement of assign-ip keeps working.
var TokenEnvVars = []string{"DIGITALOCEAN_ACCESS_TOKEN", "DIGITALOCEAN_TOKEN", "DO_TOKEN"}

// ErrNoToken means no source supplied an API token.
var ErrNoToken = errors.New("no API token")

// ErrInsecureFile means a file holding the token is readable or writable by others.
var ErrInsecureFile = errors.New("insecure permissions")

// maxTokenFile bounds a token file; a DigitalOcean token is 71 characters.
const maxTokenFile = 4 << 10

// CheckSecretFile refuses a file that holds a secret when others could read it or change it, as ssh does for keys:
// no access at all for "other", no write for the group, and owned by the user running do-fip or by root.
func CheckSecretFile(path string, fi fs.FileInfo) error {
	return checkSecretFileFor(path, fi, os.Geteuid())
}

// checkSecretFileFor is CheckSecretFile for a run as uid.
func checkSecretFileFor(path string, fi fs.FileInfo, uid int) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: %w: not a regular file", path, ErrInsecureFile)
	}
	perm := fi.Mode().Perm()
	if perm&0o027 != 0 {
		return fmt.Errorf("%s: %w: mode %04o lets other users read or change it (fix: chmod 600 %s, or 640 with group keepalived_script)",
			path, ErrInsecureFile, perm, path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if int(st.Uid) != uid && st.Uid != 0 {
			return fmt.Errorf("%s: %w: owned by uid %d, not by root or the user running do-fip (uid %d) (fix: chown root %s)",
				path, ErrInsecureFile, st.Uid, uid, path)
		}
	}
	return nil
}

// ReadTokenFile reads a token from path after checking its permissions. The token is the file's first non-empty
// line with surrounding white space removed.
func ReadTokenFile(path string) (string, error) { return readTokenFileFor(path, os.Geteuid()) }

// readTokenFileFor is ReadTokenFile for a run as uid: the file may belong to that user.
func readTokenFileFor(path string, uid int) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	if err := checkSecretFileFor(path, fi, uid); err != nil {
		return "", fmt.Errorf("token file %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxTokenFile))
	if err != nil {
		return "", fmt.Errorf("token file %s: %w", path, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
			if err := checkTokenText(t); err != nil {
				return "", fmt.Errorf("token file %s: %w", path, err)
			}
			return t, nil
		}
	}
	return "", fmt.Errorf("token file %s: %w: the file is empty", path, ErrNoToken)
}

// checkTokenText rejects a value that cannot be a token (it would otherwise end up in an HTTP header). The error
// never repeats the value.
func checkTokenText(t string) error {
	for _, r := range t {
		if r <= ' ' || r > '~' {
			return errors.New("the token contains spaces or non-printable characters")
		}
	}
	return nil
}
