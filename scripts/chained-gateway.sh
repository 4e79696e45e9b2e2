#!/usr/bin/env bash
# A gateway command for ../shared/bench that measures the reverse bridge:
#
#   scripts/chained-gateway.sh --stdio CMD [flags of the forward gateway...]
#
# starts our gateway B = `supergateway --stdio CMD --outputTransport
# streamableHttp --stateful` on a free loopback port, then runs (exec) our
# gateway A with the same flags but `--stdio "supergateway --streamableHttp
# <B>"`: every request crosses A, the Streamable HTTP→stdio bridge, and B.
# Compared with a run of the forward gateway alone, the difference is the
# bridge's cost. B lives in the caller's process group, so the harness's
# group kill stops it too. SUPERGATEWAY names the binary of A and B,
# SUPERGATEWAY_BRIDGE the bridge's (default: the same), so two bridges can be
# compared between the same two gateways; BRIDGE_FLAGS are added to the
# bridge's command line (e.g. `--upstreamProtocol legacy`).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
GW="${SUPERGATEWAY:-$HERE/../target/release/supergateway}"
BRIDGE="${SUPERGATEWAY_BRIDGE:-$GW}"

args=()
stdio=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --stdio) stdio="$2"; shift 2 ;;
    --stdio=*) stdio="${1#--stdio=}"; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
[[ -n "$stdio" ]] || { echo "chained-gateway.sh: --stdio CMD is required" >&2; exit 2; }

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$GW" --stdio "$stdio" --outputTransport streamableHttp --stateful --port "$port" --logLevel none &
for _ in $(seq 1 200); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.02
done
exec "$GW" --stdio "$BRIDGE --streamableHttp http://127.0.0.1:$port/mcp --logLevel none ${BRIDGE_FLAGS:-}" "${args[@]}"
