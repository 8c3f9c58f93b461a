#!/usr/bin/env bash
# Fails, listing them, if any test was skipped (or disabled) in the given logs:
#   - CTest's output: ctest ... -O LOG (or ctest ... | tee LOG);
#   - Meson's build-dir/meson-logs/testlog.txt (or testlog.json).
# In Meson logs, a test's output line with "SKIPPED:" counts too: the doctest
# binaries run as one Meson test each, and a case that cannot run here says so
# that way (CTest sees it through SKIP_REGULAR_EXPRESSION). A log that holds no
# test results fails as well, so that a wrong path cannot pass.
#   tests/check_no_skips.sh LOGFILE...
set -uo pipefail
[ $# -gt 0 ] || { echo "usage: $0 LOGFILE..." >&2; exit 2; }
status=0
for log in "$@"; do
    if [ ! -r "$log" ]; then
        echo "$log: cannot read" >&2
        status=1
        continue
    fi
    # One line per test that did not run, "name (why)", or NO_RESULTS.
    skipped=$(awk '
        function strip(s) { sub(/^[[:space:]]+/, "", s); sub(/[[:space:]]+$/, "", s); return s }
        # CTest: each test as it ends, "3/9 Test #3: name ....***Skipped   0.01 sec",
        # and at the end "The following tests did not run:", "  12 - name (Skipped)".
        /^ *[0-9]+\/[0-9]+ Test +#[0-9]+: / {
            results = 1
            if ($0 ~ /\*\*\*(Skipped|Not Run \(Disabled\))/) {
                line = $0; sub(/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: /, "", line); sub(/ \.+.*$/, "", line)
                print line " (Skipped)"
            }
            next
        }
        /^The following tests did not run:/ { listing = 1; results = 1; next }
        listing && /^[[:space:]]*[0-9]+ - .* \([A-Za-z ]+\)$/ {
            line = $0; sub(/^[[:space:]]*[0-9]+ - /, "", line); print line; next }
        { listing = 0 }
        /^[0-9]+% tests passed/ { results = 1; next }
        # Meson, testlog.txt: per test "test: name" and "result: exit status 77",
        # its output, and at the end "Ok: N" ... "Skipped: N".
        /^test: +/ { test = strip(substr($0, 6)); next }
        /^result: +exit status 77$/ { results = 1; print test " (exit status 77: skipped)"; next }
        /^result: +/ { results = 1; next }
        /SKIPPED:/ && !/^\{/ { line = $0; sub(/^.*SKIPPED:/, "SKIPPED:", line); print test ": " strip(line); next }
        /^Ok: +[0-9]+/ { results = 1; next }
        /^Skipped: +[1-9]/ { summary = strip($0); next }
        # Meson, testlog.json: one object per test, with "name", "result" and "stdout".
        /^\{.*"result": *"[A-Z]+"/ {
            results = 1
            name = $0; sub(/^.*"name": *"/, "", name); sub(/".*$/, "", name)
            if ($0 ~ /"result": *"SKIP"/) print name " (SKIP)"
            if ($0 ~ /SKIPPED:/) { line = $0; sub(/^.*SKIPPED:/, "SKIPPED:", line); sub(/(\\n|").*$/, "", line); print name ": " line }
            next
        }
        END {
            if (!results) print "NO_RESULTS"
            else if (summary != "") print "(Meson: " summary ")"
        }
    ' "$log" | sort -u)
    if [ "$skipped" = NO_RESULTS ]; then
        echo "$log: no test results in this log" >&2
        status=1
    elif [ -n "$skipped" ]; then
        echo "$log: tests that did not run, or not all of it:" >&2
        sed 's/^/  /' <<<"$skipped" >&2
        status=1
    fi
done
exit "$status"
