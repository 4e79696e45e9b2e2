#!/usr/bin/env bash
# Smoke-runs every cargo-fuzz target in fuzz/ for a few seconds (STYLE.md
# item 20), so the fuzz crate keeps compiling and the seeds keep passing.
#
#   scripts/fuzz-smoke.sh                 # every target, 10 s each
#   FUZZ_SECONDS=60 scripts/fuzz-smoke.sh parse_head sse_decode
#
# Uses nightly with AddressSanitizer when rustup has it, else the default
# toolchain without a sanitizer (FUZZ_TOOLCHAIN overrides). Installs
# cargo-fuzz when it is missing (bounded by FUZZ_INSTALL_TIMEOUT seconds).
# Each target starts from a scratch copy of fuzz/corpus/<target>, so the
# committed corpus never grows here; crash inputs land in
# fuzz/artifacts/<target>/ (git-ignored) and are also printed in base64.
# FUZZ_BUILD_ONLY=1 stops after the build.
# FUZZ_WORK_DIR names a folder to keep the scratch corpora and logs in
# (scripts/fuzz.sh sets it); otherwise they go to a temporary folder that is
# removed on exit.
# The smoke is a regression check, not a search: libFuzzer runs with a fixed
# seed (FUZZ_SEED, default 1), so a run on a fresh CI machine mutates the
# same inputs in the same order as one here, as far as its time allows, and
# a local smoke that passed with as many executions predicts CI's. Searching
# for new findings is scripts/fuzz.sh's job (a random seed, long runs).
# Exits non-zero if any target fails; the last line is `N passed, N failed`.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2

seconds=${FUZZ_SECONDS:-10}
seed=${FUZZ_SEED:-1} # 0: libFuzzer picks one at random
install_timeout=${FUZZ_INSTALL_TIMEOUT:-900}
build_timeout=${FUZZ_BUILD_TIMEOUT:-900}

# (0 would mean "no time limit" to libFuzzer.)
case $seconds in
'' | *[!0-9]* | 0)
    echo "FUZZ_SECONDS must be a whole number of seconds ≥ 1, not '$seconds'" >&2
    exit 2
    ;;
esac

# The dictionary of each target (fuzz/README.md has the same table); an
# empty answer means the target takes none (mux_sequence and relay_sequence
# read operation bytes, not text).
dict_for() {
    case $1 in
    mux_sequence | relay_sequence) echo "" ;;
    parse_head | chunked_decode | content_length | parse_response_head) echo fuzz/dicts/http.dict ;;
    url_parse) echo fuzz/dicts/url.dict ;;
    traceparent) echo fuzz/dicts/traceparent.dict ;;
    sse_decode) echo fuzz/dicts/sse.dict ;;
    line_decode | parse_message | canonical) echo fuzz/dicts/json.dict ;;
    header_value) echo fuzz/dicts/header_value.dict ;;
    request_state) echo fuzz/dicts/request_state.dict ;;
    oauth_documents) echo fuzz/dicts/oauth.dict ;;
    jwt) echo fuzz/dicts/jwt.dict ;;
    x509_subject) echo fuzz/dicts/x509.dict ;;
    mcp_config) echo fuzz/dicts/config.dict ;;
    *) return 1 ;;
    esac
}

# Longest input per target: parse_head goes past the 8 KiB head limit so
# HeadTooLarge stays reachable; the others keep libFuzzer's default.
max_len_for() {
    case $1 in
    parse_head | parse_response_head) echo 9216 ;;
    *) echo 4096 ;;
    esac
}

# cargo fuzz's default AddressSanitizer build needs nightly (-Zsanitizer).
# Without one (this kind of machine ships a single stable toolchain and can
# fetch no other), fall back to the default toolchain with `--sanitizer
# none`: coverage-guided fuzzing and every property assertion still run, and
# proto/ is #![forbid(unsafe_code)], so ASan has little to add there.
sanitizer=()
if [ -n "${FUZZ_TOOLCHAIN:-}" ]; then
    toolchain=$FUZZ_TOOLCHAIN
elif rustup toolchain list | grep -q '^nightly'; then
    toolchain=nightly
else
    toolchain=$(rustup show active-toolchain | cut -d' ' -f1)
    echo "fuzz-smoke: no nightly toolchain (rustup toolchain list); using $toolchain without a sanitizer" >&2
fi
case $toolchain in
nightly*) ;;
*) sanitizer=(--sanitizer none) ;;
esac

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: installing cargo-fuzz (at most ${install_timeout}s)"
    start=$SECONDS
    if ! timeout "$install_timeout" cargo install cargo-fuzz --locked; then
        echo "fuzz-smoke: cargo install cargo-fuzz failed or timed out" >&2
        echo "0 passed, 1 failed"
        exit 1
    fi
    echo "fuzz-smoke: cargo-fuzz installed in $((SECONDS - start))s"
fi

if [ $# -gt 0 ]; then
    targets=("$@")
else
    targets=()
    for file in fuzz/fuzz_targets/*.rs; do
        name=${file##*/}
        targets+=("${name%.rs}")
    done
fi

if [ -n "${FUZZ_WORK_DIR:-}" ]; then
    scratch=$FUZZ_WORK_DIR
    mkdir -p "$scratch" || exit 2
else
    scratch=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-smoke.XXXXXX") || exit 2
    trap 'rm -rf "$scratch"' EXIT
fi

passed=0
failed=0

echo "fuzz-smoke: building ${#targets[@]} targets with cargo +$toolchain fuzz"
start=$SECONDS
build() {
    if [ $# -eq 0 ]; then
        timeout "$build_timeout" cargo "+$toolchain" fuzz build "${sanitizer[@]}"
    else
        for t in "$@"; do
            timeout "$build_timeout" cargo "+$toolchain" fuzz build "${sanitizer[@]}" "$t" || return 1
        done
    fi
}
if ! build "$@" >"$scratch/build.log" 2>&1; then
    tail -n 40 "$scratch/build.log" >&2
    echo "fuzz-smoke: build failed" >&2
    echo "0 passed, ${#targets[@]} failed"
    exit 1
fi
echo "fuzz-smoke: built in $((SECONDS - start))s"
if [ "${FUZZ_BUILD_ONLY:-0}" = 1 ]; then
    exit 0
fi

for target in "${targets[@]}"; do
    if ! dict=$(dict_for "$target"); then
        echo "FAIL $target: no dictionary mapped in scripts/fuzz-smoke.sh" >&2
        failed=$((failed + 1))
        continue
    fi
    if [ ! -d "fuzz/corpus/$target" ]; then
        echo "FAIL $target: no committed corpus fuzz/corpus/$target" >&2
        failed=$((failed + 1))
        continue
    fi
    dict_arg=()
    [ -n "$dict" ] && dict_arg=("-dict=$dict")
    corpus="$scratch/corpus/$target"
    mkdir -p "$corpus"
    cp -R "fuzz/corpus/$target/." "$corpus/"
    seeds=$(ls "$corpus" | wc -l)
    log="$scratch/$target.log"
    # -timeout: one input taking 10 s is a hang; the outer timeout bounds a
    # fuzzer that never returns.
    timeout $((seconds + 120)) cargo "+$toolchain" fuzz run "${sanitizer[@]}" "$target" "$corpus" -- \
        "${dict_arg[@]}" \
        "-max_total_time=$seconds" \
        "-seed=$seed" \
        "-max_len=$(max_len_for "$target")" \
        -timeout=10 \
        -rss_limit_mb=2048 \
        -print_final_stats=1 \
        >"$log" 2>&1
    status=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1)
    cov=$(grep -oE '#[0-9]+[[:space:]]+DONE[[:space:]]+cov: [0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n 1)
    # Inputs libFuzzer kept for new coverage (its `NEW` status lines).
    new=$(grep -cE '^#[0-9]+[[:space:]]+NEW' "$log")
    if [ $status -eq 0 ]; then
        echo "ok   $target: ${execs:-?} execs in ${seconds}s, cov ${cov:-?}, ${new} new-coverage inputs, corpus $seeds → $(ls "$corpus" | wc -l) files"
        passed=$((passed + 1))
    else
        echo "FAIL $target (exit $status) after ${execs:-?} execs, ${new} new-coverage inputs:" >&2
        grep -v '^INFO:\|^#[0-9]' "$log" | tail -n 40 >&2
        for crash in $(grep -o 'fuzz/artifacts/[^ ]*' "$log" | sort -u); do
            [ -f "$crash" ] && echo "crash input $crash (base64): $(base64 -w0 "$crash")" >&2
        done
        failed=$((failed + 1))
    fi
done

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
