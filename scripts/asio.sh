#!/usr/bin/env bash
# Builds everything against the newest standalone Asio (1.38.2, the include/
# tree pinned in ../shared/deps beside the checkout) instead of Debian's
# 1.22.1, warnings as errors, and runs the whole test suite with CTest.
#   scripts/asio.sh [g++|clang++-16]       (g++ by default)
#   ASIO_TARBALL=/path/asio-X-include.tar.gz scripts/asio.sh   (another release)
set -euo pipefail
cd "$(dirname "$0")/.."
compiler=${1:-g++}
tarball=${ASIO_TARBALL:-$(cd .. && pwd)/shared/deps/asio-1.38.2-include.tar.gz}
[ -f "$tarball" ] || { echo "scripts/asio.sh: $tarball is missing (see ../shared/deps/README.md)" >&2; exit 1; }
if [ "$compiler" = clang++-16 ] && ! command -v clang++-16 >/dev/null; then scripts/setup.sh clang-16; else scripts/setup.sh; fi
jobs=$(nproc)
version=$(basename "$tarball" | sed -n 's/^asio-\([0-9.]*\)-include\.tar\.gz$/\1/p')
case "$compiler" in g++) name=gcc ;; clang++-16) name=clang16 ;; *) name=$(basename "$compiler") ;; esac
dir=build-asio-${version:-other}-$name
mkdir -p "$dir/asio"
tar -xzf "$tarball" -C "$dir/asio"
include=$(dirname "$(find "$PWD/$dir/asio" -name asio.hpp -path '*/include/asio.hpp' | head -n 1)")
grep -q "ASIO_VERSION ${version:+$(awk -F. '{ printf "%d%03d%02d", $1, $2, $3 }' <<<"$version")}" "$include/asio/version.hpp" ||
    { echo "scripts/asio.sh: $include/asio/version.hpp is not Asio $version" >&2; exit 1; }

echo "== CMake + CTest with $compiler against Asio $version ($dir/)"
CXX=$compiler cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCOLINE_WERROR=ON \
    -DCOLINE_ASIO_INCLUDE_DIR="$include" -DCMAKE_CXX_FLAGS_DEBUG=-g1 >/dev/null
cmake --build "$dir" -j "$jobs"
ctest --test-dir "$dir" --output-on-failure --no-tests=error -j $((2 * jobs)) -O "$dir/ctest.log"
