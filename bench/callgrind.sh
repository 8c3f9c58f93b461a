#!/usr/bin/env bash
# Builds the benchmark (Release) and counts each server's instructions per
# line under callgrind; arguments go to bench/callgrind.py (--modes, --servers).
#   bench/callgrind.sh                       # pipelined and pingpong, ~2 minutes
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh python3 util-linux valgrind
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DCOLINE_BUILD_BENCH=ON -DCOLINE_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench
python3 bench/callgrind.py --build build-bench "$@"
