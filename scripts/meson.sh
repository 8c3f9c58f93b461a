#!/usr/bin/env bash
# Proves the Meson build: configures coline with Meson (warnings as errors),
# builds the library's examples and runs the tests that drive them
# (tests/*_test.sh: the tutorial's exchange, the apps, TLS). The doctest suite
# itself is built and run by CMake (scripts/test.sh); the Meson subproject
# consumer is in scripts/consumers.sh.
#   scripts/meson.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
dir=build-meson
# No debug info: nothing here is debugged, and it is a fifth of the compile time.
[ -f "$dir/build.ninja" ] || meson setup "$dir" -Dwerror=true -Ddebug=false >/dev/null

# The executables defined in examples/meson.build, and the tests that need
# nothing else (Meson's own list, so new examples and tests are picked up).
plan=$(meson introspect "$dir" --targets --tests | python3 -c '
import json, os, sys
info = json.load(sys.stdin)
examples = {t["id"]: t for t in info["targets"]
            if os.path.basename(os.path.dirname(t["defined_in"])) == "examples" and t["type"] == "executable"}
tests = [t["name"] for t in info["tests"] if t["depends"] and set(t["depends"]) <= set(examples)]
print(" ".join("examples/" + t["name"] for t in examples.values()))
print(" ".join(tests))')
read -r -a targets <<<"$(sed -n 1p <<<"$plan")"
read -r -a tests <<<"$(sed -n 2p <<<"$plan")"
[ ${#targets[@]} -gt 0 ] && [ ${#tests[@]} -gt 0 ] || { echo "meson.sh: no examples or example tests found in $dir" >&2; exit 1; }

echo "== Meson (build-meson/): ${#targets[@]} examples; tests: ${tests[*]}"
meson compile -C "$dir" -j "$(nproc)" "${targets[@]}"
meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes "$(nproc)" "${tests[@]}"
