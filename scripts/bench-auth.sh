#!/usr/bin/env bash
# The cost of inbound authentication, measured in one report (issue 16): the release binary
# with no authentication, with a static bearer token (--authTokenFile) and with a JWT verified
# against a JWKS (--authIssuer/--authResource), under ../shared/bench's load client, SSE and
# Streamable HTTP (stateless), back to back into one results file (--append).
#
#   scripts/bench-auth.sh [--quick] [--modes sse,streamable-stateless]
#
# The load client sends `Authorization: Bearer …` in every run (the open gateway ignores it),
# so the three runs carry the same bytes but for the token's length. The JWT is an EdDSA
# (Ed25519) token made here with the `openssl` command; a small Python server on loopback
# serves the issuer's RFC 8414 metadata and JWKS. Results: benches/results/anchors-auth-DATE.*
# and, printed last, each load's gateway CPU µs per request against no authentication.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/../shared/bench"
GW="$ROOT/target/release/supergateway"
MODES="sse,streamable-stateless"
QUICK=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=(--quick); shift ;;
    --modes) MODES="$2"; shift 2 ;;
    *) echo "usage: bench-auth.sh [--quick] [--modes M,N]" >&2; exit 2 ;;
  esac
done
[ -x "$GW" ] || { echo "bench-auth.sh: build first: cargo build --release" >&2; exit 2; }
TAG="auth-$(date +%F)"
OUT="$ROOT/benches/results"
WORK="$(mktemp -d)"
ISSUER_PID=""
cleanup() { [ -n "$ISSUER_PID" ] && kill "$ISSUER_PID" 2>/dev/null; rm -rf "$WORK"; }
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
