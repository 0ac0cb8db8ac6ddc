#!/usr/bin/env bash
# The end-to-end tests on every keepalived version users run (make e2e, make examples-check): Debian's package
# (keepalived on PATH) runs every scenario; each upstream build in ../shared/keepalived/bin/VERSION runs the
# core scenarios (start, SIGKILL, split brain, flapping, restart) and the examples meant for it. Every version gets the wiring the README
# gives for it (the tests pick it from keepalived --version). E2E_JOBS versions run at once, each in its own
# namespaces; logs and timings go to bin/e2e/VERSION/, and a summary table ends the run.
#
#   scripts/e2e-matrix.sh [e2e|examples]
#   E2E_VERSIONS="debian 1.3.5"  only these; E2E_RUN=REGEX  these tests on every version
set -uo pipefail
mode=${1:-e2e}
root=$(git rev-parse --show-toplevel)
cd "$root"
out=${DO_FIP_E2E_OUT:-$root/bin/e2e}
shared=${KEEPALIVED_DIR:-$root/../shared/keepalived}
jobs=${E2E_JOBS:-4}
timeout=${E2E_TIMEOUT:-25m}
core='^(TestStartAssignsToMaster|TestFailoverKeepalivedKilled|TestSplitBrain|TestFlapping|TestRestartAfterPeerTookOver)$'
examples='^(TestLintKeepalived|TestExamples.*)$'

fail() { echo "e2e-matrix: $*" >&2; exit 1; }

versions=${E2E_VERSIONS:-}
if [ -z "$versions" ]; then
	versions=debian
	if [ -d "$shared/bin" ]; then
		versions+=" $(cd "$shared/bin" && ls | sort -V | tr '\n' ' ')"
	elif [ "${CI:-}" = true ]; then
		fail "$shared/bin is missing: CI must test every keepalived version (the upstream builds live in ../shared/keepalived next to the clone)"
	else
		echo "e2e-matrix: $shared/bin not found: testing Debian's keepalived only, NOT the upstream versions 1.3.5-2.3.3" >&2
	fi
fi

binary() { # the keepalived of version $1
	if [ "$1" = debian ]; then command -v keepalived || true; else echo "$shared/bin/$1/keepalived"; fi
}
for v in $versions; do
	k=$(binary "$v")
	[ -n "$k" ] && [ -x "$k" ] || fail "no keepalived for $v ($k): apt-get install keepalived, or see $shared/README.md"
	"$k" --version >/dev/null 2>&1 || fail "$k does not run (its libraries: apt-get install libnl-3-200 libnl-genl-3-200 libnl-route-3-200 libmagic1 libsystemd0)"
done

mkdir -p "$out"
go test -c -o "$out/e2e.test" ./e2e/ || fail "cannot build the end-to-end tests"

run_version() { # $1 version: runs its tests, writes $out/$1/{test.log,rc,seconds}
	local v=$1 k dir re skip=() start
	k=$(binary "$v")
	dir="$out/$v"
	rm -rf "$dir" && mkdir -p "$dir"
	# 1.3.x has no --config-test: its examples are checked by a real run (TestExamplesKeepalivedRun).
	# (Read the whole help first: grep -q closing the pipe early would fail the pipeline under pipefail.)
	local help
	help=$("$k" --help 2>&1)
	[[ $help == *--config-test* ]] || skip=(-test.skip '^TestExamplesKeepalivedConfigTest$')
	case $mode in
	examples) re=$examples ;;
	*)
		re=${E2E_RUN:-.}
		if [ "$v" != debian ] && [ "$re" = . ]; then re="$core|$examples"; fi
		;;
	esac
	start=$SECONDS
	(cd e2e && DO_FIP_E2E=1 KEEPALIVED="$k" DO_FIP_E2E_OUT="$dir" "$out/e2e.test" \
		-test.run "$re" "${skip[@]}" -test.count 1 -test.v -test.timeout "$timeout") >"$dir/test.log" 2>&1
	echo $? >"$dir/rc"
	echo $((SECONDS - start)) >"$dir/seconds"
}

begin=$SECONDS
for v in $versions; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
	echo "e2e-matrix: keepalived $v: started ($mode)"
	run_version "$v" &
done
wait

rc=0
printf '\n| keepalived | version | result | tests passed | tests failed | restart rounds | rounds where reconcile met the killed keepalived'"'"'s record | time |\n|---|---|---|---:|---:|---:|---:|---:|\n'
for v in $versions; do
	dir="$out/$v"
	log="$dir/test.log"
	r=$(cat "$dir/rc" 2>/dev/null || echo 1)
	[ "$r" = 0 ] || rc=1
	full=$("$(binary "$v")" --version 2>&1 | grep -oE 'v[0-9]+\.[0-9.]+' | head -1)
	printf '| %s | %s | %s | %s | %s | %s | %s | %s s |\n' "$v" "$full" "$([ "$r" = 0 ] && echo PASS || echo FAIL)" \
		"$(grep -c '^--- PASS' "$log")" "$(grep -c '^--- FAIL' "$log")" \
		"$(grep -oE 'restart [0-9]+/[0-9]+: ok' "$log" | tail -1 | grep -oE '[0-9]+/[0-9]+' || echo -)" \
		"$(grep -oE 'in [0-9]+/[0-9]+ rounds reconcile found' "$log" | grep -oE '[0-9]+/[0-9]+' || echo -)" \
		"$(cat "$dir/seconds" 2>/dev/null)"
done
echo "total: $((SECONDS - begin)) s"
for v in $versions; do
	if [ -f "$out/$v/timings.md" ]; then printf '\ntimings, keepalived %s (medians):\n' "$v"; cat "$out/$v/timings.md"; fi
	if [ "$(cat "$out/$v/rc" 2>/dev/null)" != 0 ]; then
		printf '\nkeepalived %s FAILED; failures from %s:\n' "$v" "$out/$v/test.log"
		grep -E -B2 -A30 '^\s*--- FAIL' "$out/$v/test.log" | head -150
	fi
done
exit $rc
