#!/usr/bin/env bash
# Runs examples/memcache_server against real memcached clients (memccapable,
# pymemcache) and against memcached itself (the same raw requests to both,
# replies compared byte for byte), then long get lines and bad input. Every
# server runs on a loopback port the kernel picks, and is stopped by its PID.
#   memcache_test.sh SERVER
set -uo pipefail
server=$1
here=$(cd "$(dirname "$0")" && pwd)
source "$here/script_support.sh"
requires nc memcached memccapable python3 /usr/bin/python3
check "memcache_server --help prints its usage" prints_usage "$server" memcache_server
/usr/bin/python3 -c 'import pymemcache' 2>/dev/null || skip "pymemcache is not installed (python3-pymemcache)"

stops_on_sigterm() { # pid
    kill -TERM "$1"
    wait_exit "$1"
    test "$status" = 0
}
peak_rss_kb() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$1/status"; }
indented() { sed 's/^/    /' "$1"; } # a helper's own ok:/FAILED: lines, shown under our check

# 1. memccapable (libmemcached's memcapable): every ASCII test.
start capable "$server" 127.0.0.1 0 || exit 1
within 120 memccapable -a -h 127.0.0.1 -p "$port" -t 10 >"$work/memccapable.out" 2>&1
check "memccapable -a exits 0" test $? -eq 0
check "memccapable passes every ASCII test" contains "$work/memccapable.out" "All tests passed"
check "no memccapable test FAILED" not grep -q FAIL "$work/memccapable.out"
check "memccapable ran its 27 ASCII tests" test "$(grep -c '\[pass\]' "$work/memccapable.out")" -eq 27

# 2. pymemcache: odd values (CRLF, NUL, empty, 1 MB of random bytes), every command.
within 120 /usr/bin/python3 "$here/memcache_clients.py" "$port" >"$work/clients.out" 2>&1
check "pymemcache's checks all pass" test $? -eq 0
indented "$work/clients.out"
check "the server exits 0 on SIGTERM" stops_on_sigterm "$pid"

# 3. The same raw requests to memcached and to ours, both started afresh (the
# cas uniques depend on what came before). memcached picks its port (-p -1)
# and writes it to MEMCACHED_PORT_FILENAME, after dropping root's rights when
# run as root: hence a folder it may write to.
mkdir "$work/memcached" && chmod 777 "$work/memcached" && chmod o+x "$work"
as_user=()
[ "$(id -u)" = 0 ] && as_user=(-u nobody)
MEMCACHED_PORT_FILENAME="$work/memcached/port" memcached -U 0 -l 127.0.0.1 -p -1 -t 1 "${as_user[@]}" \
    >"$work/memcached.out" 2>&1 &
memcached_pid=$!
if ! poll 20 test -s "$work/memcached/port"; then
    echo "memcached did not start: $(cat "$work/memcached.out")" >&2
    exit 1
fi
memcached_port=$(sed -n 's/^TCP INET: //p' "$work/memcached/port")
start compared "$server" 127.0.0.1 0 || exit 1
within 300 python3 "$here/memcache_compare.py" "$port" "$memcached_port" >"$work/compare.out" 2>&1
check "memcached and ours answer alike, or differ as documented" test $? -eq 0
indented "$work/compare.out"
kill "$memcached_pid"
wait_exit "$memcached_pid"
check "the server exits 0 on SIGTERM after the comparison" stops_on_sigterm "$pid"

# 4. Long get lines (memcslap -t mget sends 1.85 MB ones): answered key by
# key as they arrive, in the input buffer's 4 KiB, while the client reads.
# long_get.py PORT KEYS REPEATS STORE: sends "get k1 ... kKEYS" (the keys REPEATS times)
cat >"$work/long_get.py" <<'EOF'
import socket, sys, threading
port, count, repeats, store = map(int, sys.argv[1:])
keys = [b"k%d" % i for i in range(1, count + 1)]
stored = keys[9::10]  # k10, k20, ...: the value of each is its key
sock = socket.create_connection(("127.0.0.1", port), timeout=60)
if store:
    sock.sendall(b"".join(b"set %s 0 0 %d noreply\r\n%s\r\n" % (k, len(k), k) for k in stored))
line = b"get " + b" ".join(keys * repeats) + b"\r\n"
expected = b"".join(b"VALUE %s 0 %d\r\n%s\r\n" % (k, len(k), k) for k in stored) * repeats + b"END\r\n"
threading.Thread(target=sock.sendall, args=(line,), daemon=True).start()  # we read while it sends
reply = bytearray()
while len(reply) < len(expected):
    data = sock.recv(1 << 16)
    if not data:
        break
    reply += data
print("a get line of %d bytes: %d bytes of reply, %d expected" % (len(line), len(reply), len(expected)))
sys.exit(0 if reply == expected else 1)
EOF
start long "$server" 127.0.0.1 0 || exit 1
within 120 python3 "$work/long_get.py" "$port" 50000 1 1 >"$work/long_get.out" 2>&1
check "get k1 ... k50000 (343 KB): a VALUE for each key stored, then END" test $? -eq 0
indented "$work/long_get.out"
before=$(peak_rss_kb "$pid")
within 120 python3 "$work/long_get.py" "$port" 50000 30 0 >"$work/long_get10.out" 2>&1
check "a get line of 10 MB is answered alike (150000 values)" test $? -eq 0
indented "$work/long_get10.out"
after=$(peak_rss_kb "$pid")
echo "    peak RSS: $before kB before the 10 MB line, $after kB after"
# Holding the line would take 10 MB or more; 8 MB leaves room for a build with
# ASan, whose quarantine keeps the memory of the replies sent (4 MB here).
check "the 10 MB line did not raise the peak RSS by 8 MB" test "$before" -gt 0 -a "$((after - before))" -lt 8192

# 5. Bad input, with nc as the client; another client stays connected throughout.
exec 3<>"/dev/tcp/127.0.0.1/$port"
ask() { within 10 nc -N 127.0.0.1 "$port"; } # the request on stdin; the reply to stdout
printf 'set a 0 0 3\r\nhello\r\nget a\r\n' | ask >"$work/chunk.nc"
check "a block longer than announced: CLIENT_ERROR bad data chunk" \
    same <(printf 'CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n') "$work/chunk.nc"
{ printf 'set big 0 0 1048577\r\n'; head -c 1048577 /dev/zero; printf '\r\nset small 0 0 2\r\nok\r\nget big small\r\n'; } |
    ask >"$work/too_large.nc"
check "a block over 1 MiB: SERVER_ERROR, its bytes skipped, and the connection goes on" \
    same <(printf 'SERVER_ERROR object too large for cache\r\nSTORED\r\nVALUE small 0 2\r\nok\r\nEND\r\n') "$work/too_large.nc"
printf 'set huge 0 0 2147483645\r\nabc' | ask >"$work/huge.nc"
check "a block of 2 GB announced: refused before any allocation, then the end of the stream" \
    same <(printf 'SERVER_ERROR object too large for cache\r\n') "$work/huge.nc"
printf 'set cut 0 0 100\r\nonly part of it' | ask >"$work/truncated.nc"
check "a block cut off by the end of the stream: no answer" test ! -s "$work/truncated.nc"
{ printf 'set %s' "$(head -c 3000 /dev/zero | tr '\0' k)"; printf ' 0 0 1\r\nx\r\nget a\r\n'; } | ask >"$work/too_long.nc"
check "a command line over 2048 bytes: CLIENT_ERROR line too long, then the close" \
    same <(printf 'CLIENT_ERROR line too long\r\n') "$work/too_long.nc"
# memcached's binary protocol (memccapable -b): a NOOP request's 24-byte header,
# the sending side left open. The code before answered ERROR to the "\x80\n" it
# begins with (NOOP's opcode is 0x0a), then waited for more with the connection open.
python3 - "$port" <<'EOF' >"$work/binary.out" 2>&1
import socket, sys
sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
sock.sendall(bytes([0x80, 0x0a]) + bytes(22))
reply = bytearray()
try:
    while data := sock.recv(1 << 16):
        reply += data
except socket.timeout:
    reply += b"<no close within 10 s>"
print(repr(bytes(reply)))
EOF
check "a binary-protocol request: CLIENT_ERROR, then the close" \
    same <(echo "b'CLIENT_ERROR binary protocol is not supported\\r\\n'") "$work/binary.out"
check "the server is still running" kill -0 "$pid"
printf 'get k10 cut\r\n' >&3
within 10 head -c 25 <&3 >"$work/connected.out"
check "the client connected throughout is still served, and nothing was stored for the cut block" \
    same <(printf 'VALUE k10 0 3\r\nk10\r\nEND\r\n') "$work/connected.out"
check "the server exits 0 on SIGTERM with a client connected" stops_on_sigterm "$pid"
exec 3<&-

# 6. The command line.
check "-m 1 is refused" fails_with "not a memory limit in megabytes (2 to 1048576)" "$server" 127.0.0.1 0 -m 1
check "a bad port is refused" fails_with "not a port number" "$server" 127.0.0.1 70000
start small "$server" 127.0.0.1 0 -m 2 || exit 1
python3 - "$port" <<'EOF' >"$work/evict.out" 2>&1
import socket, sys
sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
value = b"v" * 100_000
sock.sendall(b"".join(b"set e%d 0 0 %d\r\n%s\r\n" % (i, len(value), value) for i in range(100)) + b"get e0 e99\r\nstats\r\nquit\r\n")
reply = bytearray()
while data := sock.recv(1 << 16):
    reply += data
print(reply.count(b"STORED\r\n"), b"VALUE e0 " in reply, b"VALUE e99 " in reply, b"STAT evictions 0\r\n" in reply)
EOF
check "-m 2: 10 MB of values stored in 2 MiB, the oldest evicted" same <(echo "100 False True False") "$work/evict.out"
check "the small server exits 0 on SIGTERM" stops_on_sigterm "$pid"

finish memcache
