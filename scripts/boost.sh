#!/usr/bin/env bash
# Builds everything on Boost.Asio (COLINE_USE_BOOST_ASIO; Debian 12's Boost
# 1.81, which carries Asio 1.26) with GCC, warnings as errors, and runs the
# whole test suite with CTest, examples included.
#   scripts/boost.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh libboost1.81-dev
dir=build-boost
jobs=$(nproc)
echo "== CMake + CTest with g++ on Boost.Asio ($dir/)"
# A unity build, as in scripts/sanitize.sh (which says why).
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCOLINE_WERROR=ON -DCOLINE_USE_BOOST_ASIO=ON -DCMAKE_UNITY_BUILD=ON \
    -DCMAKE_CXX_FLAGS_DEBUG=-g1 >/dev/null
cmake --build "$dir" -j "$jobs"
ctest --test-dir "$dir" --output-on-failure --no-tests=error -j $((2 * jobs)) -O "$dir/ctest.log"
