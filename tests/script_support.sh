# Shared by the shell tests that run the example programs (sourced, not run):
# a scratch directory, pass/fail counting, and waiting with upper bounds
# instead of fixed sleeps.
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
passed=0 failed=0

check() { # name, then a command that must succeed
    local name=$1; shift
    if "$@"; then passed=$((passed + 1)); echo "ok: $name"; else failed=$((failed + 1)); echo "FAILED: $name"; fi
}
not() { ! "$@"; }
same() { diff -u "$1" "$2" >&2; }
contains() { grep -qF -- "$2" "$1" || { echo "no '$2' in: $(cat "$1")" >&2; return 1; }; }
fails_with() { # text, command...: the command exits 1 and says text on stderr
    local text=$1; shift
    "$@" >/dev/null 2>"$work/error.txt"
    local status=$?
    [ "$status" -eq 1 ] || { echo "exit status $status: $(cat "$work/error.txt")" >&2; return 1; }
    contains "$work/error.txt" "$text"
}

# Starts a listening program in the background; sets pid and port. Waits (at most 5 s)
# for its "Listening on HOST:PORT" line.
start() { # out-file, program, args...
    local out=$1; shift
    "$@" >"$work/$out.out" 2>"$work/$out.err" &
    pid=$!
    for _ in $(seq 100); do
        port=$(sed -n 's/^Listening on .*:\([0-9][0-9]*\)$/\1/p' "$work/$out.err" 2>/dev/null)
        [ -n "$port" ] && return 0
        sleep 0.05
    done
    echo "$* did not start: $(cat "$work/$out.err")" >&2
    return 1
}

# Waits (at most 10 s) for process $1 to exit and sets status to its exit code.
wait_exit() {
    for _ in $(seq 200); do
        kill -0 "$1" 2>/dev/null || { wait "$1"; status=$?; return 0; }
        sleep 0.05
    done
    status=timeout
}

wait_for_text() { # file, text: waits (at most 10 s) until the file holds the text
    for _ in $(seq 200); do grep -qF -- "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
    echo "$1 does not hold: $2" >&2
    return 1
}

# The summary line, and the script's exit status.
finish() { # name
    echo "$1: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
