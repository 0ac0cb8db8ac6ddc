package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// hookBinary builds do-fip into dir/bin, the binary every node's keepalived runs as its
// hook. DO_FIP_E2E_HOOK names a stand-in to copy instead.
func hookBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(bin, "do-fip")
	if src := os.Getenv("DO_FIP_E2E_HOOK"); src != "" {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o755); err != nil {
			t.Fatal(err)
		}
		return dst
	}
	cmd := exec.Command("go", "build", "-o", dst, "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build do-fip: %v\n%s", err, out)
	}
	return dst
}
