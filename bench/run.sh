#!/usr/bin/env bash
# Builds the benchmark (Release) and runs every server against the load
# generator; arguments go to bench/run.py (--rounds, --duration, --modes, ...).
#   bench/run.sh                 # 5 rounds of every mode, ~10 minutes
#   bench/run.sh --rounds 1 --duration 1 --idle-clients 1000    # a quick look
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh python3 util-linux gnuplot-nox
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DCOLINE_BUILD_BENCH=ON -DCOLINE_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench
python3 bench/run.py --build build-bench "$@"
