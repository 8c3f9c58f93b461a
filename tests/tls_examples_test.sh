#!/usr/bin/env bash
# Runs the TLS example pair the way examples/README.md says, with a throwaway
# certificate made here by the openssl tool (no key is committed).
#   tls_examples_test.sh TLS_SERVER TLS_CLIENT STARTTLS_SERVER
set -uo pipefail
server=$1 client=$2 starttls=$3
source "$(dirname "$0")/script_support.sh"
requires openssl nc mkfifo
check "tls_server --help prints its usage" prints_usage "$server" tls_server
check "tls_client --help prints its usage" prints_usage "$client" tls_client
check "starttls_server --help prints its usage" prints_usage "$starttls" starttls_server

certificate() { # name, subjectAltName
    within 30 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=$1" \
        -addext "subjectAltName=$2" -keyout "$work/$1.key" -out "$work/$1.pem" 2>/dev/null
}
certificate localhost DNS:localhost,IP:127.0.0.1 || { echo "FAILED: openssl could not make a certificate"; exit 1; }
certificate stranger DNS:stranger.test

start server "$server" 127.0.0.1 0 "$work/localhost.pem" "$work/localhost.key" || exit 1
server_pid=$pid

within 20 "$client" localhost "$port" "$work/localhost.pem" >"$work/client.out" 2>&1
check "tls_client exits 0" test $? -eq 0
check "tls_client prints the tutorial's answer" same <(printf '%s\n' "Buffer Data: Connect" \
    "sent to Server:SOME data response from server is:Information received") "$work/client.out"

within 20 "$client" 127.0.0.1 "$port" "$work/localhost.pem" one two >"$work/ip.out" 2>&1
check "tls_client by IP address, two lines" test "$(grep -c 'Information received' "$work/ip.out")" -eq 2

within 20 "$client" localhost "$port" "$work/stranger.pem" >"$work/untrusted.out" 2>&1
check "a client that does not trust the server's certificate exits 2" test $? -eq 2
check "... and says certificate verify failed" contains "$work/untrusted.out" "certificate verify failed"

check "... and the server logs the client's alert" \
    wait_for_text "$work/server.err" "client dropped: coline::server: opening the connection: tlsv1 alert unknown ca"
printf 'SOME data\n' | within 10 nc -N 127.0.0.1 "$port" >/dev/null 2>&1
check "a plain-text client is a handshake error on the server" \
    wait_for_text "$work/server.err" "opening the connection: wrong version number"
within 20 "$client" localhost "$port" "$work/localhost.pem" >/dev/null 2>&1
check "the server still serves after failed handshakes" test $? -eq 0

check "tls_server logged the lines it got" test "$(grep -c '^Buffer: SOME data$' "$work/server.out")" -eq 2

# SIGTERM with a client connected mid-session: it gets its answers and the server's close_notify
# (openssl s_client ends then), the server exits 0.
mkfifo "$work/s_client.in"
openssl s_client -quiet -CAfile "$work/localhost.pem" -connect "localhost:$port" \
    <"$work/s_client.in" >"$work/s_client.out" 2>"$work/s_client.err" &
s_client_pid=$!
exec 3>"$work/s_client.in"
send 3 third fourth
wait_for_text "$work/server.out" "Buffer: fourth"
kill -TERM "$server_pid"
wait_exit "$server_pid"
check "tls_server exits 0 on SIGTERM" test "$status" = 0
wait_exit "$s_client_pid"
check "the connected client ends with the server" test "$status" != timeout
check "... after both answers" same <(printf 'Connect\nInformation received\nInformation received\n') "$work/s_client.out"
check "... and the server's close_notify" not grep -q "unexpected eof" "$work/s_client.err"
exec 3>&-

# --max-clients: a client over the limit is closed before its handshake.
start limited "$server" 127.0.0.1 0 "$work/localhost.pem" "$work/localhost.key" --max-clients 1 || exit 1
exec 4<>"/dev/tcp/127.0.0.1/$port" # in its handshake: it holds the one place
within 20 "$client" localhost "$port" "$work/localhost.pem" >"$work/refused.out" 2>&1
check "a client over --max-clients fails its handshake" test $? -eq 2
check "... at the end of the stream" contains "$work/refused.out" "stream truncated"
exec 4<&-
served() { within 10 "$client" localhost "$port" "$work/localhost.pem" >/dev/null 2>&1; }
check "... and once the place is free, a client is served" poll 20 served
kill -INT "$pid"
wait_exit "$pid"
check "tls_server exits 0 on SIGINT" test "$status" = 0
check "a bad --max-clients is refused" \
    fails_with "tls_server: not a client count" "$server" 127.0.0.1 0 "$work/localhost.pem" "$work/localhost.key" --max-clients x

# STARTTLS: the exchange in clear, the upgrade, the exchange over TLS; then SIGTERM while the
# upgraded client is idle: it must see the server's close_notify at once (the grace period is 10 s).
start starttls "$starttls" 127.0.0.1 0 "$work/localhost.pem" "$work/localhost.key" || exit 1
starttls_pid=$pid
/usr/bin/python3 - "$port" "$work/localhost.pem" "$starttls_pid" >"$work/starttls.out" 2>&1 <<'PY'
import os, signal, socket, ssl, sys, time
port, cafile, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
sock = socket.create_connection(("127.0.0.1", port), timeout=10)
lines = sock.makefile("rb")
print(lines.readline().decode().rstrip())
sock.sendall(b"SOME data\nSTARTTLS\n")
print(lines.readline().decode().rstrip())
print(lines.readline().decode().rstrip())
tls = ssl.create_default_context(cafile=cafile).wrap_socket(sock, server_hostname="localhost")
tls.sendall(b"SOME data\n")
print(tls.recv(100).decode().rstrip())
began = time.monotonic()
os.kill(pid, signal.SIGTERM)
try:
    end = tls.recv(100)
    tls.unwrap()  # succeeds only after the server's close_notify
    print("end", repr(end), "close_notify")
except (ssl.SSLError, OSError) as e:
    print("end without close_notify:", e)
print("seconds to the end:", round(time.monotonic() - began, 2))
PY
check "starttls_server: the exchange in clear, then over TLS, then close_notify at the stop" \
    same <(printf '%s\n' Connect "Information received" "OK go ahead" "Information received" "end b'' close_notify") \
    <(sed '$d' "$work/starttls.out")
check "... at once ($(sed -n '$s/.*: //p' "$work/starttls.out") s), not at the 10 s grace" \
    /usr/bin/python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 1.0 else 1)' "$(sed -n '$s/.*: //p' "$work/starttls.out")"
wait_exit "$starttls_pid"
check "starttls_server exits 0 on SIGTERM" test "$status" = 0

finish "tls examples"
