#!/usr/bin/env bash
# A cached venv with the pinned prometheus_client, for tests/metrics.rs (which parses
# --metricsEndpoint's exposition with it). Prints the venv's python as the last line.
#
#   scripts/metrics-venv.sh
#
# Installs once into $PYINTEROP_CACHE (default $HOME/.cache/sg-python), next to
# scripts/interop-python.sh's venv and under the same lock. Exits 3 when python3 cannot
# make a venv or pip cannot install (the test then skips, unless told to require it).
set -uo pipefail

CACHE="${PYINTEROP_CACHE:-$HOME/.cache/sg-python}"
PIP_S=180 # venv + pip install, first run only
# Pinned: the test's expectations of the parser were checked against exactly this one.
PROM_VERSION=0.26.0

fail() {
  echo "metrics-venv.sh: $*" >&2
  exit 3
}

command -v python3 >/dev/null 2>&1 || fail "python3 is required"
command -v timeout >/dev/null 2>&1 || fail "timeout (coreutils) is required"
python3 -c 'import ensurepip, venv' 2>/dev/null ||
  fail "python3 cannot create venvs (Debian: apt-get install python3-venv)"
PYV="$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
VENV="$CACHE/venv-metrics-prom$PROM_VERSION-py$PYV"

mkdir -p "$CACHE" || fail "cannot create $CACHE"
# One installer at a time; a folder without .complete is a broken install and is redone.
exec 9>"$CACHE/.install.lock"
flock -w 400 9 || fail "another run holds $CACHE/.install.lock"

if [[ ! -f "$VENV/.complete" ]]; then
  echo "metrics-venv: installing prometheus-client==$PROM_VERSION into $VENV" >&2
  rm -rf "$VENV"
  timeout -k 5 60 python3 -m venv "$VENV" || { rm -rf "$VENV"; fail "python3 -m venv failed"; }
  if ! timeout -k 5 "$PIP_S" "$VENV/bin/python" -m pip install --no-input --quiet \
    --disable-pip-version-check "prometheus-client==$PROM_VERSION" >&2; then
    rm -rf "$VENV"
    fail "pip install failed or took longer than ${PIP_S}s"
  fi
  touch "$VENV/.complete"
fi
echo "$VENV/bin/python"
