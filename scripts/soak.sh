#!/usr/bin/env bash
# The soak (tests/soak.py): every example server at once under ASan + UBSan,
# with well-behaved and hostile clients mixed, for a bounded time.
#   scripts/soak.sh [SECONDS]    (30 s of load by default, about 45 s in all)
# Uses the examples of scripts/sanitize.sh address (build-address/), building
# them there if that has not run.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
scripts/setup.sh openssl
flags="-fsanitize=address,undefined -fno-sanitize-recover=all -Wno-mismatched-new-delete" # as sanitize.sh
if [ ! -f build-address/CMakeCache.txt ]; then
    cmake -S . -B build-address -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCOLINE_WERROR=ON \
          -DCMAKE_UNITY_BUILD=ON -DCMAKE_CXX_FLAGS="$flags -fno-omit-frame-pointer -O0" -DCMAKE_CXX_FLAGS_DEBUG=-g1 >/dev/null
fi
cmake --build build-address --target server echo chat memcache_server resp_server tls_server
# A small quarantine: ASan's default (256 MB of freed memory held back), or even 8 MB,
# fills over the soak and reads as growth in the memory check (8 MB: up to 13 %; 1 MB: 3 %).
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:quarantine_size_mb=1 \
       UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
/usr/bin/python3 tests/soak.py build-address/examples --seconds "$seconds"
