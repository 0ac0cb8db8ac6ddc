package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/do-fip/do-fip/internal/testbin"
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
	if err := testbin.Build(out); err != nil {
		t.Fatal(err)
	}
	return out
}
