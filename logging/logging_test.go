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
