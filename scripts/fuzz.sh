#!/usr/bin/env bash
# Builds the libFuzzer target for the line framer with clang 16 (ASan + UBSan) and
# runs it from the committed seed corpus for a bounded time; any crash fails.
#   scripts/fuzz.sh [seconds]     (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
scripts/setup.sh clang-16 libclang-rt-16-dev # the clang of scripts/clang.sh, and its libFuzzer
dir=build-fuzz
mkdir -p "$dir/corpus"
clang++-16 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
        -Iinclude tests/fuzz/line_buffer_fuzz.cpp -o "$dir/line_buffer_fuzz"
# New inputs go to build-fuzz/corpus; the committed seeds stay as they are.
"$dir/line_buffer_fuzz" -max_total_time="$seconds" -rss_limit_mb=1024 -print_final_stats=1 \
    -artifact_prefix="$dir/" "$dir/corpus" tests/fuzz/corpus
