#!/usr/bin/env python3
"""Sends the same raw requests to memcached and to examples/memcache_server and
compares the replies byte for byte.

    memcache_compare.py OUR_PORT MEMCACHED_PORT

Each case is one connection: the request is sent whole, the sending side is
then shut down, and the reply is everything read until the server closes
(every wait bounded). The cases run in order on both servers, so the state
they leave (items, cas uniques) is the same on both. Cases where the two
answer differently on purpose list what each answers, and why.

Prints ok:/FAILED: per case and a summary line; exits 1 on any failure.
"""
import random
import socket
import sys
import threading
import time

HOST = "127.0.0.1"
LIMIT = 20  # seconds for one exchange


def exchange(port, request):
    """The bytes a server sends back for `request` (or request(port)), until it closes."""
    if callable(request):
        request = request(port)
    sock = socket.create_connection((HOST, port), timeout=LIMIT)

    def send():  # a thread of its own, so that a large request never waits on our reading
        try:
            sock.sendall(request)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server closed first: what it sent is the result

    sender = threading.Thread(target=send)
    sender.start()
    reply = bytearray()
    deadline = time.monotonic() + LIMIT
    try:
        while time.monotonic() < deadline:
            data = sock.recv(1 << 16)
            if not data:
                break
            reply += data
        else:
            reply += b"<no end within %d s>" % LIMIT
    except socket.timeout:
        reply += b"<no end within %d s>" % LIMIT
    except ConnectionResetError:
        pass  # a close with our bytes unread: the reply is what came before
    sender.join(LIMIT)
    sock.close()
    return bytes(reply)


k251 = b"k" * 251
k250 = b"k" * 250
big = random.Random(7).randbytes(2_000_000)


def junk(seed, size):
    """Random bytes cut into lines: unknown commands only, whatever the seed."""
    data = bytearray(random.Random(seed).randbytes(size))
    for i in range(0, size, 97):
        data[i] = ord("\n")
    return bytes(data)


def long_get(keys, last=b""):
    return b"get " + b" ".join(keys) + last + b"\r\n"


# (name, request): both servers must answer alike.
SAME = [
    ("set and get", b"set c1 0 0 5\r\nhello\r\nget c1\r\nget c1 c1 nothere\r\n"),
    ("add, replace, append, prepend",
     b"add c2 1 0 1\r\na\r\nadd c2 2 0 1\r\nb\r\nreplace c2x 0 0 1\r\nx\r\nreplace c2 3 0 2\r\nbb\r\n"
     b"append c2 9 0 2\r\ncc\r\nprepend c2 9 0 2\r\naa\r\nappend c2x 0 0 1\r\nx\r\nprepend c2x 0 0 1\r\nx\r\n"
     b"get c2 c2x\r\n"),
    ("gets and cas", b"set c3 0 0 1\r\na\r\ngets c3\r\ncas c3 0 0 1 999999\r\nb\r\ncas c3x 0 0 1 1\r\nb\r\n"
     b"gets c3\r\n"),
    ("cas with the unique gets gave", lambda port: b"cas c3 7 0 2 %d\r\nok\r\ngets c3\r\ncas c3 0 0 1 0\r\nz\r\n"
     % int(exchange(port, b"gets c3\r\n").split(b"\r\n")[0].split()[4])),
    ("values with CRLF, NUL and nothing", b"set c4 0 0 6\r\na\r\nb\0c\r\nset c5 0 0 0\r\n\r\nget c4 c5\r\n"),
    ("flags", b"set c6 4294967295 0 1\r\nx\r\nset c7 0 0 1\r\ny\r\ngets c6 c7\r\n"),
    ("a big value", b"set c8 0 0 1000000\r\n" + big[:1_000_000] + b"\r\nget c8\r\n"),
    ("not commands", b"\r\n\n   \r\nx\r\nGET c1\r\nbogus command\r\nge\r\nget\r\ngets\r\nset\r\nset c9\r\n"
     b"set c9 0 0\r\nset c9 0 0 1 noreply extra\r\nincr\r\nincr c9\r\ntouch c9\r\ndelete\r\n"),
    ("binary junk", junk(1, 3000) + b"\r\n"),
    ("NUL bytes where a command is", b"\0\0\0\r\n\0get c1\r\nget\0 c1\r\n"),
    ("bad numbers", b"set c10 x 0 1\r\na\r\nset c10 0 x 1\r\na\r\nset c10 0 0 x\r\na\r\nset c10 -1 0 1\r\na\r\n"
     b"cas c10 0 0 1 x\r\na\r\nget c10\r\n"),
    ("negative and enormous lengths", b"set c11 0 0 -1\r\nhello\r\nset c11 0 0 99999999999999999999\r\nhello\r\n"
     b"set c11 0 0 2147483646\r\nhello\r\nset c11 0 0 2147483648\r\nhello\r\nget c11\r\n"),
    ("block shorter than announced", b"set c12 0 0 3\r\nhello\r\nget c12\r\n"),
    ("block longer than announced", b"set c12 0 0 7\r\nhello\r\nget c12\r\n"),
    ("block ended by LF alone", b"set c12 0 0 5\r\nhello\nget c12\r\n"),
    ("block with its CRLF missing", b"set c12 0 0 5\r\nhelloXYget c12\r\n"),
    ("value over the item limit, then the connection goes on",
     b"set c13 0 0 1\r\nx\r\nset c13 0 0 2000000\r\n" + big + b"\r\nget c13\r\n"),
    ("key of 250 bytes", b"set " + k250 + b" 0 0 1\r\nx\r\nget " + k250 + b"\r\ndelete " + k250 + b"\r\n"),
    ("key of 251 bytes", b"set " + k251 + b" 0 0 1\r\nx\r\ndelete " + k251 + b"\r\nincr " + k251 + b" 1\r\ntouch "
     + k251 + b" 1\r\n"),
    # Alone: a bad key in a get makes memcached drop the replies still unsent (see DIFFERENT).
    ("key of 251 bytes in a get", b"get " + k251 + b"\r\n"),
    ("key of 251 bytes after a good one", b"get c1 " + k251 + b"\r\n"),
    ("key of 251 bytes in a gat", b"gat 1 " + k251 + b"\r\n"),
    ("bad exptime", b"touch c1 abc\r\ngat abc c1\r\ngats x c1\r\nflush_all abc\r\nset c14 0 abc 1\r\nx\r\n"),
    ("expiry", b"set c15 0 -1 1\r\na\r\nset c16 0 2592001 1\r\nb\r\nset c17 0 100 1\r\nc\r\n"
     b"set c18 0 2147483647 1\r\nd\r\nget c15 c16 c17 c18\r\ntouch c17 -1\r\nget c17\r\n"),
    ("gat and gats", b"set c19 5 0 1\r\na\r\ngat 100 c19 nothere\r\ngats 0 c19\r\ngat -1 c19\r\nget c19\r\ngat 10\r\n"),
    ("touch", b"touch c20 10\r\nset c20 0 0 1\r\nx\r\ntouch c20 10\r\ntouch c20 10 noreply\r\nget c20\r\n"),
    ("incr and decr", b"incr c21 1\r\nset c21 3 0 2\r\n10\r\nincr c21 5\r\ndecr c21 100\r\nincr c21 18446744073709551615\r\n"
     b"set c22 0 0 20\r\n18446744073709551615\r\nincr c22 1\r\nset c23 0 0 3\r\nabc\r\nincr c23 1\r\n"
     b"set c24 0 0 0\r\n\r\ndecr c24 1\r\nincr c21 x\r\nincr c21 -1\r\nincr c21 18446744073709551616\r\n"
     b"set c25 0 0 2\r\n99\r\nincr c25 1\r\ngets c21 c25\r\n"),
    ("delete", b"set c26 0 0 1\r\nx\r\ndelete c26\r\ndelete c26\r\ndelete c26 0\r\ndelete c26 1\r\ndelete c26 b c\r\n"
     b"delete a b c d e\r\n"),
    ("noreply everywhere", b"set c27 0 0 1 noreply\r\na\r\nadd c27 0 0 1 noreply\r\nb\r\nreplace c27 0 0 1 noreply\r\nc\r\n"
     b"append c27 0 0 1 noreply\r\nd\r\nprepend c27 0 0 1 noreply\r\ne\r\ncas c27 0 0 1 1 noreply\r\nf\r\n"
     b"incr c27 1 noreply\r\ndecr c27 1 noreply\r\ntouch c27 100 noreply\r\nget c27\r\nset c28 0 0 1 noreply\r\n5\r\n"
     b"incr c28 1 noreply\r\ndecr c28 2 noreply\r\nget c28\r\ndelete c28 noreply\r\ndelete c28 0 noreply\r\nget c28\r\n"
     b"verbosity 1 noreply\r\nget c28\r\n"),
    ("noreply silences errors too", b"set c29 0 0 x noreply\r\nhello\r\nset c29 0 0 2 noreply\r\nabcd\r\n"
     b"incr c29 x noreply\r\ntouch c29 x noreply\r\ndelete c29 x noreply\r\nset c29 0 0 2000000 noreply\r\n"
     + big + b"\r\nverbosity x noreply\r\nflush_all x noreply\r\nget c29\r\n"),
    ("verbosity", b"verbosity\r\nverbosity 1\r\nverbosity x\r\nverbosity 1 2\r\nverbosity noreply\r\nverbosity 0\r\n"),
    ("stats reset and unknown stats", b"stats reset\r\nstats noreply\r\nstats bogus\r\n"),
    ("a long get line", long_get([b"c1", b"c2", b"nothere"] * 700)),
    # (not c22: memcached pads the number an incr made shorter, see DIFFERENT)
    ("a long get line, keys cut everywhere", long_get([b"c%d" % (i % 40) for i in range(3000) if i % 40 != 22])),
    ("quit", b"set c32 0 0 1\r\nx\r\nquit\r\nget c32\r\n"),
    ("quit with arguments", b"quit now please\r\nget c32\r\n"),
    ("an HTTP request", b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"),
    ("HTTP after a command we know", b"gets / HTTP/1.0\r\n"),
    ("truncated block at the end of the stream", b"set c33 0 0 10\r\nhello"),
    ("nothing was stored", b"get c33\r\n"),
    ("truncated line at the end of the stream", b"get c1"),
    ("commands pipelined in one send", b"".join(b"set p%d 0 0 2\r\n%02d\r\nget p%d\r\n" % (i, i, i) for i in range(200))),
    ("flush_all forms", b"set c30 0 0 1\r\nx\r\nflush_all 0\r\nget c30\r\nflush_all noreply\r\nflush_all 1 2\r\n"
     b"flush_all 1 2 3\r\nflush_all -1\r\n"),
    ("flush_all with a delay", b"set c31 0 0 1\r\nx\r\nflush_all 1000\r\nget c31\r\nflush_all\r\nget c31\r\n"),
    ("after flush_all", long_get([b"c%d" % i for i in range(40)] + [b"p%d" % i for i in range(200)])),
]

# (name, request, ours, memcached's, why): answered differently on purpose.
DIFFERENT = [
    ("version", b"version\r\n", b"VERSION 1.6.18-coline\r\n", b"VERSION 1.6.18\r\n",
     "we name ourselves, with the protocol level we speak"),
    ("decr that shortens a number", b"set d1 0 0 2\r\n10\r\ndecr d1 1\r\nget d1\r\n",
     b"STORED\r\n9\r\nVALUE d1 0 1\r\n9\r\nEND\r\n", b"STORED\r\n9\r\nVALUE d1 0 2\r\n9 \r\nEND\r\n",
     "memcached pads the new number with spaces to keep the length; we store its digits"),
    ("control characters in keys", b"set d2\x01x 0 0 1\r\nx\r\nget d2\tx\r\n",
     b"CLIENT_ERROR bad command line format\r\nERROR\r\nCLIENT_ERROR bad command line format\r\n",
     b"STORED\r\nEND\r\n", "the protocol forbids them in keys; memcached does not check"),
    ("a NUL in a key", b"set d7 0 0 1\r\nx\r\nget d7\0zzz\r\n", b"STORED\r\nCLIENT_ERROR bad command line format\r\n",
     b"STORED\r\nVALUE d7 0 1\r\nx\r\nEND\r\n", "memcached ends the line at a NUL; we refuse the key"),
    ("exptime past 2038", b"set d9 0 2147483648 1\r\nx\r\n", b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
     b"STORED\r\n", "memcached wraps it around to a negative number (expired at once); we refuse it"),
    ("meta commands", b"mn\r\n", b"ERROR\r\n", b"MN\r\n", "we have not written memcached's meta commands"),
    ("flags over 32 bits", b"set d3 4294967296 0 1\r\nx\r\n", b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
     b"STORED\r\n", "memcached wraps the flags around to 0; we refuse them"),
    ("numbers with a sign", b"set d4 +1 0 1\r\nx\r\n", b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
     b"STORED\r\n", "we take digits only, where memcached's strtoul also takes a sign or spaces"),
    ("a non-get line over 2048 bytes", b"set " + b"k" * 3000,
     b"CLIENT_ERROR line too long\r\n", b"", "memcached closes without a word; we say why, then close"),
    ("a bad key after earlier commands", b"set d5 0 0 1\r\nx\r\nget d5 " + k251 + b"\r\n",
     b"STORED\r\nCLIENT_ERROR bad command line format\r\n", b"CLIENT_ERROR bad command line format\r\n",
     "memcached also drops the replies to the earlier commands still unsent"),
    ("a bad key late in a get line too long to hold", b"set d8 0 0 1\r\nx\r\n" + long_get([b"d8"] * 2500, b" " + k251),
     b"STORED\r\n" + b"VALUE d8 0 1\r\nx\r\n" * 2500 + b"CLIENT_ERROR bad command line format\r\n",
     b"CLIENT_ERROR bad command line format\r\n",
     "we answer a long get's keys as they arrive; memcached holds the whole line first"),
    ("the end of the stream in a skipped block", b"set d6 0 0 2000000\r\nabc",
     b"SERVER_ERROR object too large for cache\r\n", b"",
     "memcached drops its answer when the client ends the stream before the block"),
]


def main():
    ours, theirs = int(sys.argv[1]), int(sys.argv[2])
    passed = failed = 0

    def report(ok, name, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
            print("ok: compare %s" % name)
        else:
            failed += 1
            print("FAILED: compare %s%s" % (name, detail))

    def shown(data):
        return repr(data if len(data) < 600 else data[:300] + b"..." + data[-300:])

    # Both servers get the cases in the same order, one case on both before the next.
    for name, request in SAME:
        mine, reference = exchange(ours, request), exchange(theirs, request)
        report(mine == reference, name, "\n  memcached: %s\n  ours:      %s" % (shown(reference), shown(mine)))
    for name, request, expected, reference_expected, why in DIFFERENT:
        mine, reference = exchange(ours, request), exchange(theirs, request)
        report(mine == expected and reference == reference_expected, "%s (differs on purpose: %s)" % (name, why),
               "\n  memcached: %s\n  expected:  %s\n  ours:      %s\n  expected:  %s"
               % (shown(reference), shown(reference_expected), shown(mine), shown(expected)))
    print("compare: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
