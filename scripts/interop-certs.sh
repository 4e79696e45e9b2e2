#!/usr/bin/env bash
# Test certificates for the TLS interop cases (scripts/interop-auth.sh, interop-python.sh).
#
#   scripts/interop-certs.sh DIR
#
# Writes into DIR (created, mode 0700): two independent CAs and one server certificate from
# each, both for 127.0.0.1, ::1 and localhost (subjectAltName; clients ignore the CN):
#   ca.pem                              the CA the clients are told to trust
#   server.pem, server.key              its server certificate (chain: leaf then CA) and key
#   rogue-ca.pem                        a CA no client trusts
#   rogue-server.pem, rogue-server.key  a server certificate from it, otherwise the same
# Keys are P-256 in PKCS#8 PEM. Valid from now for 2 days, so a run never meets an expired one.
# Needs openssl; every call is bounded in time. Exits non-zero (and says why) on any failure.
set -euo pipefail

[[ $# -eq 1 ]] || {
  echo "usage: interop-certs.sh DIR" >&2
  exit 2
}
DIR="$1"
command -v openssl >/dev/null 2>&1 || {
  echo "interop-certs.sh: openssl is required" >&2
  exit 2
}
ossl() { timeout --foreground -k 5 30 openssl "$@"; }

mkdir -p "$DIR"
chmod 700 "$DIR"
cd "$DIR"

cat >leaf.ext <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, IP:::1, DNS:localhost
EOF

# make NAME: NAME-ca.pem (self-signed CA) and NAME-server.{pem,key} signed by it.
make() {
  local name=$1
  ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$name-ca.key" 2>/dev/null
  ossl req -x509 -new -key "$name-ca.key" -sha256 -days 2 -subj "/CN=supergateway interop $name CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$name-ca.pem"
  ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$name-server.key" 2>/dev/null
  ossl req -new -key "$name-server.key" -subj "/CN=localhost" -out "$name-server.csr"
  ossl x509 -req -in "$name-server.csr" -CA "$name-ca.pem" -CAkey "$name-ca.key" -CAcreateserial \
    -sha256 -days 2 -extfile leaf.ext -out "$name-leaf.pem" 2>/dev/null
  cat "$name-leaf.pem" "$name-ca.pem" >"$name-server.pem"
  rm -f "$name-server.csr" "$name-leaf.pem" "$name-ca.srl" "$name-ca.key"
}
make trusted
make rogue
mv trusted-ca.pem ca.pem
mv trusted-server.pem server.pem
mv trusted-server.key server.key
rm -f leaf.ext
chmod 600 ./*.key
# The leaf must verify against its own CA and not against the other one.
ossl verify -CAfile ca.pem server.pem >/dev/null
ossl verify -CAfile rogue-ca.pem rogue-server.pem >/dev/null
if ossl verify -CAfile ca.pem rogue-server.pem >/dev/null 2>&1; then
  echo "interop-certs.sh: the rogue certificate verifies against the trusted CA" >&2
  exit 1
fi
