#!/usr/bin/env bash
# Interop with the official Python MCP SDK 2.x through the gateway.
#
#   scripts/interop-python.sh GATEWAY [CASE-FILTER ...]
#
# For {Streamable HTTP stateless, --stateful, SSE} x {mcp-server-time (PyPI, dual-era),
# @modelcontextprotocol/server-everything (npm, handshake era only)} x {mode="legacy",
# "2026-07-28", "auto"}: mcp.Client lists the tools and calls one (scripts/interop_python.py);
# and the same through our --streamableHttp bridge (the SDK over stdio, "bridge" cases), plus
# the bridge to our conformance fixture as a 2026-07-28-only server (an elicitation round too;
# the fixture is GATEWAY's sibling examples/conformance-server, or $CONFORMANCE_SERVER); the
# served transports over TLS (tls-*: --tlsCert with a test CA made by scripts/interop-certs.sh
# with openssl, trusted by the SDK through SSL_CERT_FILE); and auth-*: Streamable HTTP with
# --authTokenFile (mcp-server-time, modes "legacy" and "2026-07-28"): with the bearer token,
# without it (401), the same over TLS, and a certificate from a CA the client does not trust;
# and config-*: the server as one of two in a --config file, reached under /svc/.
# Installs once into $PYINTEROP_CACHE (default $HOME/.cache/sg-python): a venv with the
# pinned `mcp` and `mcp-server-time`, and the pinned server-everything from npm. One gateway
# log per case in $PYINTEROP_LOGS (default $PYINTEROP_CACHE/logs).
# Prints `PASS|FAIL|XFAIL|XPASS case: detail` per case and `N passed, N failed` last; exits
# 0 iff nothing unexpected happened (the expected failures are listed in interop_python.py).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${PYINTEROP_CACHE:-$HOME/.cache/sg-python}"
LOGS="${PYINTEROP_LOGS:-$CACHE/logs}"
PIP_S=180    # venv + pip install, first run only
NPM_S=120    # npm install, first run only
DRIVER_S=200 # the driver starts no case after 150 s and bounds each to 30 s

# Pinned: the results (and the expected failures) were recorded against exactly these.
MCP_VERSION=2.3.0
TIME_VERSION=2026.10.19
EVERYTHING_VERSION=2026.8.31

die() {
  echo "interop-python.sh: $*" >&2
  echo "0 passed, 1 failed"
  exit 2
}
bounded() { # bounded SECONDS CMD...
  local secs=$1
  shift
  timeout --foreground -k 5 "$secs" "$@"
}

if [[ $# -lt 1 || "$1" == -h || "$1" == --help ]]; then
  sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  die "usage: interop-python.sh GATEWAY [CASE-FILTER ...]"
fi
GW="$1"
shift
[[ -f "$GW" && -x "$GW" ]] || die "gateway is not an executable file: $GW"
GW="$(cd "$(dirname "$GW")" && pwd)/$(basename "$GW")"

command -v timeout >/dev/null 2>&1 || die "timeout (coreutils) is required"
command -v python3 >/dev/null 2>&1 || die "python3 (>= 3.10) is required"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
  die "python3 >= 3.10 is required (found $(python3 --version 2>&1))"
python3 -c 'import ensurepip, venv' 2>/dev/null ||
  die "python3 cannot create venvs (Debian: apt-get install python3-venv)"
command -v node >/dev/null 2>&1 || die "node is required (for server-everything)"
command -v npm >/dev/null 2>&1 || die "npm is required (for server-everything)"

PYV="$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
VENV="$CACHE/venv-r1-mcp$MCP_VERSION-time$TIME_VERSION-py$PYV"
NPMDIR="$CACHE/npm-r1-everything$EVERYTHING_VERSION"
EVERYTHING_JS="$NPMDIR/node_modules/@modelcontextprotocol/server-everything/dist/index.js"

mkdir -p "$CACHE" || die "cannot create $CACHE"
# One installer at a time; a folder without .complete is a broken install and is redone.
exec 9>"$CACHE/.install.lock"
flock -w 400 9 || die "another run holds $CACHE/.install.lock"

if [[ ! -f "$VENV/.complete" ]]; then
  echo "interop-python: installing mcp==$MCP_VERSION and mcp-server-time==$TIME_VERSION into $VENV"
  t0=$SECONDS
  rm -rf "$VENV"
  bounded 60 python3 -m venv "$VENV" || { rm -rf "$VENV"; die "python3 -m venv failed"; }
  if ! bounded "$PIP_S" "$VENV/bin/python" -m pip install --no-input --quiet --disable-pip-version-check \
    "mcp==$MCP_VERSION" "mcp-server-time==$TIME_VERSION"; then
    rm -rf "$VENV"
    die "pip install failed or took longer than ${PIP_S}s"
  fi
  [[ -x "$VENV/bin/mcp-server-time" ]] || { rm -rf "$VENV"; die "pip did not install mcp-server-time"; }
  touch "$VENV/.complete"
  echo "interop-python: venv ready in $((SECONDS - t0))s"
fi

if [[ ! -f "$NPMDIR/.complete" ]]; then
  echo "interop-python: installing @modelcontextprotocol/server-everything@$EVERYTHING_VERSION into $NPMDIR"
  t0=$SECONDS
  rm -rf "$NPMDIR"
  mkdir -p "$NPMDIR" || die "cannot create $NPMDIR"
  cat >"$NPMDIR/package.json" <<EOF
{"name":"sg-python-interop","private":true,"version":"0.0.0",
 "dependencies":{"@modelcontextprotocol/server-everything":"$EVERYTHING_VERSION"}}
EOF
  if ! (cd "$NPMDIR" && bounded "$NPM_S" npm install --no-audit --no-fund --no-update-notifier \
    --ignore-scripts --loglevel=error); then
    rm -rf "$NPMDIR"
    die "npm install failed or took longer than ${NPM_S}s"
  fi
  [[ -f "$EVERYTHING_JS" ]] || { rm -rf "$NPMDIR"; die "npm install did not produce $EVERYTHING_JS"; }
  touch "$NPMDIR/.complete"
  echo "interop-python: npm packages ready in $((SECONDS - t0))s"
fi
exec 9>&-

mkdir -p "$LOGS" || die "cannot create $LOGS"
rm -f "$LOGS"/*.log "$LOGS/gateway.pgid" # only what a previous run wrote

time_cmd="$(printf '%q --local-timezone UTC' "$VENV/bin/mcp-server-time")"
everything_cmd="$(printf '%q %q stdio' "$(command -v node)" "$EVERYTHING_JS")"
conformance="${CONFORMANCE_SERVER:-$(dirname "$GW")/examples/conformance-server}"
conformance_cmd=""
[[ -x "$conformance" ]] && conformance_cmd="$(printf '%q' "$conformance")"
# The tls cases' certificates (without openssl those cases fail, saying so).
certs="$LOGS/certs"
rm -rf "$certs" "$LOGS/tokens"
if ! command -v openssl >/dev/null 2>&1 || ! bounded 60 "$HERE/interop-certs.sh" "$certs"; then
  echo "interop-python.sh: could not make the test certificates (is openssl installed?)" >&2
  certs=""
fi
rc=0
bounded "$DRIVER_S" "$VENV/bin/python" "$HERE/interop_python.py" --gateway "$GW" \
  --time-cmd "$time_cmd" --everything-cmd "$everything_cmd" --conformance-cmd "$conformance_cmd" \
  --certs "$certs" --logs "$LOGS" "$@" || rc=$?

# The driver stops each gateway it starts; if it was killed first, stop the one it left.
if [[ -f "$LOGS/gateway.pgid" ]]; then
  kill -KILL -- "-$(cat "$LOGS/gateway.pgid")" 2>/dev/null
  rm -f "$LOGS/gateway.pgid"
fi
if [[ $rc -eq 124 || $rc -eq 137 ]]; then
  echo "interop-python.sh: the driver did not finish within ${DRIVER_S}s; logs in $LOGS"
  echo "0 passed, 1 failed"
fi
[[ $rc -eq 0 ]] || echo "interop-python.sh: gateway logs in $LOGS"
exit "$rc"
