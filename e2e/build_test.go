package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// buildDoFip builds do-fip (statically, as shipped) into dir/bin: the hook every node's
// keepalived runs and the simulator the cloud namespace serves.
func buildDoFip(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(bin, "do-fip")
	cmd := exec.Command("go", "build", "-o", out, "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build do-fip: %v\n%s", err, b)
	}
	return out
}
