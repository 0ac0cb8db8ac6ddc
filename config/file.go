// Package config owns do-fip's settings: the config file format, where the API token comes from and how it is
// guarded, and the checks that run before any request is made.
package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// File keys, in the order the sample config documents them. A key not listed here is an error: a typo in a
// failover hook's config must not silently fall back to a default.
var fileKeys = []string{
	KeyIPs, KeyToken, KeyTokenFile, KeyAPIURL, KeyMetadataURL, KeyStateDir, KeyLogFile, KeyLogLevel,
	KeySyslog, KeyTimeout, KeyCheckAfter, KeyDropletID,
}

// Config file keys.
const (
	KeyIPs         = "ips"
	KeyToken       = "token"
	KeyTokenFile   = "token_file"
	KeyAPIURL      = "api_url"
	KeyMetadataURL = "metadata_url"
	KeyStateDir    = "state_dir"
	KeyLogFile     = "log_file"
	KeyLogLevel    = "log_level"
	KeySyslog      = "syslog"
	KeyTimeout     = "timeout"
	KeyCheckAfter  = "check_after"
	KeyDropletID   = "droplet_id"
)

// maxFileSize bounds what is read from a config file; a real one is a few hundred bytes.
const maxFileSize = 64 << 10

// ErrSyntax marks a config file that could not be parsed.
var ErrSyntax = errors.New("config syntax error")

// File is a parsed config file: key → value, plus the line each key came from.
type File struct {
	Name   string
	Values map[string]string
	Lines  map[string]int
}

// Get returns the value of key and whether the file sets it.
func (f *File) Get(key string) (string, bool) {
	if f == nil {
		return "", false
	}
	v, ok := f.Values[key]
	return v, ok
}

// ParseFile reads `key = value` lines. Blank lines and lines starting with '#' are ignored; a value may be wrapped
// in double quotes (needed only to keep a '#' or surrounding spaces). Errors name the file, the line and the key.
func ParseFile(name string, r io.Reader) (*File, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s: %w: larger than %d bytes", name, ErrSyntax, maxFileSize)
	}
	f := &File{Name: name, Values: map[string]string{}, Lines: map[string]int{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxFileSize)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: %w: expected key = value", name, n, ErrSyntax)
		}
		key = strings.TrimSpace(key)
		if !known(key) {
			if !keyShaped(key) {
				// What stands left of '=' may be anything, a pasted token too: it is not repeated.
				return nil, fmt.Errorf("%s:%d: %w: the text before '=' is not a key (known: %s)", name, n, ErrSyntax, strings.Join(fileKeys, ", "))
			}
			return nil, fmt.Errorf("%s:%d: %w: unknown key %q (known: %s)", name, n, ErrSyntax, key, strings.Join(fileKeys, ", "))
		}
		if prev, dup := f.Lines[key]; dup {
			return nil, fmt.Errorf("%s:%d: %w: %q already set on line %d", name, n, ErrSyntax, key, prev)
		}
		value, err := unquote(strings.TrimSpace(value))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w: %s: %v", name, n, ErrSyntax, key, err)
		}
		f.Values[key] = value
		f.Lines[key] = n
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w: %v", name, n+1, ErrSyntax, err)
	}
	return f, nil
}

// keyShaped says whether s looks like a key someone meant to write (letters, digits, '_', '-', '.', at most 32
// characters), which is then safe to repeat in an error. A DigitalOcean token is 71 characters.
func keyShaped(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

func known(key string) bool {
	for _, k := range fileKeys {
		if k == key {
			return true
		}
	}
	return false
}

// unquote strips an inline comment from a bare value, or the quotes from a quoted one. No value needs a
// control character, and a quoted one could otherwise smuggle in a NUL or a line break ("\x00", "\n").
func unquote(v string) (string, error) {
	if strings.HasPrefix(v, `"`) {
		s, err := strconv.Unquote(v)
		if err != nil {
			return "", errors.New("unterminated or malformed quoted value")
		}
		v = s
	} else if i := strings.Index(v, " #"); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
		return "", errors.New("value contains a control character")
	}
	return v, nil
}
