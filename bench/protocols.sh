#!/usr/bin/env bash
# Builds the memcached and Redis examples (Release) and runs them against
# memcached and redis-server with memcslap and redis-benchmark; arguments go
# to bench/protocols.py (--rounds, --keys, --requests, --only, --json).
#   bench/protocols.sh                         # 3 rounds, about 10 minutes
#   bench/protocols.sh --rounds 1 --only redis # a quick look
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh util-linux
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DCOLINE_BUILD_BENCH=ON -DCOLINE_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench --target memcache_server resp_server
/usr/bin/python3 bench/protocols.py --build build-bench "$@"
