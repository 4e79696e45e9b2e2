#!/usr/bin/env bash
# The memory of one gateway serving five servers from one --config file,
# against five gateways serving one server each (issue 17's closing figure).
# Same machine, same run, same fixture server and traffic: each server gets
# 200 stateless Streamable HTTP tools/call requests from curl. Reports each
# gateway's VmRSS after the traffic and the sum of the children's, in KiB.
#
#   scripts/bench-config-rss.sh [N_SERVERS]     (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-5}"
cargo build --release --quiet --bin supergateway --example fixture-server
BIN="$PWD/target/release/supergateway"
FIXTURE="$PWD/target/release/examples/fixture-server"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
children_rss() {
    local total=0 child
    for child in $(ps -o pid= --ppid "$1"); do
        total=$((total + $(rss "$child")))
    done
    echo "$total"
}
port_of() { # the port a gateway logged
    local log=$1
    for _ in $(seq 100); do
        if grep -q "Listening on" "$log"; then
            sed -n 's/.*Listening on [0-9.]*:\([0-9]*\).*/\1/p' "$log" | head -1
            return
        fi
        sleep 0.05
    done
    echo "no port in $log" >&2; exit 1
}
traffic() { # URL
    local i
    for i in $(seq 200); do
        curl -s -o /dev/null -X POST "$1" -H 'content-type: application/json' \
            -H 'accept: application/json, text/event-stream' -H 'mcp-protocol-version: 2025-11-25' \
            -d "{\"jsonrpc\":\"2.0\",\"id\":$i,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"message\":\"m$i\"}}}"
    done
}

# One gateway, N servers.
{
    printf '{"mcpServers": {'
    for i in $(seq "$N"); do
        [ "$i" -gt 1 ] && printf ','
        printf '"s%d": {"command": "%s"}' "$i" "$FIXTURE"
    done
    printf '}}\n'
} > "$WORK/mcp.json"
"$BIN" --config "$WORK/mcp.json" --outputTransport streamableHttp --port 0 > "$WORK/one.log" 2>&1 &
ONE=$!
PIDS+=("$ONE")
port=$(port_of "$WORK/one.log")
for i in $(seq "$N"); do traffic "http://127.0.0.1:$port/s$i/mcp"; done
one_rss=$(rss "$ONE")
one_children=$(children_rss "$ONE")

# N gateways, one server each.
five_rss=0
five_children=0
for i in $(seq "$N"); do
    "$BIN" --stdio "$FIXTURE" --outputTransport streamableHttp --port 0 > "$WORK/g$i.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    port=$(port_of "$WORK/g$i.log")
    traffic "http://127.0.0.1:$port/mcp"
    five_rss=$((five_rss + $(rss "$pid")))
    five_children=$((five_children + $(children_rss "$pid")))
done

echo "servers: $N; traffic: 200 stateless tools/call per server (curl)"
echo "one gateway with --config: gateway VmRSS ${one_rss} KiB; children ${one_children} KiB"
echo "$N gateways:               gateways VmRSS ${five_rss} KiB in all; children ${five_children} KiB"
awk -v a="$one_rss" -v b="$five_rss" 'BEGIN { printf "gateway memory: %.2fx of %d gateways (%.0f KiB saved)\n", a / b, '"$N"', b - a }'
