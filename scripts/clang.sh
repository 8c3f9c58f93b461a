#!/usr/bin/env bash
# Builds everything with Debian 12's clang 16 (on libstdc++), warnings as errors,
# and runs the whole test suite with CMake/CTest.
#   scripts/clang.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian's clang-16 package (it depends on libstdc++-12-dev), unless clang++-16 is already there.
if command -v clang++-16 >/dev/null; then scripts/setup.sh; else scripts/setup.sh clang-16; fi
jobs=$(nproc)

echo "== CMake + CTest with clang++-16 (build-clang16/)"
CXX=clang++-16 cmake -S . -B build-clang16 -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCOLINE_WERROR=ON >/dev/null
cmake --build build-clang16 -j "$jobs"
ctest --test-dir build-clang16 --output-on-failure --no-tests=error -j $((2 * jobs)) -O build-clang16/ctest.log
