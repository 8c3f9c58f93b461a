#!/usr/bin/env bash
# Builds the tests and examples with a sanitizer and runs them; any report fails.
#   scripts/sanitize.sh address   (ASan + UBSan)
#   scripts/sanitize.sh thread    (TSan)
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-address}
# ASan at -O0: it compiles in 560 s of CPU against 1,090 at -O1, and its
# tests take about 55 s against 35. TSan stays at -O1: at -O0 its tests run
# slower than their time limits allow.
case "$kind" in
    address) flags="-fsanitize=address,undefined -fno-sanitize-recover=all -O0" ;;
    thread) flags="-fsanitize=thread -Wno-tsan -O1" ;; # -Wtsan: Asio uses atomic_thread_fence, which TSan does not model
    *) echo "usage: $0 address|thread" >&2; exit 2 ;;
esac
# GCC 12 (at -O1 at least) mistakes Asio's coroutine-frame allocator (class operator new
# that may call aligned_alloc) for a mismatched new/delete pair in any
# coroutine: a false positive, silenced for this build only.
flags="$flags -Wno-mismatched-new-delete"
scripts/setup.sh
jobs=$(nproc)
dir=build-$kind
# -g1: line tables, all a sanitizer report needs, for four fifths of -g's compile time.
# A unity build (test files compiled together): a third of the compile time,
# as Asio's templates are instantiated once per batch, not once per file
# (scripts/test.sh compiles each file alone).
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCOLINE_WERROR=ON -DCMAKE_UNITY_BUILD=ON \
      -DCMAKE_CXX_FLAGS="$flags -fno-omit-frame-pointer" -DCMAKE_CXX_FLAGS_DEBUG=-g1 >/dev/null
cmake --build "$dir" -j "$jobs"
export COLINE_SANITIZER=$kind # for the tests whose memory bounds allow for a sanitizer's own
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
       TSAN_OPTIONS=halt_on_error=1
ctest --test-dir "$dir" --output-on-failure --no-tests=error -j $((2 * jobs)) -O "$dir/ctest.log"
