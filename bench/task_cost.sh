#!/usr/bin/env bash
# Builds the benchmark (Release) and counts the instructions of one await,
# coline::task against asio::awaitable, under callgrind (bench/task_cost.py).
#   bench/task_cost.sh [--count N]           # about a minute
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh python3 valgrind
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DCOLINE_BUILD_BENCH=ON -DCOLINE_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench --target bench_task_cost
python3 bench/task_cost.py --build build-bench "$@"
