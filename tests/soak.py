#!/usr/bin/env python3
"""A bounded soak of every example server at once, well-behaved and hostile
clients mixed, meant for the sanitizer builds (scripts/soak.sh).

  soak.py EXAMPLES_DIR [--seconds N] [--only NAME...]   (30 s of load after a 5 s warm-up: about 45 s)

Each server runs on 127.0.0.1 and a port the kernel picks, and is stopped
by its PID. Per server, client threads loop until the time is up:
  well-behaved (checks every answer), half-close (the same, after shutting
  its side), pipeliner (1000 requests at once, every answer checked), slow
  reader, slowloris, overlong line, binary junk, connect/reset churn, and for
  tls_server bad handshakes (plain text, junk, a ClientHello then silence).
Passes when every well-behaved exchange was right, no sanitizer reported
anything, every server exits 0 on SIGTERM, and each server's memory after
the soak (clients gone) is within 10 % of its level after a warm-up, plus
what coline's per-thread buffer pool may keep for reuse by design (16
input buffers of at most 128 KiB: 2 MiB per thread; how full it is after
the warm-up depends on how many clients left at once).
"""
import argparse
import os
import random
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

from example_server import ExampleServer

POOL_KB = 16 * 128  # coline's buffer pool at its fullest, per thread (detail/line_buffer.hpp)
SANITIZER_REPORT = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|ThreadSanitizer|runtime error:")


class Spec:
    """What a server expects from a well-behaved client, and what it answers."""

    def __init__(self, args=(), greeting=None, request=b"", answer=b"", others_talk=False, tls=False):
        self.args, self.greeting, self.request, self.answer = list(args), greeting, request, answer
        self.others_talk = others_talk  # chat: lines from the room come between the answers
        self.tls = tls


def specs(certificate, key):
    return {
        "server": Spec(["--quiet"], b"Connect", b"SOME data\n", b"Information received"),
        "echo": Spec([], None, b"echo me\n", b"echo me"),
        "chat": Spec([], b"* you are ", b"/bogus\n", b"* unknown command; the only one is /nick NAME",
                     others_talk=True),
        "memcache_server": Spec([], None, b"set k 0 0 5\r\nhello\r\nget k\r\n", b"END\r"),
        "resp_server": Spec([], None, b"*1\r\n$4\r\nPING\r\n", b"+PONG\r"),
        "tls_server": Spec([certificate, key], b"Connect", b"SOME data\n", b"Information received", tls=True),
    }


def rss_kb(pid):
    """Resident memory, or 0 once the process has died."""
    try:
        with open(f"/proc/{pid}/status") as f:
            found = re.search(r"VmRSS:\s+(\d+)", f.read())
        return int(found.group(1)) if found else 0
    except OSError:
        return 0


class Server(ExampleServer):
    def __init__(self, name, binary, spec, workdir):
        super().__init__(binary, *spec.args, workdir=workdir, name=name, keep_output=False)
        self.name, self.spec = name, spec


class Results:
    def __init__(self):
        self.lock = threading.Lock()
        self.good, self.bad = {}, {}
        self.hostile = {}  # (server, kind): connections

    def count(self, server, kind):
        with self.lock:
            self.hostile[server, kind] = self.hostile.get((server, kind), 0) + 1

    def add(self, server, ok, why=""):
        with self.lock:
            if ok:
                self.good[server] = self.good.get(server, 0) + 1
            else:
                self.bad.setdefault(server, []).append(why)


tls_context = ssl.create_default_context()
tls_context.check_hostname = False
tls_context.verify_mode = ssl.CERT_NONE


def connect(server, timeout=10):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    if server.spec.tls:
        sock = tls_context.wrap_socket(sock)
    return sock


class Lines:
    def __init__(self, sock):
        self.sock, self.buffer = sock, b""

    def next(self):
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line


def exchange(server, requests, half_close=False):
    """Sends `requests` requests at once and checks every answer; (ok, why)."""
    spec = server.spec
    with connect(server) as sock:
        lines = Lines(sock)
        if spec.greeting is not None:
            greeting = lines.next()
            if greeting is None or not greeting.startswith(spec.greeting):
                return False, f"greeting {greeting!r}"
        sock.sendall(spec.request * requests)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        answers = 0
        while answers < requests:
            line = lines.next()
            if line is None:
                return False, f"the end after {answers} of {requests} answers"
            if line == spec.answer:
                answers += 1
            elif not spec.others_talk and not (server.name == "memcache_server" and line in
                                               (b"STORED\r", b"VALUE k 0 5\r", b"hello\r")):
                return False, f"unexpected {line[:80]!r}"
        return True, ""


def checked(kind, requests, half_close=False, pause=0.0):
    """A client that checks every answer, `requests` at once per connection (1 to 3 when 0)."""
    def loop(server, results, stop):
        if half_close and server.spec.tls:
            return  # TLS has no half-close of its own
        while not stop.is_set():
            try:
                ok, why = exchange(server, requests or random.randint(1, 3), half_close)
            except OSError as e:
                ok, why = False, f"{type(e).__name__}: {e}"
            results.add(server.name, ok, f"{kind}: {why}")
            time.sleep(pause)
    return loop


def hostile(action):
    """A client whose fate is not checked: the server must only survive it."""
    def loop(server, results, stop):
        while not stop.is_set():
            try:
                if action(server, stop) is not False:
                    results.count(server.name, action.__name__)
            except (OSError, ssl.SSLError):
                results.count(server.name, action.__name__)
    return loop


def slow_reader(server, stop):
    with connect(server) as sock:
        sock.sendall(server.spec.request * 5000)
        for _ in range(50):
            if stop.is_set() or not sock.recv(512):
                break
            time.sleep(0.02)


def slowloris(server, stop):
    with connect(server) as sock:
        for byte in server.spec.request[:-1] * 3:
            if stop.is_set():
                break
            sock.sendall(bytes([byte]))
            time.sleep(0.1)


def overlong(server, stop):
    with connect(server, timeout=5) as sock:
        sock.sendall(b"x" * 300_000)
        while sock.recv(65536):
            pass


def junk(server, stop):
    with connect(server, timeout=5) as sock:
        sock.sendall(os.urandom(random.randint(1, 20000)))
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(65536):
            pass


def churn(server, stop):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    if random.random() < 0.5:
        sock.sendall(server.spec.request[:3])
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # a reset
    sock.close()
    time.sleep(0.005)


def bad_handshake(server, stop):
    if not server.spec.tls:
        stop.wait(1)
        return False  # (not for this server)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        kind = random.randrange(3)
        if kind == 0:
            sock.sendall(b"SOME data\n")
        elif kind == 1:
            sock.sendall(b"\x16\x03\x01" + os.urandom(300))
        else:  # a real ClientHello, then silence
            incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
            hello = tls_context.wrap_bio(incoming, outgoing)
            try:
                hello.do_handshake()
            except ssl.SSLWantReadError:
                pass
            sock.sendall(outgoing.read())
            stop.wait(0.5)
        sock.settimeout(2)
        while sock.recv(65536):
            pass


CLIENTS = [checked("well-behaved", 0, pause=0.01), checked("half-close", 3, half_close=True, pause=0.05),
           checked("pipeliner", 1000)] + [hostile(f) for f in (slow_reader, slowloris, overlong, junk, churn,
                                                                         bad_handshake)]


def load(servers, results, seconds):
    stop = threading.Event()
    threads = [threading.Thread(target=client, args=(s, results, stop)) for s in servers for client in CLIENTS]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(30)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("examples")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--only", nargs="*", help="these servers only")
    args = parser.parse_args()
    failed = False

    def check(what, ok, detail=""):
        nonlocal failed
        print(("ok: " if ok else "FAILED: ") + what + ("" if ok or not detail else f" ({detail})"), flush=True)
        failed |= not ok

    with tempfile.TemporaryDirectory() as workdir:
        certificate, key = os.path.join(workdir, "cert.pem"), os.path.join(workdir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-days", "1", "-subj", "/CN=localhost", "-keyout", key, "-out", certificate],
                       check=True, capture_output=True)
        servers = []
        try:
            for name, spec in specs(certificate, key).items():
                if not args.only or name in args.only:
                    servers.append(Server(name, os.path.join(args.examples, name), spec, workdir))
            warm_up = Results()
            load(servers, warm_up, 5)  # the allocator and the buffer pools reach their working size
            time.sleep(2)  # the clients' connections end
            before = {s.name: rss_kb(s.proc.pid) for s in servers}
            results = Results()
            load(servers, results, args.seconds)
            time.sleep(2)
            after = {s.name: rss_kb(s.proc.pid) for s in servers}
        finally:
            for s in servers:
                if s.proc.poll() is None:
                    s.proc.send_signal(signal.SIGTERM)
            statuses = {}
            for s in servers:
                try:
                    statuses[s.name] = s.proc.wait(30)
                except subprocess.TimeoutExpired:
                    s.proc.kill()
                    statuses[s.name] = "still running 30 s after SIGTERM"
        for s in servers:
            bad = results.bad.get(s.name, []) + warm_up.bad.get(s.name, [])
            good = results.good.get(s.name, 0)
            check(f"{s.name}: every well-behaved exchange was right ({good} exchanges)", not bad and good > 0,
                  f"{len(bad)} wrong, first: {bad[0] if bad else 'none ran'}")
            report = SANITIZER_REPORT.search(s.err())
            check(f"{s.name}: no sanitizer report", report is None, s.err()[report.start():][:2000] if report else "")
            check(f"{s.name}: exits 0 on SIGTERM", statuses[s.name] == 0, f"status {statuses[s.name]}")
            hostile = ", ".join(f"{kind} {n}" for (name, kind), n in sorted(results.hostile.items()) if name == s.name)
            print(f"   {s.name}, hostile connections: {hostile}")
            allowed = before[s.name] * 1.10 + POOL_KB
            check(f"{s.name}: memory after the soak within 10 % (+ the buffer pool) of before ({before[s.name]} kB, "
                  f"then {after[s.name]} kB)", before[s.name] > 0 and after[s.name] <= allowed,
                  f"{after[s.name] / max(before[s.name], 1):.2f}x; allowed {allowed:.0f} kB")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
