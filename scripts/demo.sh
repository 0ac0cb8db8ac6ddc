#!/usr/bin/env bash
# A failover on the built-in simulator: droplet lb-a takes the reserved IP, then lb-b takes it over, then
# `do-fip status` explains the result. Everything runs on 127.0.0.1; no DigitalOcean account is needed.
set -euo pipefail
bin=${1:-bin/do-fip}
ip=203.0.113.10
work=$(mktemp -d)
sim_pid=
cleanup() {
	if [ -n "$sim_pid" ]; then kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

t0=$(date +%s%N)
say() { printf '%7.3fs  %s\n' "$(( ($(date +%s%N) - t0) / 1000000 ))e-3" "$*"; }

"$bin" simulate --listen 127.0.0.1:0 --action-latency 1s >"$work/sim.out" 2>"$work/sim.err" &
sim_pid=$!
for _ in $(seq 100); do
	addr=$(sed -n 's|^dosim: serving http://||p' "$work/sim.out" | head -n 1)
	[ -n "$addr" ] && break
	sleep 0.05
done
if [ -z "${addr:-}" ]; then echo "demo: the simulator did not start:" >&2; cat "$work/sim.err" >&2; exit 1; fi

# The simulator's token and an http:// API are for the demo only; a real setup keeps the token in
# /etc/do-fip/do-fip.conf (mode 0640) and talks https to api.digitalocean.com.
export DIGITALOCEAN_ACCESS_TOKEN=dosim-demo-token DO_FIP_INSECURE_API=1 DO_FIP_API_URL="http://$addr"
export DO_FIP_IPS=$ip DO_FIP_SYSLOG=off DO_FIP_CONFIG=/dev/null DO_FIP_LOG_LEVEL=info

node() { # node NAME ID COMMAND...: run do-fip as droplet ID, with that droplet's metadata and state dir
	local name=$1 id=$2; shift 2
	DO_FIP_METADATA_URL="http://$addr/droplets/$id" DO_FIP_STATE_DIR="$work/$name" \
		DO_FIP_LOG_FILE="$work/$name.log" "$bin" "$@"
}

say "simulator up at http://$addr: droplets 1001 (lb-a) and 1002 (lb-b), reserved IP $ip unassigned"
say "lb-a becomes MASTER: keepalived runs 'do-fip assign'"
node lb-a 1001 assign 2>&1 | sed 's/^/          lb-a: /'
say "lb-a runs it again (keepalived flaps): nothing to do, no move"
node lb-a 1001 assign 2>&1 | sed 's/^/          lb-a: /'
say "lb-a dies; lb-b becomes MASTER and runs 'do-fip assign'"
node lb-b 1002 assign 2>&1 | sed 's/^/          lb-b: /'
say "'do-fip status' on lb-b:"
node lb-b 1002 status 2>&1 | sed 's/^/          /'
say "done; each node also logged JSON lines to its --log-file ($(wc -l <"$work/lb-b.log") on lb-b), and on a droplet to journald"
