package e2e

import (
	"os"
	"os/exec"
	"testing"
)

// envE2E enables the tests that need root, namespaces and keepalived.
const envE2E = "DO_FIP_E2E"

// requireLab skips the test unless DO_FIP_E2E=1, and fails it when DO_FIP_E2E=1 but a
// prerequisite is missing: CI sets the variable, and there a silent skip would hide
// that nothing ran.
func requireLab(t *testing.T) {
	t.Helper()
	if os.Getenv(envE2E) != "1" {
		t.Skipf("end-to-end test: set %s=1 and run as root with keepalived and iproute2 installed", envE2E)
	}
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		missing = append(missing, "ip")
	}
	if keepalivedPath() == "" {
		missing = append(missing, "keepalived")
	}
	if len(missing) > 0 {
		t.Fatalf("%s=1 but missing: %v (apt-get install -y keepalived iproute2; run as root)", envE2E, missing)
	}
	keepalived(t)
	reapStale(t)
}
