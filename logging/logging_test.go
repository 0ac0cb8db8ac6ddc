package logging

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFileGetsJSONLinesWithStableFields(t *testing.T) {
	p := filepath.Join(t.TempDir(), "do-fip.log")
	var stderr bytes.Buffer
	l := New(Options{Level: "info", File: p, Syslog: "off", Stderr: &stderr, Command: "assign"})
	l.Debug().Msg("not at info")
	l.Info().Str("ip", "203.0.113.10").Int("droplet_id", 1001).Msg("moving")
	l.Record.Error().Int("exit_code", 6).Msg("failed")
	l.Close()

	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines in the file, want 2 (debug filtered):\n%s", len(lines), data)
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"time", "level", "pid", "cmd", "ip", "droplet_id", "message"} {
		if _, ok := first[k]; !ok {
			t.Errorf("field %q missing: %s", k, lines[0])
		}
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
		t.Errorf("log file mode %v, want 0640", fi.Mode().Perm())
	}
	// Record goes to the file but not to stderr, where the command prints the error for a person itself.
	if !strings.Contains(stderr.String(), "moving") || strings.Contains(stderr.String(), "failed") {
		t.Errorf("stderr %q", stderr.String())
	}
}

func TestUnopenableSinkDoesNotStopTheRun(t *testing.T) {
	var stderr bytes.Buffer
	l := New(Options{Level: "info", File: filepath.Join(t.TempDir(), "no", "such", "dir.log"), Syslog: "off", Stderr: &stderr})
	defer l.Close()
	if len(l.Problems) != 1 || !strings.Contains(stderr.String(), "log file") {
		t.Fatalf("problems %v, stderr %q", l.Problems, stderr.String())
	}
	l.Info().Msg("still logging")
	if !strings.Contains(stderr.String(), "still logging") {
		t.Error("logging stopped")
	}
}

func TestFallbackWhenNoOtherSink(t *testing.T) {
	dir := t.TempDir()
	fb := filepath.Join(dir, "do-fip.log")
	os.WriteFile(fb, bytes.Repeat([]byte("x"), FallbackMax+1), 0o640)
	l := New(Options{Level: "info", Syslog: "off", Fallback: fb, Command: "notify"})
	l.Info().Msg("hook ran")
	l.Close()
	data, _ := os.ReadFile(fb)
	if !strings.Contains(string(data), "hook ran") || len(data) > 1000 {
		t.Fatalf("fallback log %d bytes: %.200s", len(data), data)
	}
	if fi, err := os.Stat(fb + ".1"); err != nil || fi.Size() != FallbackMax+1 {
		t.Errorf("the full log was not kept as .1: %v", err)
	}
	// With a real sink, the fallback stays unused.
	p := filepath.Join(dir, "chosen.log")
	l = New(Options{Level: "info", Syslog: "off", File: p, Fallback: filepath.Join(dir, "unused.log")})
	l.Info().Msg("x")
	l.Close()
	if _, err := os.Stat(filepath.Join(dir, "unused.log")); err == nil {
		t.Error("fallback written although a log file was given")
	}
}

func TestOneLine(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"plain", 0, "plain"},
		{"two\nlines\r\n\tindented", 0, "two lines indented"},
		{"bell\a and \x1b[31mred", 0, "bell and [31mred"},
		{"  spaced   out  ", 0, "spaced out"},
		{"ééééé", 4, "éééé"},
	}
	for _, tc := range tests {
		if got := OneLine(tc.in, tc.max); got != tc.want {
			t.Errorf("OneLine(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}
