package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// hookBinary builds do-fip into dir/bin and returns the program keepalived runs as its
// hook and the real do-fip (which also serves the simulator). DO_FIP_E2E_HOOK names a
// stand-in hook to put in front of the real binary, which then sits next to it as
// do-fip.real.
func hookBinary(t *testing.T, dir string) (hook, real string) {
	t.Helper()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	hook = filepath.Join(bin, "do-fip")
	real = hook
	standIn := os.Getenv("DO_FIP_E2E_HOOK")
	if standIn != "" {
		real = hook + ".real"
	}
	cmd := exec.Command("go", "build", "-o", real, "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build do-fip: %v\n%s", err, out)
	}
	if standIn != "" {
		b, err := os.ReadFile(standIn)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(hook, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return hook, real
}
