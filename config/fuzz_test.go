package config

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const fuzzToken = "dop_v1_5e1f0c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f"

// FuzzParseFile feeds config files. A file parses into known keys with values that write back and parse to the
// same, or fails with ErrSyntax on one bounded line that names the line and never shows the token.
func FuzzParseFile(f *testing.F) {
	f.Add([]byte("# do-fip\nips = 203.0.113.10, 2001:db8:10::10\ntimeout = 30s\n"))
	f.Add([]byte("token = \"" + fuzzToken + "\"\n"))
	f.Add([]byte("token = " + fuzzToken + " # mine\n"))
	f.Add([]byte("state_dir = \"/var/lib/do-fip # not a comment\"\n"))
	f.Add([]byte("timeuot = 5s\n"))
	f.Add([]byte(fuzzToken + "\n"))
	f.Add([]byte(fuzzToken + " = 1\n"))
	f.Add([]byte("token: " + fuzzToken + "=\n"))
	f.Add([]byte("log_level = \"debug\nsyslog = off\n"))
	f.Add([]byte("api_url=https://api.digitalocean.com\r\nmetadata_url = http://169.254.169.254\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseFile("do-fip.conf", strings.NewReader(string(data)))
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error %v is not ErrSyntax", err)
			}
			msg := err.Error()
			if strings.ContainsAny(msg, "\n\r") || len(msg) > 400 || !strings.HasPrefix(msg, "do-fip.conf:") {
				t.Fatalf("error is not one bounded line naming the file and line: %q", msg)
			}
			if strings.Contains(string(data), fuzzToken) && strings.Contains(msg, fuzzToken[7:27]) {
				t.Fatalf("error shows the token: %q", msg)
			}
			return
		}
		var keys []string
		for k, v := range file.Values {
			if !known(k) {
				t.Fatalf("unknown key %q accepted", k)
			}
			if strings.ContainsRune(v, 0) {
				t.Fatalf("%s: value with a NUL byte accepted: %q", k, v)
			}
			if file.Lines[k] < 1 {
				t.Fatalf("%s: line %d", k, file.Lines[k])
			}
			keys = append(keys, k)
		}
		// Written back with quotes, the values parse to the same.
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "%s = %s\n", k, strconv.Quote(file.Values[k]))
		}
		again, err := ParseFile("again.conf", strings.NewReader(b.String()))
		if err != nil {
			t.Fatalf("written back, the file does not parse: %v\n%s", err, b.String())
		}
		for _, k := range keys {
			if again.Values[k] != file.Values[k] {
				t.Fatalf("%s: %q written back parses as %q", k, file.Values[k], again.Values[k])
			}
		}
	})
}
