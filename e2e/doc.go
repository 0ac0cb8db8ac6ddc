// Package e2e holds do-fip's end-to-end tests: real keepalived processes in network
// namespaces, one per load balancer, electing a MASTER over unicast VRRP, with do-fip as
// their hook, talking to the project's DigitalOcean simulator in a "cloud" namespace
// that also answers as the metadata service on 169.254.169.254. It also checks the
// keepalived configurations under examples/ with keepalived itself.
//
// The tests need root, the ip command and keepalived, and they create namespaces, so
// they run only when DO_FIP_E2E=1 is set (CI sets it; there a missing prerequisite is a
// failure, not a skip):
//
//	sudo DO_FIP_E2E=1 go test ./e2e/ -v -timeout 20m
//
// KEEPALIVED=/path/to/keepalived runs them with that keepalived (its version picks the
// wiring: per-state hooks before 2.0.6); make e2e runs every version (scripts/e2e-matrix.sh).
//
// Every test names its namespaces dofip-<pid>-<n>-<role>, so parallel runs never
// collide, and removes them, and kills the processes it started by PID, even when it
// fails.
package e2e
