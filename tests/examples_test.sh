#!/usr/bin/env bash
# Runs the example server and client the way a user would, over loopback on
# ports the kernel picks, and compares what they print with the tutorial's.
#   examples_test.sh SERVER CLIENT
set -uo pipefail
server=$1 client=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/script_support.sh"

# 1. The tutorial's exchange, and both transcripts.
start server "$server" 127.0.0.1 0 || exit 1
"$client" 127.0.0.1 "$port" >"$work/client.out" 2>&1
check "client exits 0" test $? -eq 0
check "client prints the tutorial's lines" same "$here/expected/client.txt" "$work/client.out"
wait_for_text "$work/server.out" "Closed the socket"
check "server prints the tutorial's lines" same "$here/expected/server.txt" "$work/server.out"

# 2. nc as the client.
if command -v nc >/dev/null; then
    printf 'SOME data\n' | nc -N 127.0.0.1 "$port" >"$work/nc.out"
    check "nc gets Connect then Information received" same <(printf 'Connect\nInformation received\n') "$work/nc.out"
else
    echo "skipped: nc is not installed"
fi

# 3. Several lines, LF and CRLF, from one client.
"$client" 127.0.0.1 "$port" "first" "Second Line" >"$work/lines.out" 2>&1
check "client sends several lines" grep -qx "sent to Server:second line response from server is:Information received" "$work/lines.out"
printf 'crlf line\r\n' | nc -N 127.0.0.1 "$port" >"$work/crlf.out"
check "a CRLF client is answered" same <(printf 'Connect\nInformation received\n') "$work/crlf.out"

# 4. SIGTERM with a client connected mid-session: it gets its answers, the server exits 0.
exec 3<>"/dev/tcp/127.0.0.1/$port"
read -r -t 5 greeting <&3
printf 'one\ntwo\n' >&3
wait_for_text "$work/server.out" "Buffer: two"
kill -TERM "$pid"
wait_exit "$pid"
check "server exits 0 on SIGTERM" test "$status" = 0
answers=$(cat <&3)
exec 3<&-
check "the connected client got both answers" test "$answers" = $'Information received\nInformation received'

# 5. --max-clients: the client over the limit is told "not connect".
start limited "$server" 127.0.0.1 0 --max-clients 1 || exit 1
exec 3<>"/dev/tcp/127.0.0.1/$port"
read -r -t 5 greeting <&3
"$client" 127.0.0.1 "$port" >"$work/refused.out" 2>&1
check "refused client exits non-zero" test $? -ne 0
check "refused client prints Don t connect" same <(printf 'Don t connect\n') "$work/refused.out"
exec 3<&-
kill -INT "$pid"
wait_exit "$pid"
check "server exits 0 on SIGINT" test "$status" = 0

# 6. Against the tutorial's own PHP programs, where PHP with sockets is installed.
if command -v php >/dev/null && php -m | grep -qx sockets; then
    start php_server php "$here/tutorial/server.php" 0 || exit 1
    "$client" 127.0.0.1 "$port" >"$work/php_client.out" 2>&1
    check "our client works against the tutorial's PHP server" same "$here/expected/client.txt" "$work/php_client.out"
    kill "$pid"

    start server2 "$server" 127.0.0.1 0 || exit 1
    php "$here/tutorial/client.php" "$port" >"$work/php.out" 2>&1 &
    php_pid=$!
    check "the tutorial's PHP client gets its answer from our server" wait_for_text "$work/php.out" "response from server is:Information received"
    kill "$php_pid" "$pid"
else
    echo "skipped: php with the sockets extension is not installed"
fi

# 7. Bad arguments and a taken port: a one-line reason and exit status 1, not a crash.
fails_with() { # text, command...: the command exits 1 and says text on stderr
    local text=$1; shift
    "$@" >/dev/null 2>"$work/error.txt"
    local status=$?
    [ "$status" -eq 1 ] || { echo "exit status $status: $(cat "$work/error.txt")" >&2; return 1; }
    contains "$work/error.txt" "$text"
}
check "a port over 65535 is refused" fails_with "server: not a port number (0 to 65535): '70000'" "$server" 127.0.0.1 70000
check "a port that is not a number is refused" fails_with "not a port number" "$server" 127.0.0.1 http
check "a host that is not an IP address is refused" fails_with "server: not an IP address: 'nowhere'" "$server" nowhere 0
check "a bad --threads is refused" fails_with "not a thread count" "$server" 127.0.0.1 0 --threads many
start taken "$server" 127.0.0.1 0 || exit 1
check "a port in use is reported" fails_with "Address already in use" "$server" 127.0.0.1 "$port"
kill "$pid"

finish examples
