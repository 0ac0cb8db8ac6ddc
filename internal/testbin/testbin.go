// Package testbin builds the do-fip binary for the tests that need it as a separate process: the end-to-end
// lab (keepalived runs it), the benchmarks, and the CLI tests whose meaning depends on process boundaries.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
)

// Build builds do-fip as the Makefile ships it (static, trimmed, stripped) to the path out, from anywhere
// inside the module.
func Build(out string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, "github.com/do-fip/do-fip")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build do-fip: %v\n%s", err, b)
	}
	return nil
}
