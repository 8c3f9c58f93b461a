#!/usr/bin/env bash
# Builds everything against the newest standalone Asio (1.38.2, the include/
# tree pinned in ../shared/deps beside the checkout) instead of Debian's
# 1.22.1, warnings as errors, and runs the whole test suite with CTest.
#   scripts/asio.sh [g++|clang++-16]       (g++ by default)
#   ASIO_TARBALL=/path/asio-X-include.tar.gz scripts/asio.sh   (another release)
# Without the tarball it exits 77 (skipped), saying where it looked.
set -euo pipefail
cd "$(dirname "$0")/.."
compiler=${1:-g++}
tarball=${ASIO_TARBALL:-}
if [ -z "$tarball" ]; then
    for deps in "$(cd .. && pwd)/shared/deps" /work/shared/deps; do # beside this checkout, or the workplace's
        [ -f "$deps/asio-1.38.2-include.tar.gz" ] && { tarball=$deps/asio-1.38.2-include.tar.gz; break; }
    done
fi
if [ ! -f "${tarball:-/nonexistent}" ]; then
    echo "SKIPPED: scripts/asio.sh: no asio-1.38.2-include.tar.gz in ../shared/deps or /work/shared/deps" \
         "(set ASIO_TARBALL)" >&2
    exit 77
fi
if [ "$compiler" = clang++-16 ] && ! command -v clang++-16 >/dev/null; then scripts/setup.sh clang-16; else scripts/setup.sh; fi
jobs=$(nproc)
case "$compiler" in g++) name=gcc ;; clang++-16) name=clang16 ;; *) name=$(basename "$compiler") ;; esac
unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked"' EXIT
tar -xzf "$tarball" -C "$unpacked"
header=$(find "$unpacked" -path '*/include/asio/version.hpp' | head -n 1)
[ -n "$header" ] || { echo "scripts/asio.sh: no include/asio/version.hpp in $tarball" >&2; exit 1; }
version=$(sed -n 's|^#define ASIO_VERSION [0-9]* // \([0-9.]*\)$|\1|p' "$header")
[ -n "$version" ] || { echo "scripts/asio.sh: no version in $header" >&2; exit 1; }
dir=build-asio-$version-$name
rm -rf "$dir/asio" && mkdir -p "$dir"
mv "$(dirname "$(dirname "$header")")" "$dir/asio" # the include/ tree, whatever the tarball's layout
include=$PWD/$dir/asio

echo "== CMake + CTest with $compiler against Asio $version ($dir/)"
# A unity build, as in scripts/sanitize.sh (which says why).
CXX=$compiler cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCOLINE_WERROR=ON -DCMAKE_UNITY_BUILD=ON \
    -DCOLINE_ASIO_INCLUDE_DIR="$include" -DCMAKE_CXX_FLAGS_DEBUG=-g1 >/dev/null
cmake --build "$dir" -j "$jobs"
ctest --test-dir "$dir" --output-on-failure --no-tests=error -j $((2 * jobs)) -O "$dir/ctest.log"
