#!/usr/bin/env bash
# The tutorial's own PHP programs (tests/tutorial/, its code made runnable)
# with each other and with our example server and client. What the PHP
# programs print is compared exactly with tests/expected/tutorial_*.txt,
# which are written from the tutorial, not from coline (tests/expected/README.md).
#   tutorial_test.sh SERVER CLIENT
set -uo pipefail
server=$1 client=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/script_support.sh"
requires php
within 20 php -m >"$work/php_modules" 2>&1 || skip "php -m fails: $(head -n 1 "$work/php_modules")"
grep -qx sockets "$work/php_modules" || skip "php has no sockets extension"
# PHP's warnings (the tutorial's client gets one when the server closes the
# connection) go to stderr, whatever php.ini says: stdout is the transcript.
php=(php -d display_errors=stderr -d log_errors=0)
tutorial_client=$here/expected/tutorial_client.txt
tutorial_server=$here/expected/tutorial_server.txt

# 1. The tutorial's client and server with each other print the tutorial's
# transcripts: the expected files are the tutorial's. Neither program ends the
# connection (the client waits for another answer), so the client is stopped.
start php_server "${php[@]}" "$here/tutorial/server.php" 0 || exit 1
"${php[@]}" "$here/tutorial/client.php" "$port" >"$work/pair_client.out" 2>"$work/pair_client.err" &
php_client_pid=$!
check "the tutorial's client prints the tutorial's lines" becomes "$work/pair_client.out" "$tutorial_client"
kill "$php_client_pid"
wait_exit "$php_client_pid"
check "the tutorial's server prints the tutorial's lines" becomes "$work/php_server.out" "$tutorial_server"
kill "$pid"
wait_exit "$pid"

# 2. The tutorial's client against our server: it prints the tutorial's lines,
# and ends when the server's stop closes the connection.
start server "$server" 127.0.0.1 0 || exit 1
"${php[@]}" "$here/tutorial/client.php" "$port" >"$work/php_client.out" 2>"$work/php_client.err" &
php_client_pid=$!
check "the tutorial's client gets the tutorial's lines from our server" becomes "$work/php_client.out" "$tutorial_client"
kill -TERM "$pid"
wait_exit "$pid"
check "our server exits 0 on SIGTERM" test "$status" = 0
wait_exit "$php_client_pid"
check "the tutorial's client ends (exit 0) when our server stops" test "$status" = 0
check "... and has printed the tutorial's lines, no more" same "$tutorial_client" "$work/php_client.out"
check "our server printed its lines for the tutorial's client" same "$here/expected/server.txt" "$work/server.out"

# 3. Our client against the tutorial's server: the server prints the tutorial's lines.
start php_server2 "${php[@]}" "$here/tutorial/server.php" 0 || exit 1
within 20 "$client" 127.0.0.1 "$port" >"$work/client.out" 2>&1
check "our client exits 0 with the tutorial's server" test $? -eq 0
check "our client prints its lines with the tutorial's server" same "$here/expected/client.txt" "$work/client.out"
check "the tutorial's server prints the tutorial's lines for our client" becomes "$work/php_server2.out" "$tutorial_server"
kill "$pid"
wait_exit "$pid"

# 4. Our server over --max-clients refuses with "not connect", the line the
# tutorial's client looks for: it prints "Don t connect" and ends.
start limited "$server" 127.0.0.1 0 --max-clients 1 || exit 1
exec 3<>"/dev/tcp/127.0.0.1/$port" # holds the one place
read -r -t 5 greeting <&3
within 20 "${php[@]}" "$here/tutorial/client.php" "$port" >"$work/refused.out" 2>"$work/refused.err"
check "the tutorial's client over --max-clients exits 0" test $? -eq 0
check "... and prints the tutorial's refusal, only" same <(printf 'Don t connect\n') "$work/refused.out"
exec 3<&-
kill -TERM "$pid"
wait_exit "$pid"
check "our server exits 0 on SIGTERM" test "$status" = 0

finish tutorial
