#!/usr/bin/python3
"""Sends the same raw requests to examples/resp_server and to a real Redis, and
compares their replies byte for byte.

  resp_compare.py --list-same               the names of the cases, one a line
  resp_compare.py --list-different          those where we differ from Redis on purpose
  resp_compare.py --different               those, with our reply and the reason
  resp_compare.py --slow-reader PORT        large values being sent while another client
                                            deletes and replaces them arrive whole
  resp_compare.py --announced PORT PID N MIB  N clients announce a 1 MiB bulk string
                                            and send none of it: the server (PID)
                                            grows by less than MIB MiB (VmRSS)
  resp_compare.py OURS REDIS NAME           one case: exit 0 when the replies match
                                            (for a case in DIFFERENT: when ours is
                                            the reply written there; Redis's is
                                            printed, for information)

OURS and REDIS are ports on 127.0.0.1. Each case is a new connection: the bytes
are sent, the sending side is shut (unless the case keeps it open), and
everything is read until the server closes, for at most 10 s. Plain sockets,
no Redis client library, so that malformed input gets through as it is.
Cases run in the order listed against both servers, so the keys that earlier
cases set are the same on both sides.
"""
import random
import re
import socket
import sys
import time


def array(*args):
    """A request as a RESP array of bulk strings."""
    out = b"*%d\r\n" % len(args)
    for arg in args:
        arg = arg.encode() if isinstance(arg, str) else arg
        out += b"$%d\r\n%s\r\n" % (len(arg), arg)
    return out


def junk(seed, size):
    """Bytes a broken client might send: anything but NUL (see DIFFERENT), not starting with '*'."""
    rng = random.Random(seed)
    data = bytes(rng.choice(range(1, 256)) for _ in range(size))
    return b"x" + data + b"\r\n"


# name, bytes, and whether the sending side stays open: then the server must
# close by itself (after a protocol error, or QUIT).
SAME = [
    # Inline commands, as redis-benchmark's ping_inline and telnet send them.
    ("inline ping", b"PING\r\n", False),
    ("inline ping with a bare LF", b"PING\n", False),
    ("inline with extra blanks and a CR inside", b"  PING \t \r\nPING\rhello\r\n", False),
    ("empty lines are no command", b"\r\n\n   \r\nPING\r\n", False),
    ("inline double quotes and escapes",
     b'SET "in line" "a\\x41\\n\\t\\"q\\" \\z"\r\nGET "in line"\r\nECHO \'it\\\'s\'\r\nECHO a"b c"d\r\n', False),
    ("inline unbalanced double quote", b'PING\r\nECHO "abc\r\nPING\r\n', True),
    ("inline unbalanced single quote", b"ECHO 'abc\r\n", True),
    ("inline closing quote followed by a letter", b'ECHO "a"b\r\n', True),
    ("inline vertical tab and form feed", b"ECHO \x0ba\x0bb\x0c\r\nECHO \x0c\"x\"\x0b\r\n", False),
    # Arrays of bulk strings.
    ("array ping", array("PING"), False),
    ("array ping with a message", array("ping", "hello world"), False),
    ("array with an empty bulk", array("ECHO", ""), False),
    ("*0 and *-5 are no command", b"*0\r\n*-5\r\n*-1\r\n" + array("PING"), False),
    ("pipelined commands, one reply each", array("SET", "p1", "v1") + array("GET", "p1") + b"PING\r\n" * 3
     + array("INCR", "p2") + array("INCR", "p2") + array("MGET", "p1", "p2", "p3"), False),
    ("a thousand pipelined pings", b"PING\r\n" * 1000, False),
    ("twenty thousand pipelined commands", (array("INCR", "many") + b"PING\r\n") * 10_000 + array("GET", "many"), False),
    ("a bulk with NUL, CR and LF inside", array("SET", b"bin\x00key", b"a\x00b\r\nc\r\r\n\n")
     + array("GET", b"bin\x00key") + array("ECHO", b"\r\n"), False),
    ("all 256 byte values in a key and a value", array("SET", bytes(range(256)), bytes(range(255, -1, -1)))
     + array("GET", bytes(range(256))) + array("EXISTS", bytes(range(256))), False),
    ("a value of exactly 1 MiB", array("SET", "big", b"v" * 1048576) + array("EXISTS", "big"), False),
    ("a 1 MiB value sent back", array("GET", "big"), False),
    ("a 100 KiB inline command is too big", b"ECHO " + b"w" * 100_000 + b"\r\n", False),
    # Malformed arrays: the error, then the connection closes.
    ("*abc", b"*abc\r\n", True),
    ("* with no count", b"*\r\n", True),
    ("*+1", b"*+1\r\n" + array("PING"), True),
    ("*01", b"*01\r\n$4\r\nPING\r\n", True),
    ("* with a space", b"*1 \r\n$4\r\nPING\r\n", True),
    ("*99999999999999999999 (over long long)", b"*99999999999999999999\r\n", True),
    ("* ended by a bare LF", b"*1\n$4\r\nPING\r\n", True),
    ("$-2", b"*1\r\n$-2\r\n", True),
    ("$-1 in a request", b"*1\r\n$-1\r\n", True),
    ("$99999999999", b"*1\r\n$99999999999\r\n", True),
    ("$abc", b"*1\r\n$abc\r\n", True),
    ("$ with no length", b"*1\r\n$\r\n", True),
    ("$3x", b"*1\r\n$3x\r\nfoo\r\n", True),
    ("$ ended by a bare LF", b"*1\r\n$4\nPING\r\n", True),
    ("missing $: a bulk where its header should be", b"*1\r\nPING\r\n", True),
    ("missing $: an empty line", b"*2\r\n$4\r\nECHO\r\n\r\n", True),
    ("missing $: another array", b"*2\r\n*1\r\n$4\r\nPING\r\n", True),
    ("replies before the error are sent, nothing after it runs",
     array("SET", "before", "1") + b"*1\r\n:5\r\n" + array("SET", "after", "1"), True),
    ("...and the key after it was not set", array("EXISTS", "before", "after"), False),
    ("too big inline request", b"PING " + b"p" * 70_000, False),
    ("too big bulk count string", b"*1\r\n$" + b"1" * 70_000, False),
    ("binary junk (1)", junk(1, 200), False),
    ("binary junk (2)", junk(2, 3000), False),
    ("binary junk (3)", junk(3, 50), False),
    # The end of the stream in the middle of a request: the replies so far, then nothing.
    ("a truncated bulk at the end of the stream", b"PING\r\n" + b"*2\r\n$4\r\nECHO\r\n$5\r\nhel", False),
    ("a truncated header at the end of the stream", b"PING\r\n*2\r\n$4", False),
    ("a truncated array at the end of the stream", b"PING\r\n*3\r\n$3\r\nSET\r\n", False),
    ("a truncated inline command at the end of the stream", b"PING\r\nPIN", False),
    ("a bulk's CRLF missing at the end of the stream", b"*1\r\n$4\r\nPING", False),
    # Commands and their errors.
    ("unknown command", b"FLY\r\nFLY me to the moon\r\n" + array("fly", "a\r\nb"), False),
    ("unknown command with long arguments",
     array("x" * 200, "y" * 100, "z" * 100, "w") + array("FLY", "a" * 120, "b" * 20, "c"), False),
    ("unknown command with a NUL in its name and arguments", array(b"ab\x00cd", b"e\x00f", b"g"), False),
    ("unknown subcommands", array("CONFIG", "FLY") + array("config", "x|y") + array("COMMAND", "FLY", "x"), False),
    ("a subcommand's name as a command", array("config|get", "save"), False),
    ("wrong number of arguments",
     b"".join(array(*a) for a in [("GET",), ("GET", "a", "b"), ("SET", "a"), ("ECHO",), ("ECHO", "a", "b"),
                                   ("INCR",), ("DECR",), ("DECR", "a", "b"), ("INCRBY", "a"), ("INCRBY", "a", "1", "2"), ("DECRBY", "a"), ("DEL",), ("EXISTS",), ("MGET",), ("MSET", "a"), ("MSET", "a", "b", "c"),
                                   ("PING", "a", "b"), ("TTL",), ("PTTL", "a", "b"), ("CONFIG",), ("CONFIG", "GET"),
                                   ("COMMAND", "COUNT", "x"), ("DBSIZE", "x")]), False),
    ("command names in any case", b"pInG\r\n" + array("ECHO", "Case") + array("echo", "case"), False),
    ("SET and GET", array("SET", "k1", "hello") + array("GET", "k1") + array("SET", "k1", "again")
     + array("GET", "k1") + array("GET", "never set"), False),
    ("SET NX and XX", array("SET", "nx", "1", "NX") + array("SET", "nx", "2", "nx") + array("GET", "nx")
     + array("SET", "xx", "1", "XX") + array("SET", "nx", "3", "XX") + array("GET", "nx")
     + array("SET", "nx", "4", "NX", "XX") + array("SET", "nx", "4", "XX", "NX"), False),
    ("SET GET", array("SET", "sg", "1", "GET") + array("SET", "sg", "2", "GET") + array("SET", "sg", "3", "NX", "GET")
     + array("SET", "sg2", "3", "XX", "GET") + array("GET", "sg"), False),
    ("SET syntax errors", array("SET", "a", "b", "FLY") + array("SET", "a", "b", "EX") + array("SET", "a", "b", "EX", "10", "PX", "10")
     + array("SET", "a", "b", "KEEPTTL", "EX", "10") + array("SET", "a", "b", "nx\x00") + array("SET", "a", "b", "nxx"), False),
    ("SET expiry errors", array("SET", "e", "b", "EX", "0") + array("SET", "e", "b", "EX", "-1")
     + array("SET", "e", "b", "PX", "abc") + array("SET", "e", "b", "EX", "9223372036854775807")
     + array("SET", "e", "b", "PX", "9223372036854775807") + array("SET", "e", "b", "EX", "1.5")
     + array("SET", "e", "b", "EX", " 10") + array("EXISTS", "e"), False),
    ("SET EX, PX, EXAT in the past, KEEPTTL", array("SET", "t1", "v", "EX", "1000") + array("TTL", "t1")
     + array("SET", "t2", "v", "PX", "1000000") + array("TTL", "t2") + array("SET", "t3", "v", "EXAT", "1")
     + array("GET", "t3") + array("SET", "t1", "w", "KEEPTTL") + array("TTL", "t1") + array("SET", "t1", "x")
     + array("TTL", "t1") + array("TTL", "nothing here"), False),
    ("SET options repeated", array("SET", "r", "v", "EX", "10", "EX", "2000") + array("TTL", "r")
     + array("SET", "r", "v", "NX", "NX") + array("SET", "r", "v", "KEEPTTL", "KEEPTTL", "XX") + array("TTL", "r"), False),
    ("INCR", array("INCR", "n") + array("INCR", "n") + array("SET", "n", "41") + array("INCR", "n")
     + array("SET", "n", "-5") + array("INCR", "n"), False),
    ("INCR errors", array("SET", "n2", "abc") + array("INCR", "n2") + array("SET", "n2", "01") + array("INCR", "n2")
     + array("SET", "n2", " 1") + array("INCR", "n2") + array("SET", "n2", "9223372036854775807") + array("INCR", "n2")
     + array("SET", "n2", "-9223372036854775808") + array("INCR", "n2") + array("SET", "n2", "99999999999999999999")
     + array("INCR", "n2"), False),
    ("INCRBY, DECR and DECRBY", array("INCRBY", "ib", "5") + array("INCRBY", "ib", "-12") + array("DECR", "ib")
     + array("DECR", "ib2") + array("DECRBY", "ib", "3") + array("DECRBY", "ib", "-100") + array("INCRBY", "ib", "0")
     + array("GET", "ib") + array("incrby", "ib3", "9223372036854775807") + array("decrby", "ib4", "9223372036854775807"),
     False),
    ("INCRBY, DECR and DECRBY errors", array("SET", "ib5", "abc") + array("INCRBY", "ib5", "1") + array("DECR", "ib5")
     + array("DECRBY", "ib5", "1") + array("INCRBY", "ib6", "abc") + array("INCRBY", "ib5", "x") + array("DECRBY", "ib6", " 1")
     + array("INCRBY", "ib6", "1.5") + array("INCRBY", "ib6", "99999999999999999999")
     + array("DECRBY", "ib6", "-9223372036854775808") + array("SET", "ib7", "9223372036854775800")
     + array("INCRBY", "ib7", "8") + array("INCRBY", "ib7", "7") + array("DECRBY", "ib7", "-1")
     + array("SET", "ib8", "-9223372036854775800") + array("DECRBY", "ib8", "9") + array("DECRBY", "ib8", "8")
     + array("DECR", "ib8") + array("INCRBY", "ib8", "-1") + array("GET", "ib8") + array("EXISTS", "ib6"), False),
    # Transactions, as redis-py's pipeline() sends them by default.
    ("MULTI and EXEC: queued, then the array of replies", array("MULTI") + array("SET", "tx1", "a")
     + array("INCR", "tx2") + array("GET", "tx1") + array("MGET", "tx1", "tx2") + array("EXEC") + array("GET", "tx1"),
     False),
    ("an empty transaction, DISCARD, and the errors outside one", array("MULTI") + array("EXEC") + array("EXEC")
     + array("DISCARD") + array("MULTI") + array("SET", "tx3", "b") + array("DISCARD") + array("GET", "tx3")
     + array("MULTI", "x") + array("EXEC", "x") + array("DISCARD", "x"), False),
    ("errors inside a transaction: nested MULTI, and a bad command that aborts EXEC", array("MULTI") + array("MULTI")
     + array("SET", "tx4", "c") + array("EXEC") + array("GET", "tx4") + array("MULTI") + array("SET", "tx5", "d")
     + array("NOSUCHCOMMAND") + array("EXEC") + array("GET", "tx5") + array("MULTI") + array("GET") + array("SET", "tx5", "e")
     + array("EXEC") + array("GET", "tx5"), False),
    ("errors at run time inside EXEC are each command's own", array("SET", "tx6", "abc") + array("MULTI")
     + array("INCR", "tx6") + array("SET", "tx7", "1") + array("INCR", "tx7") + array("EXEC") + array("PING"), False),
    ("DECR and INCRBY keep the expiry time", array("SET", "ib9", "1", "EX", "1000") + array("DECR", "ib9")
     + array("INCRBY", "ib9", "10") + array("DECRBY", "ib9", "2") + array("TTL", "ib9") + array("GET", "ib9"), False),
    ("INCR keeps the expiry time", array("SET", "n3", "1", "EX", "1000") + array("INCR", "n3") + array("TTL", "n3"), False),
    ("DEL and EXISTS", array("MSET", "d1", "1", "d2", "2") + array("EXISTS", "d1", "d2", "d3", "d1")
     + array("DEL", "d1", "d1", "d3") + array("EXISTS", "d1", "d2") + array("DEL", "d1"), False),
    ("MSET and MGET", array("MSET", "m1", "a", "m2", "b", "m1", "c") + array("MGET", "m1", "m2", "m3", "m1")
     + array("MSET", "m2", "x", "EX", "10") + array("MGET", "m2", "EX"), False),
    ("MSET removes the expiry time", array("SET", "m4", "a", "EX", "100") + array("MSET", "m4", "b") + array("TTL", "m4"), False),
    ("ECHO and PING with binary", array("ECHO", b"\xff\x00\xfe") + array("PING", b"\x00"), False),
    ("CONFIG GET, as redis-benchmark asks", array("CONFIG", "GET", "save") + array("CONFIG", "GET", "appendonly")
     + array("CONFIG", "GET", "no-such-setting"), False),
    ("QUIT: OK, then the connection closes", b"QUIT\r\nPING\r\n", True),
    ("quit with arguments", array("quit", "now"), True),
    ("an HTTP request is closed in silence", b"POST / HTTP/1.1\r\nHost: x\r\n\r\n", True),
    ("Host: is closed in silence", b"PING\r\nHost: example.com\r\n", True),
]

# Cases where ours differs from Redis on purpose: name, bytes, keep open, our
# reply, why. Printed for the documentation with `--different`.
DIFFERENT = [
    ("a bulk not followed by CRLF", array("PING")[:-2] + b"xx" + b"PING\r\n",
     True, b"-ERR Protocol error: bulk string not followed by CRLF\r\n",
     "Redis does not check the 2 bytes after a bulk string: it skips them, whatever they are, and runs "
     "the command (+PONG here, twice)."),
    ("a bulk over our 1 MiB limit", b"*1\r\n$1048577\r\n", True,
     b"-ERR Protocol error: invalid bulk length\r\n",
     "Our limit is 1 MiB, Redis's proto-max-bulk-len 512 MB: Redis waits for the bytes."),
    ("an array over our 1 Mi arguments", b"*1048577\r\n", True,
     b"-ERR Protocol error: invalid multibulk length\r\n",
     "Our limit is 1024*1024 arguments (Redis 6's), Redis 7's INT_MAX: Redis waits for them."),
    ("a request over our 4 MiB", b"*5\r\n" + (b"$1048576\r\n" + b"v" * 1048576 + b"\r\n") * 4, True,
     b"-ERR Protocol error: too big request\r\n",
     "Redis has no limit on a request's size below client-query-buffer-limit (1 GB), which closes the "
     "connection without a reply."),
    ("a transaction over our 4 MiB", array("MULTI") + array("SET", "txbig", b"v" * 1048576) * 5 + array("EXEC")
     + array("GET", "txbig"), False,
     b"+OK\r\n" + b"+QUEUED\r\n" * 3 + b"-ERR transaction too big: its commands are over the request limit\r\n" * 2
     + b"-EXECABORT Transaction discarded because of previous errors.\r\n$-1\r\n",
     "What MULTI queues counts as one request, within the same 4 MiB, so that a client cannot pin more "
     "memory by queueing; Redis queues without a limit below client-query-buffer-limit."),
    ("a header of over 64 KiB starting with *", b"*" + b"1" * 70_000, False,
     b"-ERR Protocol error: too big inline request\r\n",
     "Redis says \"too big mbulk count string\": it names the line by its first byte, which coline's "
     "read_line drops with the rest of a line over the limit."),
    ("a header with a CR inside", b"*1\rX$4\r\nPING\r\n", True,
     b"-ERR Protocol error: invalid multibulk length\r\n",
     "Redis ends a header at its first CR and skips the byte after it, whatever it is (here it runs "
     "PING); ours reads lines, which end at LF, and \"1\\rX\" is no number."),
    ("a NUL in an inline command", b"ECHO a\x00b\r\n", False, b"$3\r\na\x00b\r\n",
     "Redis looks for the end of an inline command (and of a header) with strchr(), which stops at "
     "NUL: it never sees the line and waits for more input, here until the end of the stream (no reply)."),
    ("HELLO", array("HELLO", "3"), False,
     b"-ERR unknown command 'HELLO', with args beginning with: '3' \r\n",
     "Not implemented (RESP2 only): redis-cli and client libraries fall back to RESP2."),
]


def exchange(port, data, keep_open):
    """Sends data, then reads until the server closes: (reply bytes, how it ended)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        try:
            sock.sendall(data)
            if not keep_open:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server closed first (a protocol error): read what it sent
        reply = b""
        try:
            while True:
                chunk = sock.recv(1 << 16)
                if not chunk:
                    return reply, "closed"
                reply += chunk
        except ConnectionResetError:
            return reply, "reset"
        except socket.timeout:
            return reply, "still open after 10 s"
    finally:
        sock.close()


def read_reply(sock, buffer):
    """One bulk-string reply from sock (buffer: bytes already received): (value
    or None for a nil, rest of buffer)."""
    while b"\r\n" not in buffer:
        buffer += sock.recv(1 << 20) or (_ for _ in ()).throw(EOFError("closed"))
    header, buffer = buffer.split(b"\r\n", 1)
    assert header.startswith(b"$"), header
    length = int(header[1:])
    if length == -1:
        return None, buffer
    while len(buffer) < length + 2:
        buffer += sock.recv(1 << 20) or (_ for _ in ()).throw(EOFError("closed"))
    return buffer[:length], buffer[length + 2:]


def slow_reader(port):
    """A client asks for a 1 MiB value 20 times and reads nothing until the
    server has begun to answer: 20 MiB cannot all fit in the sockets' buffers,
    so the server is in the middle of sending one of those values (straight
    from the store) when another client deletes the key, sets another of the
    same size (likely to reuse the memory of a value freed too soon) and sets
    the key anew.
    Every reply must then be one value or the other, whole: the old ones first,
    then nils (while the new value arrives), then new ones."""
    old, new = b"o" * 1048576, b"n" * 1048576
    with socket.create_connection(("127.0.0.1", port), timeout=10) as other:
        other.sendall(array("SET", "slow", old))
        assert other.recv(100) == b"+OK\r\n"
        with socket.create_connection(("127.0.0.1", port), timeout=10) as reader:
            reader.sendall(array("GET", "slow") * 20)
            reader.recv(1, socket.MSG_PEEK)  # the first GET has run: its reply has begun
            other.sendall(array("DEL", "slow") + array("SET", "filler", b"f" * 1048576) + array("SET", "slow", new))
            buffer = b""
            while len(buffer) < 14:
                buffer += other.recv(100)
            assert buffer == b":1\r\n+OK\r\n+OK\r\n", buffer
            values, buffer = [], b""
            for _ in range(20):
                value, buffer = read_reply(reader, buffer)
                values.append(value)
    kinds = "".join("o" if v == old else "-" if v is None else "n" if v == new else "?" for v in values)
    print(f"  replies: {kinds} (o: the value before, -: nil, n: the value after)", file=sys.stderr)
    return 0 if re.fullmatch("o+-*n*", kinds) else 1


def kib(pid, field):
    """VmRSS or VmHWM of a process, in KiB."""
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


def unread_by_server(port):
    """For each connection the server on port has (accepted or not): the bytes
    it has not read yet, from the kernel's table (/proc/net/tcp, IPv4)."""
    queues = []
    with open("/proc/net/tcp") as table:
        for line in list(table)[1:]:
            fields = line.split()
            local, state, queue = fields[1], fields[3], fields[4]
            if state == "01" and int(local.split(":")[1], 16) == port:  # ESTABLISHED, on the server's side
                queues.append(int(queue.split(":")[1], 16))
    return queues


def announced(port, pid, clients, most_mib):
    """Each of `clients` connections announces a 1 MiB bulk string (30 bytes
    sent) and sends nothing more. Once the server has read them all (the
    kernel's receive queues are empty: no timing guess), its VmRSS must have
    grown by less than most_mib MiB: memory follows the bytes that arrived,
    not the length announced. Then one of them sends its megabyte in small
    pieces, and gets it back whole."""
    header = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048576\r\n"
    before = kib(pid, "VmRSS")
    socks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(clients)]
    try:
        for sock in socks:
            sock.sendall(header)
        deadline = time.monotonic() + 30
        while True:
            queues = unread_by_server(port)
            if len(queues) >= clients and not any(queues):
                break
            if time.monotonic() > deadline:
                print(f"  the server did not read the headers: {len(queues)} connections, "
                      f"{sum(queues)} bytes unread", file=sys.stderr)
                return 1
            time.sleep(0.05)
        after = kib(pid, "VmRSS")
        print(f"  {clients} clients announcing 1 MiB each: VmRSS {before} kB before, {after} kB after "
              f"(+{(after - before) / 1024:.1f} MiB, limit {most_mib} MiB)", file=sys.stderr)
        value = random.Random(5).randbytes(1048576)
        for at in range(0, len(value), 1000):  # small sends: the value arrives in many pieces
            socks[0].sendall(value[at:at + 1000])
        socks[0].sendall(b"\r\n" + array("GET", "k"))
        expected, reply = b"+OK\r\n$1048576\r\n" + value + b"\r\n", b""
        while len(reply) < len(expected):
            reply += socks[0].recv(1 << 20) or (_ for _ in ()).throw(EOFError("closed"))
        if reply != expected:
            print(f"  the value sent in pieces came back otherwise: {reply[:100]!r}", file=sys.stderr)
            return 1
    finally:
        for sock in socks:
            sock.close()
    return 0 if after - before < most_mib * 1024 else 1


def main():
    if sys.argv[1:] in (["--list-same"], ["--list-different"]):
        for case in SAME if sys.argv[1] == "--list-same" else DIFFERENT:
            print(case[0])
        return 0
    if sys.argv[1:2] == ["--slow-reader"]:
        return slow_reader(int(sys.argv[2]))
    if sys.argv[1:2] == ["--announced"]:
        return announced(*map(int, sys.argv[2:6]))
    if sys.argv[1:] == ["--different"]:
        for name, _, _, ours, why in DIFFERENT:
            print(f"- {name}: ours {ours!r}. {why}")
        return 0
    ours_port, redis_port, name = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    for case_name, data, keep_open in SAME:
        if case_name == name:
            ours, ours_end = exchange(ours_port, data, keep_open)
            theirs, their_end = exchange(redis_port, data, keep_open)
            if ours == theirs and "still open" not in ours_end + their_end:
                return 0
            print(f"  ours  ({ours_end}): {ours[:600]!r}", file=sys.stderr)
            print(f"  Redis ({their_end}): {theirs[:600]!r}", file=sys.stderr)
            return 1
    for case_name, data, keep_open, expected, _ in DIFFERENT:
        if case_name == name:
            ours, ours_end = exchange(ours_port, data, keep_open)
            theirs, their_end = exchange(redis_port, data, False)  # Redis may wait for more: end the stream
            print(f"  {name}: Redis replies ({their_end}) {theirs[:200]!r}", file=sys.stderr)
            if ours == expected and "still open" not in ours_end:
                return 0
            print(f"  ours ({ours_end}): {ours[:600]!r}, expected {expected!r}", file=sys.stderr)
            return 1
    print(f"no case named {name!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
