#!/usr/bin/env bash
# Interop over TLS with the official TypeScript MCP SDK: the served transports behind
# --tlsCert/--tlsKey (Streamable HTTP stateless and --stateful, SSE, WebSocket as wss://),
# server-everything as the child, the SDK client trusting a test CA from openssl through
# NODE_EXTRA_CA_CERTS (scripts/interop_tls_node.mjs).
#
#   scripts/interop-tls-node.sh GATEWAY [CASE ...]
#
# Installs the pinned npm packages once into $INTEROP_CACHE (default $HOME/.cache/sg-interop;
# the same folder and pins as the shared interop run.sh, so an install there is reused).
# Logs in $INTEROP_TLS_LOGS (default $INTEROP_CACHE/tls-logs). The last line is
# `N passed, N failed`; the exit status is 0 iff nothing failed.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${INTEROP_CACHE:-$HOME/.cache/sg-interop}"
LOGS="${INTEROP_TLS_LOGS:-$CACHE/tls-logs}"
SDK_VERSION=1.32.2
EVERYTHING_VERSION=2026.8.31
WS_VERSION=8.23.0
PKGS="$CACHE/pkgs-r1-sdk$SDK_VERSION-everything$EVERYTHING_VERSION-ws$WS_VERSION"

die() {
  echo "interop-tls-node.sh: $*" >&2
  echo "0 passed, 1 failed"
  exit 2
}

[[ $# -ge 1 && "$1" != -h && "$1" != --help ]] || die "usage: interop-tls-node.sh GATEWAY [CASE ...]"
GW="$1"
shift
[[ -f "$GW" && -x "$GW" ]] || die "gateway is not an executable file: $GW"
GW="$(cd "$(dirname "$GW")" && pwd)/$(basename "$GW")"
for tool in node npm openssl timeout; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done

if [[ ! -f "$PKGS/.complete" ]]; then
  echo "interop-tls-node: installing npm packages into $PKGS"
  mkdir -p "$CACHE" || die "cannot create $CACHE"
  tmp="$(mktemp -d "$CACHE/.install.XXXXXX")" || die "cannot create a folder in $CACHE"
  trap 'rm -rf "$tmp"' EXIT
  cat >"$tmp/package.json" <<JSON
{"name":"sg-interop-packages","private":true,"version":"0.0.0",
 "dependencies":{"@modelcontextprotocol/sdk":"$SDK_VERSION",
  "@modelcontextprotocol/server-everything":"$EVERYTHING_VERSION","ws":"$WS_VERSION"}}
JSON
  (cd "$tmp" && timeout 110 npm install --no-audit --no-fund --no-update-notifier \
    --ignore-scripts --loglevel=error) || die "npm install failed or took longer than 110s"
  touch "$tmp/.complete"
  [[ -e "$PKGS" ]] || mv "$tmp" "$PKGS" 2>/dev/null
  rm -rf "$tmp"
  trap - EXIT
  [[ -f "$PKGS/.complete" ]] || die "could not set up $PKGS"
fi

mkdir -p "$LOGS/tls" || die "cannot create $LOGS"
rm -f "$LOGS"/*.log
tls="$LOGS/tls"
(cd "$tls" &&
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=interop test CA" -keyout ca.key -out ca.pem &&
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
    -keyout key.pem -out cert.csr &&
  openssl x509 -req -in cert.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile <(printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n') \
    -out cert.pem) >"$LOGS/openssl.log" 2>&1 || die "making the test certificate failed; see $LOGS/openssl.log"

NODE_EXTRA_CA_CERTS="$tls/ca.pem" timeout --foreground -k 5 160 \
  node "$HERE/interop_tls_node.mjs" "$PKGS" "$LOGS" "$tls" "$GW" "$@"
