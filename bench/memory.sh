#!/usr/bin/env bash
# Builds the benchmark (Release) and measures each server's memory per client:
# idle, after a burst, and after the clients left. Arguments go to
# bench/memory.py (--clients, --lines, --rounds, --servers).
#   bench/memory.sh                          # 3 rounds, 1000 clients, ~2 minutes
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh python3 util-linux
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DCOLINE_BUILD_BENCH=ON -DCOLINE_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench
python3 bench/memory.py --build build-bench "$@"
