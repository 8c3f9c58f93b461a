#!/usr/bin/env bash
# Builds everything and runs the whole test suite, with CMake/CTest and with Meson.
#   scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

echo "== docs/api.md covers every public name"
scripts/check_docs.sh

echo "== CMake + CTest (build/)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCOLINE_WERROR=ON >/dev/null
cmake --build build
ctest --test-dir build --output-on-failure -j2

echo "== Meson (build-meson/)"
[ -d build-meson ] || meson setup build-meson -Dwerror=true >/dev/null
meson compile -C build-meson
meson test -C build-meson --print-errorlogs
