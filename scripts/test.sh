#!/usr/bin/env bash
# Builds everything with GCC and runs the whole test suite with CMake/CTest,
# then proves the Meson build (scripts/meson.sh: the examples and their tests).
#   scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
jobs=$(nproc)

echo "== CMake + CTest (build/)"
# Tests and examples asked for explicitly: scripts/demo.sh configures build/ without the tests.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCOLINE_WERROR=ON \
      -DCOLINE_BUILD_TESTS=ON -DCOLINE_BUILD_EXAMPLES=ON >/dev/null
cmake --build build -j "$jobs"
# The tests mostly wait on sockets and timers: twice as many as there are cores.
ctest --test-dir build --output-on-failure --no-tests=error -j $((2 * jobs)) -O build/ctest.log

scripts/meson.sh
