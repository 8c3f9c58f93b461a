#!/usr/bin/env bash
# Runs the example server and client the way a user would, over loopback on
# ports the kernel picks and on a Unix socket, and compares what they print
# with the tutorial's; then the README's server, which must be the README's code.
# (The tutorial's own PHP programs against ours: tutorial_test.sh.)
#   examples_test.sh SERVER CLIENT README_SERVER
set -uo pipefail
server=$1 client=$2 readme_server=$3
here=$(cd "$(dirname "$0")" && pwd)
source "$here/script_support.sh"
requires nc awk /usr/bin/python3
check "server --help prints its usage" prints_usage "$server" server
check "client --help prints its usage" prints_usage "$client" client

# 1. The tutorial's exchange, and both transcripts. Our programs print the
# tutorial's lines (tests/expected/tutorial_*.txt, what the tutorial's PHP
# programs print) but for two deliberate differences: no blank lines (PHP's
# line reads keep the "\n", and the tutorial's echo adds another), and our
# client prints the answer on one line ("some data response from server is:",
# where the tutorial's string has "some data\n response from server is:").
check "our client's expected lines are the tutorial client's, joined and without blank lines" \
    same <(grep -v '^$' "$here/expected/tutorial_client.txt" | sed -z 's/\n / /g') "$here/expected/client.txt"
check "our server's expected lines are the tutorial server's, without blank lines" \
    same <(grep -v '^$' "$here/expected/tutorial_server.txt") "$here/expected/server.txt"
start server "$server" 127.0.0.1 0 || exit 1
within 20 "$client" 127.0.0.1 "$port" >"$work/client.out" 2>&1
check "client exits 0" test $? -eq 0
check "client prints the tutorial's lines" same "$here/expected/client.txt" "$work/client.out"
check "server prints the tutorial's lines" becomes "$work/server.out" "$here/expected/server.txt"

# 2. nc as the client.
printf 'SOME data\n' | within 10 nc -N 127.0.0.1 "$port" >"$work/nc.out"
check "nc gets Connect then Information received" same <(printf 'Connect\nInformation received\n') "$work/nc.out"

# 3. Several lines, LF and CRLF, from one client.
within 20 "$client" 127.0.0.1 "$port" "first" "Second Line" >"$work/lines.out" 2>&1
check "client sends several lines" same <(printf '%s\n' "Buffer Data: Connect" "Writing to socket" \
    "sent to Server:first response from server is:Information received" \
    "sent to Server:second line response from server is:Information received") "$work/lines.out"
printf 'crlf line\r\n' | within 10 nc -N 127.0.0.1 "$port" >"$work/crlf.out"
check "a CRLF client is answered" same <(printf 'Connect\nInformation received\n') "$work/crlf.out"

# 4. SIGTERM with a client connected mid-session: it gets its answers, the server exits 0.
exec 3<>"/dev/tcp/127.0.0.1/$port"
read -r -t 5 greeting <&3
send 3 one two
wait_for_text "$work/server.out" "Buffer: two"
kill -TERM "$pid"
wait_exit "$pid"
check "server exits 0 on SIGTERM" test "$status" = 0
answers=$(within 10 cat <&3)
exec 3<&-
check "the connected client got both answers" test "$answers" = $'Information received\nInformation received'

# 5. --max-clients: the client over the limit is told "not connect".
start limited "$server" 127.0.0.1 0 --max-clients 1 || exit 1
exec 3<>"/dev/tcp/127.0.0.1/$port"
read -r -t 5 greeting <&3
within 20 "$client" 127.0.0.1 "$port" >"$work/refused.out" 2>&1
check "refused client exits 1" test $? -eq 1
check "refused client prints Don t connect" same <(printf 'Don t connect\n') "$work/refused.out"
exec 3<&-
kill -INT "$pid"
wait_exit "$pid"
check "server exits 0 on SIGINT" test "$status" = 0

# 6. Bad arguments and a taken port: a one-line reason and exit status 1, not a crash.
check "a port over 65535 is refused" fails_with "server: not a port number (0 to 65535): '70000'" "$server" 127.0.0.1 70000
check "a port that is not a number is refused" fails_with "not a port number" "$server" 127.0.0.1 http
check "a host that is not an IP address is refused" fails_with "server: not an IP address: 'nowhere'" "$server" nowhere 0
check "a bad --threads is refused" fails_with "not a thread count" "$server" 127.0.0.1 0 --threads many
start taken "$server" 127.0.0.1 0 || exit 1
check "a port in use is reported" fails_with "Address already in use" "$server" 127.0.0.1 "$port"
kill "$pid"

# 7. --unix PATH: the same session on a Unix socket. A socket file left by a
# server that is gone is replaced; a live server's socket, or a file that is
# not a socket, is left alone; the server removes its socket when it exits.
sock=$work/server.sock
start_unix() { # out-file, args...: starts the server on $sock and waits for it
    local out=$1; shift
    "$server" --unix "$sock" "$@" >"$work/$out.out" 2>"$work/$out.err" &
    pid=$!
    wait_for_text "$work/$out.err" "Listening on $sock"
}
start_unix crashed || exit 1
kill -KILL "$pid"; wait "$pid" 2>/dev/null # (SIGKILL: it ends)
check "a killed server leaves its socket file" test -S "$sock"
start_unix unix || exit 1
check "a stale socket file is replaced" test -S "$sock"
printf 'SOME data\n' | within 10 nc -N -U "$sock" >"$work/unix_nc.out"
check "nc -U gets Connect then Information received" same <(printf 'Connect\nInformation received\n') "$work/unix_nc.out"
check "the server prints the tutorial's lines for a Unix client" becomes "$work/unix.out" "$here/expected/server.txt"
check "a second server on a live socket is refused" fails_with "server: a server is listening on $sock" "$server" --unix "$sock"
check "... and the live socket stays" test -S "$sock"
kill -TERM "$pid"
wait_exit "$pid"
check "the Unix server exits 0 on SIGTERM" test "$status" = 0
check "... and removes its socket file" test ! -e "$sock"
echo "not a socket" >"$work/file"
check "a file that is not a socket is not replaced" fails_with "Address already in use" "$server" --unix "$work/file"
check "... and stays as it was" test "$(cat "$work/file")" = "not a socket"
check "--threads needs TCP" fails_with "more than one thread needs TCP" "$server" --unix "$sock" --threads 2

# 8. The README's server (examples/readme_server.cpp, on a free port given as its
# argument): the README shows that very file, and it holds the tutorial's exchange.
readme=$here/../README.md
heading="## The tutorial's server in 20 lines"
awk -v heading="$heading" '$0 == heading { found = 1; next }
    found && /^```cpp$/ { inside = 1; next }
    inside && /^```$/ { exit }
    inside { print }' "$readme" >"$work/readme_block.cpp"
check "the README's code block is examples/readme_server.cpp" \
    same "$here/../examples/readme_server.cpp" "$work/readme_block.cpp"

start_readme_server() { # tries a few ports nothing listens on; sets pid and port
    for _ in $(seq 10); do
        port=$((20000 + RANDOM % 12000)) # below Linux's ephemeral ports, which other sockets hold
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue # taken
        "$readme_server" "$port" >/dev/null 2>"$work/readme.err" & # (its stdout is buffered until it exits)
        pid=$!
        started() { gone "$pid" || (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }
        poll 20 started || break # neither listening nor gone after 20 s
        gone "$pid" || return 0
        wait "$pid" 2>/dev/null # the port was taken meanwhile: try another
    done
    echo "$readme_server did not start: $(cat "$work/readme.err")" >&2
    return 1
}
if ! start_readme_server; then
    check "the README's server starts" false
else
    # A client that takes the greeting and resets the connection: its session
    # ends with connection_reset, and the server serves on (it used to die of it).
    within 10 /usr/bin/python3 -c '
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.recv(100)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()' "$port"
    printf 'SOME data\n' | within 10 nc -N 127.0.0.1 "$port" >"$work/readme_nc.out"
    check "the README's server: nc gets Connect then Information received (after a client that reset)" \
        same <(printf 'Connect\nInformation received\n') "$work/readme_nc.out"
    within 20 "$client" 127.0.0.1 "$port" >"$work/readme_client.out" 2>&1
    check "the README's server: our client prints the tutorial's lines" \
        same "$here/expected/client.txt" "$work/readme_client.out"
    kill "$pid"
fi

finish examples
