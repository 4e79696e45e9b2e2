#!/usr/bin/env bash
# Scale-out figures for issue 17's closing note: three gateways behind HAProxy (the repo's
# docker/haproxy.cfg, run as tests/scale_out.rs runs it) against one gateway alone, and one
# gateway behind the same HAProxy (what the proxy hop costs by itself), in one run.
#
#   scripts/bench-scale.sh [--rounds N] [--clients C] [--requests N] [--out FILE]
#
# Load: ../shared/bench's mcpload, MCP 2026-07-28 clients (`--era modern`) on stateless
# Streamable HTTP, C64 × 1000 requests × 64 B by default, its echo-server as every gateway's
# child. The setups take turns for N rounds (default 3; one run's 64-client figures move by
# 10-20 % on a shared machine); each line gives throughput, p50/p99, the gateways' CPU µs per
# request (utime+stime of the gateway processes, from /proc, children excluded), HAProxy's, and
# how many calls each instance answered (its --metricsEndpoint). Before each load it waits (at
# most QUIET_WAIT s, default 15) for the machine to be nearly idle. The median of each setup
# ends the report. Needs the release binary (cargo build --release), haproxy and mcpload.
#
# Environment: MCPLOAD, ECHO_SERVER (default: the bench's build, wherever run-anchors.sh put
# it), HAPROXY, SG_BIN (default target/release/supergateway).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS=3
CLIENTS=64
REQUESTS=1000
PAYLOAD=64
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --clients) CLIENTS="$2"; shift 2 ;;
    --requests) REQUESTS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    *) echo "usage: bench-scale.sh [--rounds N] [--clients C] [--requests N] [--out FILE]" >&2; exit 2 ;;
  esac
done

find_bench_bin() { # the first built copy of ../shared/bench's $1
  local dir
  for dir in "${MCP_BENCH_CACHE:-$HOME/.cache/mcp-bench}/target" "$ROOT/../shared/bench/target" \
             /tmp/bench/target; do
    [ -x "$dir/release/$1" ] && { echo "$dir/release/$1"; return; }
  done
  echo "bench-scale.sh: no $1 built; run ../shared/bench/run-anchors.sh --quick once, or set" \
       "MCPLOAD and ECHO_SERVER" >&2
  exit 2
}
SG="${SG_BIN:-$ROOT/target/release/supergateway}"
LOAD="${MCPLOAD:-$(find_bench_bin mcpload)}"
ECHO="${ECHO_SERVER:-$(find_bench_bin echo-server)}"
HAPROXY="${HAPROXY:-$(command -v haproxy || echo /usr/sbin/haproxy)}"
[ -x "$SG" ] || { echo "bench-scale.sh: build first: cargo build --release" >&2; exit 2; }
[ -x "$HAPROXY" ] || { echo "bench-scale.sh: haproxy not found (apt-get install haproxy)" >&2; exit 2; }
OUT="${OUT:-$ROOT/benches/results/scale-$(date +%F).md}"
TICK="$(getconf CLK_TCK)"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  local pid
  for pid in ${PIDS[@]+"${PIDS[@]}"}; do kill "$pid" 2>/dev/null || true; done
  for pid in ${PIDS[@]+"${PIDS[@]}"}; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { "$LOAD" free-port; }
cpu_ticks() { # utime+stime of the given pids, in clock ticks
  local total=0 pid fields
  for pid in "$@"; do
    # the fields after the command's closing parenthesis: utime and stime are 12th and 13th
    fields="$(sed 's/.*) //' "/proc/$pid/stat")"
    total=$(( total + $(echo "$fields" | awk '{print $12 + $13}') ))
  done
  echo "$total"
}
served() { # tools/call answered by the gateway on port $1
  curl -s "http://127.0.0.1:$1/metrics" |
    awk '/^supergateway_requests_total\{.*method="tools\/call",outcome="ok"\}/ {n += $2} END {print n + 0}'
}

# start_gateway ID: starts one on a free port; sets GW_PID, GW_PORT
start_gateway() {
  GW_PORT="$(free_port)"
  "$SG" --stdio "$ECHO" --outputTransport streamableHttp --port "$GW_PORT" --logLevel none \
    --instanceId "$1" --readyEndpoint /readyz --metricsEndpoint /metrics </dev/null >"$WORK/gw-$1.log" 2>&1 &
  GW_PID=$!
  PIDS+=("$GW_PID")
  "$LOAD" wait-port --port "$GW_PORT" --pid "$GW_PID" >/dev/null
  local i
  for i in $(seq 1 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GW_PORT/readyz")" = 200 ] && return
    sleep 0.05
  done
  echo "gateway $1 not ready: $(cat "$WORK/gw-$1.log")" >&2
  exit 1
}

# start_haproxy PORT_A [PORT_B PORT_C]: the repo's config; a missing B or C repeats A's address
# (HAProxy then balances over what are the same instance). Sets HP_PID, HP_PORT.
start_haproxy() {
  HP_PORT="$(free_port)"
  SG_LISTEN="127.0.0.1:$HP_PORT" SG_A="127.0.0.1:$1" SG_B="127.0.0.1:${2:-$1}" \
    SG_C="127.0.0.1:${3:-$1}" SG_ADMIN_SOCKET="$WORK/admin-$HP_PORT.sock" SG_READY=/readyz \
    "$HAPROXY" -db -f "$ROOT/docker/haproxy.cfg" >/dev/null 2>"$WORK/haproxy-$HP_PORT.err" &
  HP_PID=$!
  PIDS+=("$HP_PID")
  "$LOAD" wait-port --port "$HP_PORT" --pid "$HP_PID" >/dev/null
}

START="$(date -u +%FT%TZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start, $("$SG" --version 2>/dev/null | head -1)"
echo "bench-scale: $START" >&2
start_gateway solo; SOLO_PID=$GW_PID; SOLO_PORT=$GW_PORT
start_gateway a; A_PID=$GW_PID; A_PORT=$GW_PORT
start_gateway b; B_PID=$GW_PID; B_PORT=$GW_PORT
start_gateway c; C_PID=$GW_PID; C_PORT=$GW_PORT
start_haproxy "$A_PORT" "$B_PORT" "$C_PORT"; HP3_PID=$HP_PID; HP3_PORT=$HP_PORT
start_gateway one; ONE_PID=$GW_PID; ONE_PORT=$GW_PORT
start_haproxy "$ONE_PORT"; HP1_PID=$HP_PID; HP1_PORT=$HP_PORT

RESULTS="$WORK/results.tsv"
: >"$RESULTS"
# measure NAME PORT HAPROXY_PID|- GATEWAY_PORTS GATEWAY_PIDS...
measure() {
  local name=$1 port=$2 hp=$3 ports=$4; shift 4
  local before_gw before_hp after_gw after_hp line counts="" p
  local before_counts=()
  "$LOAD" streamable --era modern --base "http://127.0.0.1:$port" --path /mcp \
    --clients 4 --requests 50 --payload "$PAYLOAD" >/dev/null   # warm-up
  # other work on a shared machine skews the figures: wait (bounded) for it to settle
  local quiet
  quiet="$("$LOAD" wait-quiet --timeout "${QUIET_WAIT:-15}" 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin).get("busy_cores"))' 2>/dev/null || echo null)"
  for p in $ports; do before_counts+=("$(served "$p")"); done
  before_gw="$(cpu_ticks "$@")"
  before_hp=0; [ "$hp" = - ] || before_hp="$(cpu_ticks "$hp")"
  line="$("$LOAD" streamable --era modern --base "http://127.0.0.1:$port" --path /mcp \
    --clients "$CLIENTS" --requests "$REQUESTS" --payload "$PAYLOAD" --duration 60)"
  after_gw="$(cpu_ticks "$@")"
  after_hp=0; [ "$hp" = - ] || after_hp="$(cpu_ticks "$hp")"
  local i=0
  for p in $ports; do
    counts="$counts$(( $(served "$p") - ${before_counts[$i]} ))/"
    i=$((i + 1))
  done
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$line" "$((after_gw - before_gw))" \
    "$((after_hp - before_hp))" "${counts%/}" "$quiet" >>"$RESULTS"
  echo "  $name: $(printf '%s' "$line" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["requests_ok"], "ok,", d["errors"], "errors,", d["throughput_rps"], "req/s, p50", d["p50_us"], "µs")')" >&2
}

for round in $(seq 1 "$ROUNDS"); do
  echo "round $round/$ROUNDS" >&2
  measure "one gateway alone" "$SOLO_PORT" - "$SOLO_PORT" "$SOLO_PID"
  measure "three gateways behind HAProxy" "$HP3_PORT" "$HP3_PID" "$A_PORT $B_PORT $C_PORT" \
    "$A_PID" "$B_PID" "$C_PID"
  measure "one gateway behind HAProxy" "$HP1_PORT" "$HP1_PID" "$ONE_PORT" "$ONE_PID"
done

python3 - "$RESULTS" "$TICK" "$CLIENTS" "$REQUESTS" "$PAYLOAD" "$ROUNDS" "$START" >"$OUT" <<'EOF'
import json, statistics, sys, subprocess
path, tick, clients, requests, payload, rounds, start = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
rows = []
for raw in open(path):
    name, line, gw, hp, counts, quiet = raw.rstrip("\n").split("\t")
    d = json.loads(line)
    ok = d["requests_ok"] or 1
    rows.append(dict(name=name, ok=d["requests_ok"], errors=d["errors"], rps=d["throughput_rps"],
                     p50=d["p50_us"], p99=d["p99_us"], other=d.get("other_busy_cores"),
                     gw=int(gw) * 1e6 / tick / ok, hp=int(hp) * 1e6 / tick / ok, counts=counts,
                     quiet=quiet))
print(f"# Scale-out: three instances behind HAProxy against one alone\n")
print(f"Run: {start}.\n")
print(f"`scripts/bench-scale.sh --rounds {rounds} --clients {clients} --requests {requests}` "
      f"(MCP 2026-07-28 clients, `mcpload streamable --era modern`, stateless Streamable HTTP, "
      f"C{clients} × {requests} × {payload} B, the bench's echo-server as each gateway's child, "
      f"HAProxy running docker/haproxy.cfg). Gateway CPU: utime+stime of the gateway processes "
      f"per answered request (children excluded); HAProxy's likewise. \"Cores busy besides the "
      f"client\": the machine's CPU use during the load minus the load client's (gateways, "
      f"HAProxy, the echo-servers and any other work on the machine); \"before\": the machine's "
      f"busy cores when the load started, after waiting up to 15 s for quiet (`QUIET_WAIT`).\n")
print("| round | setup | answered | errors | req/s | p50 µs | p99 µs | gateway CPU µs/req | HAProxy CPU µs/req | calls per instance | cores busy before | cores busy besides the client |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
per = {}
for i, r in enumerate(rows):
    per.setdefault(r["name"], []).append(r)
    print(f"| {i // 3 + 1} | {r['name']} | {r['ok']} | {r['errors']} | {r['rps']:.0f} | {r['p50']} | {r['p99']} | "
          f"{r['gw']:.1f} | {r['hp']:.1f} | {r['counts']} | {r['quiet']} | {r['other']} |")
print("\nMedians over the rounds:\n")
print("| setup | req/s | p50 µs | gateway CPU µs/req | HAProxy CPU µs/req |")
print("| --- | --- | --- | --- | --- |")
for name, rs in per.items():
    med = lambda k: statistics.median(r[k] for r in rs)
    print(f"| {name} | {med('rps'):.0f} | {med('p50'):.0f} | {med('gw'):.1f} | {med('hp'):.1f} |")
EOF
echo "bench-scale: wrote $OUT" >&2
cat "$OUT"
