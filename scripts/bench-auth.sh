#!/usr/bin/env bash
# The cost of inbound authentication, measured in one report (issue 16): the release binary
# with no authentication, with a static bearer token (--authTokenFile) and with a JWT verified
# against a JWKS (--authIssuer/--authResource), under ../shared/bench's load client, SSE and
# Streamable HTTP (stateless), back to back into one results file (--append).
#
#   scripts/bench-auth.sh [--quick] [--modes sse,streamable-stateless] [--rounds N]
#
# The load client sends `Authorization: Bearer …` in every run (the open gateway ignores it),
# so the three runs carry the same bytes but for the token's length. The JWT is an EdDSA
# (Ed25519) token made here with the `openssl` command; a small Python server on loopback
# serves the issuer's RFC 8414 metadata and JWKS. Results: benches/results/anchors-auth-DATE.*
# and, printed after it, each load's gateway CPU µs per request against no authentication.
#
# Then an A/B phase, because one run's 64-client figures move by 10-20% between runs on a
# shared 2-core machine: the three gateways run side by side and the 64-client load
# (64 × 1000 × 64 B) goes to each in turn, N rounds (default 5); printed: the median gateway
# CPU µs per request of each and its ratio to the open gateway, per mode.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/../shared/bench"
GW="$ROOT/target/release/supergateway"
MODES="sse,streamable-stateless"
QUICK=()
ROUNDS=5
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=(--quick); ROUNDS=1; shift ;;
    --modes) MODES="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    *) echo "usage: bench-auth.sh [--quick] [--modes M,N] [--rounds N]" >&2; exit 2 ;;
  esac
done
[ -x "$GW" ] || { echo "bench-auth.sh: build first: cargo build --release" >&2; exit 2; }
TAG="auth-$(date +%F)"
OUT="$ROOT/benches/results"
WORK="$(mktemp -d)"
ISSUER_PID=""
GATEWAY_PIDS=()
cleanup() {
  [ -n "$ISSUER_PID" ] && kill "$ISSUER_PID" 2>/dev/null
  for pid in "${GATEWAY_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

# A static token.
umask 077
TOKEN="$(openssl rand -hex 32)"
printf '# bench\n%s\n' "$TOKEN" >"$WORK/tokens"

# An issuer on loopback: metadata and JWKS.
openssl genpkey -algorithm ed25519 -out "$WORK/jwt.key" 2>/dev/null
X="$(openssl pkey -in "$WORK/jwt.key" -pubout -outform DER | tail -c 32 | b64url)"
ISSUER_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
ISSUER="http://127.0.0.1:$ISSUER_PORT"
RESOURCE="https://mcp.bench.example/mcp"
cat >"$WORK/issuer.py" <<EOF
import http.server, json
ISSUER = "$ISSUER"
DOCS = {
    "/.well-known/oauth-authorization-server": {
        "issuer": ISSUER, "jwks_uri": ISSUER + "/jwks",
        "authorization_endpoint": ISSUER + "/authorize", "token_endpoint": ISSUER + "/token",
        "response_types_supported": ["code"], "code_challenge_methods_supported": ["S256"],
    },
    "/jwks": {"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "bench", "alg": "EdDSA",
                        "use": "sig", "x": "$X"}]},
}
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        doc = DOCS.get(self.path)
        body = json.dumps(doc).encode() if doc else b"{}"
        self.send_response(200 if doc else 404)
        self.send_header("content-type", "application/json")
        self.send_header("cache-control", "max-age=3600")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", $ISSUER_PORT), Handler).serve_forever()
EOF
python3 "$WORK/issuer.py" &
ISSUER_PID=$!

# A JWT for the resource, valid for a day.
NOW="$(date +%s)"
HEADER="$(printf '{"alg":"EdDSA","typ":"at+jwt","kid":"bench"}' | b64url)"
PAYLOAD="$(printf '{"iss":"%s","sub":"bench-user","aud":"%s","client_id":"bench","scope":"mcp","iat":%s,"exp":%s}' \
  "$ISSUER" "$RESOURCE" "$NOW" "$((NOW + 86400))" | b64url)"
printf '%s.%s' "$HEADER" "$PAYLOAD" >"$WORK/signing-input"
openssl pkeyutl -sign -inkey "$WORK/jwt.key" -rawin -in "$WORK/signing-input" -out "$WORK/sig"
JWT="$HEADER.$PAYLOAD.$(b64url <"$WORK/sig")"

run() { # run NAME HEADER-TOKEN EXTRA-FLAGS [run-anchors options...]
  local name=$1 token=$2 extra=$3
  shift 3
  "$BENCH/run-anchors.sh" --skip-install --gateway-cmd "$GW" --gateway-name "$name" \
    --gateway-extra "--logLevel none $extra" --modes "$MODES" --client-header \
    "Authorization: Bearer $token" --out "$OUT" --tag "$TAG" "${QUICK[@]}" "$@"
}
run sg-open "$JWT" "" --only "sg-open,none"
run sg-token "$TOKEN" "--authTokenFile $WORK/tokens" --only sg-token --append --no-reference
run sg-jwt "$JWT" "--authIssuer $ISSUER --authResource $RESOURCE --authScopes mcp" \
  --only sg-jwt --append --no-reference

python3 - "$OUT/anchors-$TAG.jsonl" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
cpu = {}
for r in rows:
    if r.get("phase") == "warmup" or "gw_cpu_us_per_req" not in r or r.get("errors"):
        continue
    key = (r["gw_mode"], r["clients"], r["requests_per_client"], r["payload"])
    cpu.setdefault(key, {})[r["gateway"]] = r["gw_cpu_us_per_req"]
print("| mode | load | open µs/req | token µs/req (ratio) | JWT µs/req (ratio) |")
print("| --- | --- | --- | --- | --- |")
for key in sorted(cpu):
    by = cpu[key]
    base = by.get("sg-open")
    if not base:
        continue
    cell = lambda name: f"{by[name]:.1f} ({by[name] / base:.2f})" if name in by else "-"
    print(f"| {key[0]} | {key[1]}×{key[2]}×{key[3]} B | {base:.1f} | {cell('sg-token')} | {cell('sg-jwt')} |")
EOF

# The A/B phase: the three side by side, the 64-client load to each in turn.
if [ -w "$BENCH" ]; then TARGET="$BENCH/target"; else TARGET="${MCP_BENCH_CACHE:-$HOME/.cache/mcp-bench}/target"; fi
LOAD="$TARGET/release/mcpload"
ECHO="$TARGET/release/echo-server"
[ -x "$LOAD" ] && [ -x "$ECHO" ] || { echo "bench-auth.sh: $LOAD or $ECHO missing" >&2; exit 1; }
for mode in sse streamable; do
  case "$mode" in
    sse) transport=(--outputTransport sse); path=/sse ;;
    streamable) transport=(--outputTransport streamableHttp); path=/mcp ;;
  esac
  declare -A PORT=() PID=() HEADER=()
  for variant in open token jwt; do
    case "$variant" in
      open) extra=(); HEADER[$variant]="Authorization: Bearer $JWT" ;;
      token) extra=(--authTokenFile "$WORK/tokens"); HEADER[$variant]="Authorization: Bearer $TOKEN" ;;
      jwt) extra=(--authIssuer "$ISSUER" --authResource "$RESOURCE" --authScopes mcp)
        HEADER[$variant]="Authorization: Bearer $JWT" ;;
    esac
    PORT[$variant]="$("$LOAD" free-port)"
    "$GW" --stdio "$ECHO" --port "${PORT[$variant]}" --logLevel none "${transport[@]}" "${extra[@]}" \
      </dev/null >/dev/null 2>&1 &
    PID[$variant]=$!
    GATEWAY_PIDS+=("$!")
    "$LOAD" wait-port --port "${PORT[$variant]}" >/dev/null
  done
  for round in $(seq "$ROUNDS"); do
    for variant in open token jwt; do
      "$LOAD" "$mode" --base "http://127.0.0.1:${PORT[$variant]}" --path "$path" --clients 64 \
        --requests 1000 --payload 64 --watch-pid "${PID[$variant]}" \
        --header "${HEADER[$variant]}" --tag "variant=$variant" --tag "round=$round"
    done
  done >"$WORK/ab-$mode.jsonl"
  for variant in open token jwt; do kill "${PID[$variant]}" 2>/dev/null || true; done
  python3 - "$mode" "$WORK/ab-$mode.jsonl" <<'PY'
import json, statistics, sys
mode, path = sys.argv[1], sys.argv[2]
runs = {}
for line in open(path):
    line = line.strip()
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    if r.get("errors"):
        print(f"{mode}: {r.get('variant')} had {r['errors']} errors", file=sys.stderr)
    runs.setdefault(r["variant"], []).append(r["gw_cpu_us_per_req"])
base = statistics.median(runs["open"])
cells = ", ".join(
    f"{v} {statistics.median(runs[v]):.1f} µs/req ({statistics.median(runs[v]) / base:.2f}×; rounds {', '.join(f'{x:.1f}' for x in runs[v])})"
    for v in ["open", "token", "jwt"])
print(f"A/B {mode}, 64 × 1000 × 64 B, median of {len(runs['open'])}: {cells}")
PY
done
