#!/usr/bin/env bash
# Runs examples/resp_server with Redis's own tools (redis-cli, redis-benchmark)
# and against a real Redis (redis-server, started here on a free loopback port
# with nothing saved), over loopback on ports the kernel picks.
#   resp_test.sh RESP_SERVER
set -uo pipefail
server=$1
here=$(dirname "$0")
source "$here/script_support.sh"
check "resp_server --help prints its usage" prints_usage "$server" resp_server
python=/usr/bin/python3
requires redis-server redis-cli redis-benchmark nc tr head "$python"

# The ports: ours, and that of the reference Redis.
ours=0 redis=0

# Runs the "> command" lines of a transcript through redis-cli, one connection
# each, and prints the transcript they make: each command, then what
# redis-cli printed for it (--no-raw: types shown, as on a terminal).
transcript() { # port, transcript-file
    local line
    while IFS= read -r line; do
        case $line in
        "> "*)
            printf '%s\n' "$line"
            printf '%s\n' "${line#> }" | within 10 redis-cli --no-raw -p "$1" 2>&1
            ;;
        esac
    done <"$2"
}
same_transcript() { # port, name: tests/expected/resp_NAME.txt
    transcript "$1" "$here/expected/resp_$2.txt" >"$work/$2.$1.txt"
    same "$here/expected/resp_$2.txt" "$work/$2.$1.txt"
}

stops_on_sigterm() { # pid
    kill -TERM "$1"
    wait_exit "$1"
    test "$status" = 0
}

# A port nobody listens on now (the kernel's pick, then released): for
# redis-server, which cannot report the port it got.
free_port() {
    "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
answers_ping() { test "$(within 5 redis-cli -p "$1" PING 2>/dev/null)" = PONG; }

# The reference: a real Redis, in the scratch directory, saving nothing.
start_redis() {
    local attempt
    mkdir -p "$work/redis"
    for attempt in 1 2 3; do # another program may take the port between free_port and the bind
        redis=$(free_port)
        redis-server --port "$redis" --bind 127.0.0.1 --save '' --appendonly no --dir "$work/redis" \
            --logfile "$work/redis/log" &
        redis_pid=$!
        poll 20 answers_ping "$redis" && return 0
        kill "$redis_pid" 2>/dev/null
        wait "$redis_pid" 2>/dev/null
    done
    echo "redis-server did not start: $(tail -n 5 "$work/redis/log")" >&2
    return 1
}

start resp "$server" 127.0.0.1 0 || exit 1
ours=$port ours_pid=$pid
start_redis || exit 1

# 1. redis-cli transcripts, the same with Redis: every command, its errors.
for name in strings errors; do
    check "redis-cli: $name, as expected" same_transcript "$ours" "$name"
    check "redis-cli: $name, Redis prints the same" same_transcript "$redis" "$name"
done
# What is ours alone: COMMAND, CONFIG GET, HELLO (not implemented).
check "redis-cli: COMMAND, CONFIG GET and HELLO" same_transcript "$ours" server

# 2. Expiry: a key set with PX is there, then gone (checked every 0.05 s, for at most 5 s).
exists() { test "$(within 5 redis-cli -p "$ours" EXISTS "$1")" = "$2"; }
within 5 redis-cli -p "$ours" SET soon v PX 300 >/dev/null
check "a key with PX is there before its time" exists soon 1
check "and gone after it" poll 5 exists soon 0

# 3. redis-benchmark, pipelined and not: no error, and the keys it set hold its value.
bench() { # pipeline depth
    within 120 redis-benchmark -p "$ours" -n 20000 -c 50 -P "$1" -t ping_inline,set,get -q \
        >"$work/bench$1.out" 2>&1
}
for depth in 16 1; do
    check "redis-benchmark -P $depth finishes" bench "$depth"
    check "redis-benchmark -P $depth reports no error or warning" \
        not grep -E 'ERR|Error|WARNING' "$work/bench$depth.out"
    for test in PING_INLINE SET GET; do
        check "redis-benchmark -P $depth measured $test" grep -qE "$test: [0-9.]+ requests per second" "$work/bench$depth.out"
    done
done
tr '\r' '\n' <"$work/bench16.out" | grep 'requests per second' # the figures, for the log
# Its value: 3 bytes from its own generator, with a fixed seed.
check "the benchmark's SET stored its value" test "$(within 5 redis-cli -p "$ours" GET key:__rand_int__)" = VXK

# 4. Raw requests, byte for byte against Redis (tests/resp_compare.py has the
# cases, and those where we differ on purpose, with the reason).
while IFS= read -r name; do
    check "same as Redis: $name" within 60 "$python" "$here/resp_compare.py" "$ours" "$redis" "$name"
done < <("$python" "$here/resp_compare.py" --list-same)
while IFS= read -r name; do
    check "not as Redis, on purpose: $name" within 60 "$python" "$here/resp_compare.py" "$ours" "$redis" "$name"
done < <("$python" "$here/resp_compare.py" --list-different)
check "Redis is still running" answers_ping "$redis"
check "large values sent while another client replaces them arrive whole" \
    within 60 "$python" "$here/resp_compare.py" --slow-reader "$ours"

# 5. Bad input, on a server of its own: enormous lengths are refused without
# being allocated, the memory stays bounded, and a request cut short harms no one.
start bad "$server" 127.0.0.1 0 || exit 1
bad=$port bad_pid=$pid
kib() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB$/\1/p" "/proc/$bad_pid/status"; } # VmRSS, VmHWM
within 5 redis-cli -p "$bad" PING >/dev/null # the server has served once
baseline=$(kib VmRSS)
replies() { # bytes (printf format), expected reply (printf format)
    printf "$1" | within 20 nc -N 127.0.0.1 "$bad" >"$work/bad.out"
    cmp -s "$work/bad.out" <(printf -- "$2") || { echo "got: $(od -c "$work/bad.out" | head -5)" >&2; return 1; }
}
check "\$99999999999 is refused" replies '*1\r\n$99999999999\r\n' '-ERR Protocol error: invalid bulk length\r\n'
check "\$9223372036854775807 is refused" replies '*1\r\n$9223372036854775807\r\n' '-ERR Protocol error: invalid bulk length\r\n'
check "\$18446744073709551615 is refused" replies '*1\r\n$18446744073709551615\r\n' '-ERR Protocol error: invalid bulk length\r\n'
check "*2147483647 is refused" replies '*2147483647\r\n' '-ERR Protocol error: invalid multibulk length\r\n'
check "four 1 MiB bulk strings: over the 4 MiB a request may hold" \
    replies "*1000\r\n"'$1048576\r\n'"$(head -c 1048576 /dev/zero | tr '\0' v)"'\r\n$1048576\r\n'"$(head -c 1048576 /dev/zero | tr '\0' v)"'\r\n$1048576\r\n'"$(head -c 1048576 /dev/zero | tr '\0' v)"'\r\n$1048576\r\n' \
    '-ERR Protocol error: too big request\r\n'
flood() { # prefix: then 64 MiB without a line end
    { printf "$1"; head -c $((64 << 20)) /dev/zero | tr '\0' 7; } | within 30 nc -N 127.0.0.1 "$bad" 2>/dev/null >"$work/flood.out"
    return 0 # nc fails when the server closes while it writes: what matters is the reply
}
flood ''
check "64 MiB without a line end: too big inline request" \
    cmp -s "$work/flood.out" <(printf -- '-ERR Protocol error: too big inline request\r\n')
flood '*1\r\n$'
check "a 64 MiB bulk length: too big bulk count string" \
    cmp -s "$work/flood.out" <(printf -- '-ERR Protocol error: too big bulk count string\r\n')
check "a bulk cut short by the end of the stream gets no reply" replies '*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$100\r\nabc' ''
check "a 1 MiB bulk cut short gets no reply" replies '*2\r\n$4\r\nECHO\r\n$1048576\r\nabc' ''
check "the server is still running" kill -0 "$bad_pid"
check "it serves the next client" answers_ping "$bad"
check "the cut-short SET stored nothing" test "$(within 5 redis-cli -p "$bad" EXISTS key)" = 0
peak=$(kib VmHWM) now=$(kib VmRSS)
echo "resp_server memory: $baseline kB at first, $peak kB at the peak, $now kB now"
# The most it may hold: the 3 MiB that request's first bulk strings are,
# and the 1 MiB bulk cut short, with the allocator's slack. Under TSan
# (scripts/sanitize.sh sets COLINE_SANITIZER) each byte also has its shadow:
# twice the room (a CI run measured 16.2 MiB); every other build checks 16 MiB.
allowance=16
[ "${COLINE_SANITIZER:-}" = thread ] && allowance=32
check "its peak memory stayed within $allowance MiB of where it started" test "$peak" -lt $((baseline + allowance * 1024))
check "bad input server exits 0 on SIGTERM" stops_on_sigterm "$bad_pid"

# Lengths announced and not sent cost nothing: 200 clients each announce a
# 1 MiB bulk string (30 bytes) and wait. Holding the megabytes would take 200
# MiB (the code before measured +202 MiB); the clients cost under 1 MiB.
start idle "$server" 127.0.0.1 0 || exit 1
within 5 redis-cli -p "$port" PING >/dev/null # the server has served once
check "200 clients announcing 1 MiB each raise the memory by under 50 MiB, and a value sent in pieces arrives whole" \
    within 60 "$python" "$here/resp_compare.py" --announced "$port" "$pid" 200 50
check "idle server exits 0 on SIGTERM" stops_on_sigterm "$pid"

# 6. A store full: writes are refused with -OOM until keys are deleted.
start small "$server" 127.0.0.1 0 --maxmemory 1000 || exit 1
check "redis-cli: --maxmemory 1000" same_transcript "$port" maxmemory
check "small server exits 0 on SIGTERM" stops_on_sigterm "$pid"

check "resp_server exits 0 on SIGTERM" stops_on_sigterm "$ours_pid"
kill "$redis_pid"
wait_exit "$redis_pid"
check "the reference Redis stops on SIGTERM" test "$status" = 0

finish resp
