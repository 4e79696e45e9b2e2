#!/usr/bin/env bash
# Long fuzzing runs: the counterpart of scripts/fuzz-smoke.sh, which does the
# work (toolchain choice, cargo-fuzz install, build, dictionaries, limits).
#
#   scripts/fuzz.sh                        # every target, 300 s each
#   scripts/fuzz.sh 3600 mux_sequence      # one target for an hour
#   FUZZ_PARALLEL=2 scripts/fuzz.sh 300    # two fuzzers at a time
#
# Unlike the smoke run, the grown corpora and the logs are kept, in a scratch
# folder (FUZZ_WORK_DIR, default a new /tmp/fuzz-run.XXXXXX) that this script
# prints; the committed fuzz/corpus/ is never touched. Each target's line
# reports its exec count, its coverage and how many inputs libFuzzer kept for
# new coverage. FUZZ_PARALLEL (default 1) runs that many fuzzers at once, each
# on its own share of the targets; keep it at or below the free cores.
# Exits non-zero if any target crashed; the last line is `N passed, N failed`.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2

seconds=${1:-300}
[ $# -gt 0 ] && shift
parallel=${FUZZ_PARALLEL:-1}
case $seconds$parallel in
'' | *[!0-9]*)
    echo "usage: scripts/fuzz.sh [SECONDS] [targets…] (FUZZ_PARALLEL a whole number)" >&2
    exit 2
    ;;
esac
[ "$parallel" -ge 1 ] || parallel=1

if [ $# -gt 0 ]; then
    targets=("$@")
else
    targets=()
    for file in fuzz/fuzz_targets/*.rs; do
        name=${file##*/}
        targets+=("${name%.rs}")
    done
fi

work=${FUZZ_WORK_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/fuzz-run.XXXXXX")} || exit 2
mkdir -p "$work" || exit 2
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, $parallel at a time; corpora and logs in $work"

# Build every target once, so the parallel runs below do not race for the
# build (they would only wait on cargo's lock, but the log reads better).
if ! FUZZ_BUILD_ONLY=1 FUZZ_WORK_DIR="$work/build" scripts/fuzz-smoke.sh "${targets[@]}" >"$work/build.out" 2>&1; then
    cat "$work/build.out" >&2
    exit 1
fi
grep 'fuzz-smoke:' "$work/build.out"

# Share the targets round-robin between the fuzzers.
pids=()
for ((group = 0; group < parallel; group++)); do
    share=()
    for ((i = group; i < ${#targets[@]}; i += parallel)); do
        share+=("${targets[i]}")
    done
    [ ${#share[@]} -gt 0 ] || continue
    FUZZ_SECONDS=$seconds FUZZ_SEED=0 FUZZ_WORK_DIR="$work" scripts/fuzz-smoke.sh "${share[@]}" \
        >"$work/group$group.out" 2>&1 &
    pids+=($!)
done
for pid in "${pids[@]}"; do
    wait "$pid"
done

passed=0
failed=0
for out in "$work"/group*.out; do
    grep -E '^(ok |FAIL |crash input )' "$out"
    read -r p _ f _ < <(tail -n 1 "$out")
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
done

if [ $failed -gt 0 ]; then
    cat <<'HOW'

A crash input is in fuzz/artifacts/<target>/ (printed above in base64).
Reproduce, minimise, then keep it as a regression seed:

  cargo +nightly fuzz run <target> fuzz/artifacts/<target>/crash-…
  cargo +nightly fuzz tmin <target> fuzz/artifacts/<target>/crash-…
  cp fuzz/artifacts/<target>/minimized-from-… fuzz/corpus/<target>/regress-<target>-<short>
  cargo test -p supergateway-proto --test fuzz_corpus   # fails until fixed

(Without nightly, use the stable toolchain and add `--sanitizer none`.)
HOW
fi
echo "grown corpora: $work/corpus/<target> (merge into fuzz/corpus only by hand)"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
