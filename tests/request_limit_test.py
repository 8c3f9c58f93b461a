#!/usr/bin/env python3
"""The protocol examples against clients that dribble a request: each piece
well within the 5-minute read_timeout, the request as a whole never done.
With --request-timeout 1, each such client must be closed about a second
after its request began (the test allows 6 s), while a client that behaves is
served throughout. Servers on 127.0.0.1 and a port the kernel picks, stopped
by their PIDs.

  request_limit_test.py MEMCACHE_SERVER RESP_SERVER

Prints "ok: ..." or "FAILED: ..." per check, and the time each dribbling
client took to be closed (median and slowest); exits 1 if any check failed.
"""
import socket
import statistics
import sys
import threading
import time

from example_server import ExampleServer

failed = False
CLIENTS = 20      # dribbling clients per case, at once
PIECE_EVERY = 0.2  # seconds between pieces
MOST_PIECES = 60   # 12 s of dribbling at most: the test ends by itself


def check(what, condition, detail=""):
    global failed
    print(("ok: " if condition else "FAILED: ") + what + ("" if condition or not detail else f" ({detail})"))
    failed |= not condition


def dribble(server, first, piece, closed_after, begun):
    """Sends `first` whole, then `piece` every PIECE_EVERY; records the seconds until the server closes."""
    sock = server.connect()
    sock.sendall(first)
    begun.release()
    began = time.monotonic()
    sock.settimeout(PIECE_EVERY)
    for _ in range(MOST_PIECES):
        try:
            if sock.recv(4096) == b"":
                break  # closed
        except socket.timeout:
            pass
        except ConnectionError:
            break  # closed with a reset
        try:
            sock.sendall(piece)
        except OSError:
            break
    else:
        closed_after.append(None)  # never closed
        sock.close()
        return
    closed_after.append(time.monotonic() - began)
    sock.close()


def served(server, request, answer):
    with server.connect(timeout=5) as sock:
        sock.sendall(request)
        got = b""
        while not got.endswith(answer) and len(got) < 1000:
            chunk = sock.recv(4096)
            if not chunk:
                break
            got += chunk
        return got.endswith(answer)


def case(server, what, first, piece, probe, probe_answer):
    closed_after = []
    begun = threading.Semaphore(0)
    threads = [threading.Thread(target=dribble, args=(server, first, piece, closed_after, begun))
               for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for _ in range(CLIENTS):  # the probe comes once every dribbler has begun its request
        begun.acquire(timeout=10)
    check(f"{what}: a client that behaves is served while {CLIENTS} dribble", served(server, probe, probe_answer))
    for t in threads:
        t.join()
    never = closed_after.count(None)
    times = [t for t in closed_after if t is not None]
    check(f"{what}: every dribbling client is closed", never == 0, f"{never} of {CLIENTS} never were")
    if times:
        print(f"  {what}: closed after {statistics.median(times):.2f} s median, {max(times):.2f} s slowest "
              f"(--request-timeout 1, a piece every {PIECE_EVERY} s)")
        check(f"{what}: closed at the request's limit, not before", min(times) >= 0.8, f"{min(times):.2f} s")
        check(f"{what}: closed within 6 s", max(times) < 6, f"{max(times):.2f} s")


def main():
    memcache_binary, resp_binary = sys.argv[1:3]
    memcache = ExampleServer(memcache_binary, "--request-timeout", "1", name="memcache_server")
    # A get line a byte at a time (memcached's text protocol reads it in pieces),
    # and a value after its set line.
    case(memcache, "memcache get line", b"get ", b"k", b"version\r\n", b"\r\n")
    case(memcache, "memcache set value", b"set key 0 0 100\r\n", b"v", b"version\r\n", b"\r\n")
    resp = ExampleServer(resp_binary, "--request-timeout", "1", name="resp_server")
    # A DEL of many keys, one argument per piece; and a bulk string a byte at a time.
    case(resp, "resp argument per piece", b"*100000\r\n$3\r\nDEL\r\n", b"$1\r\nk\r\n", b"PING\r\n", b"+PONG\r\n")
    case(resp, "resp bulk string", b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\n", b"v", b"PING\r\n", b"+PONG\r\n")
    for server in (memcache, resp):
        server.proc.terminate()
        check(f"{server.err_path.rsplit('/', 1)[-1]}: exits 0 on SIGTERM", server.wait_exit(15) == 0)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
