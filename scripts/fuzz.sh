#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/NAME_fuzz.cpp: the line framer,
# its byte-counted reads and line pieces, the example protocols' parsers)
# with clang 16 (ASan + UBSan) and runs each from its committed seed corpus
# (tests/fuzz/NAME_corpus) for a bounded time; any crash fails.
#   scripts/fuzz.sh [seconds per target]     (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
scripts/setup.sh clang-16 libclang-rt-16-dev # the clang of scripts/clang.sh, and its libFuzzer
dir=build-fuzz
status=0
for source in tests/fuzz/*_fuzz.cpp; do
    name=$(basename "$source" _fuzz.cpp)
    echo "== $name: building, then fuzzing for $seconds s"
    clang++-16 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
            -Iinclude -Iexamples "$source" -o "$dir/${name}_fuzz" -lfmt
    # New inputs go to build-fuzz/NAME_corpus; the committed seeds stay as they are.
    mkdir -p "$dir/${name}_corpus"
    seeds=()
    [ -d "tests/fuzz/${name}_corpus" ] && seeds=("tests/fuzz/${name}_corpus")
    "$dir/${name}_fuzz" -max_total_time="$seconds" -rss_limit_mb=1024 -print_final_stats=1 \
        -artifact_prefix="$dir/${name}-" "$dir/${name}_corpus" "${seeds[@]}" 2>"$dir/${name}.log" \
        || { status=1; echo "FAILED: $name (see $dir/${name}.log)"; tail -30 "$dir/${name}.log"; }
    grep -E "^stat::number_of_executed_units|^Done" "$dir/${name}.log" || true
done
exit $status
