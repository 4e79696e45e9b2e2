#!/usr/bin/env bash
# Interop of the official TypeScript SDK's clients with the gateway's bearer tokens and TLS.
#
#   scripts/interop-auth.sh GATEWAY [CASE-FILTER ...]
#
# For SSE, Streamable HTTP (stateless and --stateful) and WebSocket, each case starts
# `GATEWAY --stdio <conformance fixture> --authTokenFile F` (plus --tlsCert/--tlsKey over TLS)
# and drives it with @modelcontextprotocol/sdk's Client (scripts/interop_auth.mjs): with the
# token it lists the tools and calls one; without it the SDK must report HTTP 401; over TLS
# (https://, wss://, a CA made here with openssl, given to Node as NODE_EXTRA_CA_CERTS) the
# same two, and a certificate from another CA must be refused by the client. The fixture is
# GATEWAY's sibling examples/conformance-server, or $CONFORMANCE_SERVER.
# Installs the pinned SDK once into $AUTHINTEROP_CACHE (default $HOME/.cache/sg-interop-auth);
# certificates, tokens and one gateway log per case go to $AUTHINTEROP_LOGS (default
# $AUTHINTEROP_CACHE/logs). Prints `PASS|FAIL case (secs): detail` per case and
# `N passed, N failed` last; exits 0 iff all passed.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${AUTHINTEROP_CACHE:-$HOME/.cache/sg-interop-auth}"
LOGS="${AUTHINTEROP_LOGS:-$CACHE/logs}"
NPM_S=120    # npm install, first run only
DRIVER_S=200 # the driver starts no case after 150 s and bounds each to 20 s

# Pinned: the same SDK (and ws, the WebSocket the SDK's client gets on any Node) as
# /work/shared/interop/run.sh.
SDK_VERSION=1.32.2
WS_VERSION=8.23.0

die() {
  echo "interop-auth.sh: $*" >&2
  echo "0 passed, 1 failed"
  exit 2
}
bounded() { # bounded SECONDS CMD...
  local secs=$1
  shift
  timeout --foreground -k 5 "$secs" "$@"
}

if [[ $# -lt 1 || "$1" == -h || "$1" == --help ]]; then
  sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  die "usage: interop-auth.sh GATEWAY [CASE-FILTER ...]"
fi
GW="$1"
shift
[[ -f "$GW" && -x "$GW" ]] || die "gateway is not an executable file: $GW"
GW="$(cd "$(dirname "$GW")" && pwd)/$(basename "$GW")"

command -v timeout >/dev/null 2>&1 || die "timeout (coreutils) is required"
command -v flock >/dev/null 2>&1 || die "flock (util-linux) is required"
command -v openssl >/dev/null 2>&1 || die "openssl is required (for the test CA)"
command -v node >/dev/null 2>&1 || die "node (>= 18) is required"
command -v npm >/dev/null 2>&1 || die "npm is required"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[[ "$node_major" =~ ^[0-9]+$ && "$node_major" -ge 18 ]] || die "node >= 18 is required (found $(node --version))"

conformance="${CONFORMANCE_SERVER:-$(dirname "$GW")/examples/conformance-server}"
[[ -x "$conformance" ]] ||
  die "no conformance fixture at $conformance (cargo build --release --examples, or set CONFORMANCE_SERVER)"

PKGS="$CACHE/pkgs-r1-sdk$SDK_VERSION-ws$WS_VERSION"
mkdir -p "$CACHE" || die "cannot create $CACHE"
# One installer at a time; a folder without .complete is a broken install and is redone.
exec 9>"$CACHE/.install.lock"
flock -w 200 9 || die "another run holds $CACHE/.install.lock"
if [[ ! -f "$PKGS/.complete" ]]; then
  echo "interop-auth: installing @modelcontextprotocol/sdk@$SDK_VERSION and ws@$WS_VERSION into $PKGS"
  t0=$SECONDS
  rm -rf "$PKGS"
  mkdir -p "$PKGS" || die "cannot create $PKGS"
  cat >"$PKGS/package.json" <<EOF
{"name":"sg-interop-auth","private":true,"version":"0.0.0",
 "dependencies":{"@modelcontextprotocol/sdk":"$SDK_VERSION","ws":"$WS_VERSION"}}
EOF
  if ! (cd "$PKGS" && bounded "$NPM_S" npm install --no-audit --no-fund --no-update-notifier \
    --ignore-scripts --loglevel=error); then
    rm -rf "$PKGS"
    die "npm install failed or took longer than ${NPM_S}s"
  fi
  for f in @modelcontextprotocol/sdk/dist/esm/client/index.js ws/package.json; do
    [[ -f "$PKGS/node_modules/$f" ]] || { rm -rf "$PKGS"; die "npm install did not produce node_modules/$f"; }
  done
  touch "$PKGS/.complete"
  echo "interop-auth: npm packages ready in $((SECONDS - t0))s"
fi
exec 9>&-

mkdir -p "$LOGS" || die "cannot create $LOGS"
rm -rf "$LOGS"/*.log "$LOGS/summary" "$LOGS/pgids" "$LOGS/certs" "$LOGS/tokens" # a previous run's
bounded 60 "$HERE/interop-certs.sh" "$LOGS/certs" || die "could not make the test certificates"

# In the background so that a signal to this script reaches the driver at once; the driver
# stops every gateway it started and still prints its last line.
NODE_EXTRA_CA_CERTS="$LOGS/certs/ca.pem" bounded "$DRIVER_S" node "$HERE/interop_auth.mjs" \
  "$PKGS" "$LOGS" "$GW" "$(printf '%q' "$conformance")" "$LOGS/certs" "$@" &
driver=$!
trap 'kill -TERM "$driver" 2>/dev/null' INT TERM HUP
rc=0
wait "$driver" || rc=$?
while kill -0 "$driver" 2>/dev/null; do # wait returns early when a trap ran
  wait "$driver" || rc=$?
done
trap - INT TERM HUP

# If the driver died without cleaning up, stop the gateways (process groups) it left.
for f in "$LOGS"/pgids/*; do
  [[ -e "$f" ]] || continue
  kill -KILL -- "-$(basename "$f")" 2>/dev/null
  rm -f "$f"
done
if [[ ! -f "$LOGS/summary" ]]; then
  echo "interop-auth.sh: the driver ended without a result (exit status $rc); logs in $LOGS"
  echo "0 passed, 1 failed"
  exit 1
fi
[[ $rc -eq 0 ]] || echo "interop-auth.sh: gateway logs in $LOGS"
exit "$rc"
