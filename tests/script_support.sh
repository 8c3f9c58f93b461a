# Shared by the shell tests that run the example programs (sourced, not run):
# a scratch directory, pass/fail counting, skipping, and waiting with upper
# bounds instead of fixed sleeps. Every wait is bounded, so that a program
# that hangs fails its check instead of hanging the test; CTest's TIMEOUT and
# Meson's timeout bound the whole script besides.

# A tool the test needs is missing: exit 77 (a skip for CTest's
# SKIP_RETURN_CODE and for Meson) with a one-line reason on stderr. Called
# before the first check, so that a skip never passes for a partial result.
skip() { # reason
    echo "skipped: $1" >&2
    exit 77
}
requires() { # command...
    local tool
    for tool; do command -v "$tool" >/dev/null || skip "$tool is not installed"; done
}
requires timeout mktemp diff cmp grep sed

work=$(mktemp -d)
also_kill=() # background processes that are not jobs (process substitutions)
# Polls a command (every 0.05 s) until it succeeds, for at most the given seconds.
poll() { # seconds, command...
    local deadline=$((SECONDS + $1)); shift
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.05
    done
}
gone() { ! kill -0 "$1" 2>/dev/null; } # pid

# At exit, whatever still runs gets SIGTERM, and SIGKILL if it is still there 10 s later.
cleanup() {
    local pids p
    pids="$(jobs -p) ${also_kill[*]}"
    kill $pids 2>/dev/null
    for p in $pids; do poll 10 gone "$p" || kill -KILL "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT
passed=0 failed=0

check() { # name, then a command that must succeed
    local name=$1; shift
    if "$@"; then passed=$((passed + 1)); echo "ok: $name"; else failed=$((failed + 1)); echo "FAILED: $name"; fi
}
not() { ! "$@"; }
# Whether `PROGRAM --help` exits 0 and prints its usage, which begins "usage: NAME".
prints_usage() { # program, name
    local out
    out=$(within 10 "$1" --help) && [[ "$out" == "usage: $2 "* ]] || { echo "$2 --help: '$out'" >&2; return 1; }
}
same() { diff -u "$1" "$2" >&2; }
contains() { grep -qF -- "$2" "$1" || { echo "no '$2' in: $(cat "$1")" >&2; return 1; }; }

# Runs a program that must end by itself, for at most the given seconds (then
# SIGTERM, and SIGKILL 5 s later): a hung program gives exit status 124 or 137.
# (--foreground keeps it in the script's process group, which CTest and Meson
# kill as a whole when the script itself runs out of time.)
within() { # seconds, command...
    local seconds=$1; shift
    timeout --foreground -k 5 "$seconds" "$@"
}

# Writes lines to a file descriptor (a pipe, fifo or socket), for at most 10 s:
# a reader that stopped reading fails the write instead of blocking the test.
send() { # fd, line...
    local fd=$1; shift
    printf '%s\n' "$@" | within 10 cat >&"$fd"
}

fails_with() { # text, command...: the command exits 1 (within 10 s) and says text on stderr
    local text=$1; shift
    within 10 "$@" >/dev/null 2>"$work/error.txt"
    local status=$?
    [ "$status" -eq 1 ] || { echo "exit status $status: $(cat "$work/error.txt")" >&2; return 1; }
    contains "$work/error.txt" "$text"
}

# Starts a listening program in the background; sets pid and port. Waits (at most 20 s)
# for its "Listening on HOST:PORT" line.
start() { # out-file, program, args...
    local out=$1; shift
    "$@" >"$work/$out.out" 2>"$work/$out.err" &
    pid=$!
    listening() {
        port=$(sed -n 's/^Listening on .*:\([0-9][0-9]*\)$/\1/p' "$work/$out.err" 2>/dev/null)
        [ -n "$port" ] || gone "$pid" # (gone: fails at once)
    }
    poll 20 listening && [ -n "$port" ] && return 0
    echo "$* did not start: $(cat "$work/$out.err")" >&2
    return 1
}

# Waits (at most 20 s, longer than a server's 10 s grace period) for process
# $1 to exit and sets status to its exit code; or to "timeout", and kills it.
wait_exit() {
    if poll 20 gone "$1"; then
        wait "$1" 2>/dev/null
        status=$?
    else
        echo "process $1 is still running after 20 s: killed" >&2
        kill -KILL "$1" 2>/dev/null
        wait "$1" 2>/dev/null
        status=timeout
    fi
}

has_text() { grep -qF -- "$2" "$1" 2>/dev/null; } # file, text
wait_for_text() { # file, text: waits (at most 20 s) until the file holds the text
    poll 20 has_text "$1" "$2" && return 0
    echo "$1 does not hold: $2" >&2
    return 1
}

# Waits (at most 20 s) until a file that a running program writes is exactly
# the expected one; shows the difference if it never is.
becomes() { # file, expected-file
    poll 20 cmp -s "$1" "$2" || same "$2" "$1"
}

# The summary line, and the script's exit status.
finish() { # name
    echo "$1: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
