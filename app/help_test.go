package app_test

import (
	"regexp"
	"strings"
	"testing"
)

// --help and --version work for the app and for every command, wherever they are given, and the help lists
// them once, without a default.
func TestHelpAndVersionFlags(t *testing.T) {
	h := newHarness(t)
	helpLine := regexp.MustCompile(`(?m)^\s+--help, -h\s+show help$`)
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"assign", "--help"}, {"status", "-h"}, {"notify", "--help"}, {"reconcile", "--help"},
		{"--log-level", "debug", "simulate", "--help"},
	} {
		r := h.run(args...)
		h.wantCode(r, 0)
		if n := len(helpLine.FindAllString(r.stdout, -1)); n != 1 {
			t.Errorf("do-fip %s: %d lines for --help, want one without a default:\n%s", strings.Join(args, " "), n, r.stdout)
		}
		if h.allRequests() != 0 {
			t.Errorf("do-fip %s made requests", strings.Join(args, " "))
		}
	}
	r := h.run("--help")
	if !regexp.MustCompile(`(?m)^\s+--version, -v\s+print the version$`).MatchString(r.stdout) || !strings.Contains(r.stdout, "EXIT CODES:") {
		t.Errorf("--help:\n%s", r.stdout)
	}
	for _, args := range [][]string{{"--version"}, {"-v"}} {
		r := h.run(args...)
		h.wantCode(r, 0)
		if r.stdout != "do-fip version dev\n" {
			t.Errorf("%s: %q", args[0], r.stdout)
		}
	}
}
