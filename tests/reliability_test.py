#!/usr/bin/env python3
"""The examples against hostile and hurried clients, over loopback on ports
the kernel picks; each server is started here and stopped by its PID.

  reliability_test.py SERVER CHAT

1. Clients that keep sending after SIGTERM: the server stops within a few
   seconds (not at its 10 s grace), with every line it read answered; on one
   thread, and on two with 20 clients talking a line at a time besides.
2. SIGTERM, then SIGINT during the grace period: the server stops at once
   and exits 130 (128 + SIGINT).
3. Client bytes in the server's log cannot drive a terminal.
4. Command-line values that make no sense are refused, with one line, status 1.
5. The chat room: 3 clients send 2000 lines each at once; a client that
   reads gets all 6000, each sender's in order.
Prints "ok: ..." or "FAILED: ..." per check; exits 1 if any failed.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

from example_server import ExampleServer

failed = False


def check(what, condition, detail=""):
    global failed
    print(("ok: " if condition else "FAILED: ") + what + ("" if condition or not detail else f" ({detail})"))
    failed |= not condition


class Server(ExampleServer):
    def __init__(self, binary, *args):
        super().__init__(binary, *args)


def read_line(sock, buffer):
    """The next line of `sock` without its newline (buffer: a bytearray kept between calls); None at the end."""
    while b"\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return line


class Flooder:
    """A client that pipelines 8192-line chunks and reads every answer, until the server ends it."""

    def __init__(self, server):
        self.sock, self.buffer = server.connect(), bytearray()
        self.greeted = read_line(self.sock, self.buffer) == b"Connect"
        self.answers, self.wrong, self.ended_by = 0, 0, None
        self.sock.settimeout(15)
        give_up = time.monotonic() + 20
        self.sender = threading.Thread(target=self.send, args=(give_up,))
        self.reader = threading.Thread(target=self.read)
        self.sender.start()
        self.reader.start()

    def send(self, give_up):
        chunk = b"SOME data\n" * 8192
        try:
            while time.monotonic() < give_up:
                self.sock.sendall(chunk)
        except OSError:
            pass  # cut off

    def read(self):
        rest = bytes(self.buffer)
        try:
            while chunk := self.sock.recv(1 << 16):
                lines = (rest + chunk).split(b"\n")
                rest = lines.pop()  # the start of the next line
                self.answers += len(lines)
                self.wrong += len(lines) - lines.count(b"Information received")
            self.ended_by = "end"
        except OSError as e:
            self.ended_by = type(e).__name__

    def join(self):
        self.reader.join()
        self.sock.close()
        self.sender.join()


def flood_then_sigterm(server_binary, threads, flooders, talkers):
    """`flooders` pipelining clients and `talkers` that send one line at a time, then SIGTERM."""
    server = Server(server_binary, "--threads", str(threads))
    talk_answers, talk_failures = [0] * talkers, []  # (each talker counts its own)
    stop_talking = threading.Event()

    talking = []  # connected and greeted before the flood and the signal
    for _ in range(talkers):
        talking.append((server.connect(), bytearray()))
        read_line(*talking[-1])

    def talk(me):
        sock, buffer = talking[me]
        try:
            with sock:
                while not stop_talking.is_set():
                    sock.sendall(b"SOME data\n")
                    line = read_line(sock, buffer)
                    if line is None:
                        return  # the server stopped
                    talk_answers[me] += 1
                    if line != b"Information received":
                        talk_failures.append(line)
        except OSError as e:
            talk_failures.append(type(e).__name__)

    floods = [Flooder(server) for _ in range(flooders)]
    talkers_threads = [threading.Thread(target=talk, args=(i,)) for i in range(talkers)]
    for t in talkers_threads:
        t.start()
    time.sleep(1)  # the flood is under way
    what = f"--threads {threads}, {flooders} flooding and {talkers} talking clients"
    check(f"{what}: the flooded server greets", all(f.greeted for f in floods))
    server.proc.send_signal(signal.SIGTERM)
    signalled_at = time.monotonic()
    status = server.wait_exit(30)
    took = time.monotonic() - signalled_at
    stop_talking.set()
    for t in talkers_threads:
        t.join()
    for f in floods:
        f.join()
    logged = server.out().count(b"Buffer: SOME data\n")
    answers = sum(f.answers for f in floods) + sum(talk_answers)
    # The backlog read after the signal is what had arrived (the kernel's receive buffer), and each
    # flooder's answers must reach it before the close: seconds under a sanitizer, never the grace.
    check(f"{what}: stopped {took:.1f} s after SIGTERM (under 9 s; the grace is 10 s)", took < 9)
    check(f"{what}: exits 0", status == 0, f"status {status}")
    check(f"{what}: each flooder sees a clean end after its answers", all(f.ended_by == "end" for f in floods),
          ", ".join(str(f.ended_by) for f in floods))
    check(f"{what}: every line the server read (and logged) was answered", answers == logged and logged > 0,
          f"{logged} logged, {answers} answers ({', '.join(str(f.answers) for f in floods)} to the flooders); "
          f"server: {server.err().strip()[-300:]}")
    check(f"{what}: every answer is the tutorial's", sum(f.wrong for f in floods) == 0 and not talk_failures,
          f"{talk_failures[:3]}")


def second_signal(server_binary):
    server = Server(server_binary)
    sock = server.connect()
    buffer = bytearray()
    read_line(sock, buffer)
    sock.sendall(b"a line begun")  # the graceful stop waits for its end, up to the 10 s grace
    time.sleep(0.2)  # (the client's pace: the server has the bytes)
    server.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)  # the graceful stop is under way
    sent = time.monotonic()
    server.proc.send_signal(signal.SIGINT)
    status = server.wait_exit(30)
    took = time.monotonic() - sent
    check(f"a second signal during the grace period stopped the server {took:.2f} s after it (under 3 s)", took < 3)
    check("... and it exits 130 (128 + SIGINT)", status == 130, f"status {status}")
    sock.settimeout(5)
    try:
        rest = sock.recv(100)
        check("... and the client's connection is ended", rest == b"", repr(rest))
    except OSError:
        check("... and the client's connection is ended", True)
    sock.close()


def safe_log(server_binary):
    server = Server(server_binary)
    sock = server.connect()
    buffer = bytearray()
    read_line(sock, buffer)
    sock.sendall(b"SOME data\n\x1b[2J\x1b]0;pwned\x07fake\rline \xff\xc2\x9b\n")
    sock.settimeout(10)
    read_line(sock, buffer), read_line(sock, buffer)
    sock.close()
    server.proc.send_signal(signal.SIGTERM)
    check("the server exits 0 on SIGTERM", server.wait_exit(30) == 0)
    out = server.out()
    check("a printable line logs as the tutorial's does", b"Buffer: SOME data\n" in out)
    check("control characters and invalid UTF-8 are logged escaped",
          b"Buffer: \\x1b[2J\\x1b]0;pwned\\x07fake\\x0dline \\xff\\xc2\\x9b\n" in out, repr(out))
    check("no control character but the newline reaches the log",
          not re.search(rb"[\x00-\x09\x0b-\x1f\x7f]", out), repr(out))


def refused_arguments(server_binary):
    for args, reason in [(["--max-clients", "0"], "client count"), (["--threads", "0"], "thread count"),
                         (["127.0.0.1", "0", "extra"], "unexpected argument"),
                         (["127.0.0.1", "0", "--max-client", "5"], "unknown option")]:
        argv = [server_binary] + (args if args[0] == "127.0.0.1" else ["127.0.0.1", "0", *args])
        try:
            done = subprocess.run(argv, capture_output=True, timeout=10, text=True)
            status, err = done.returncode, done.stderr
        except subprocess.TimeoutExpired:
            status, err = None, "still running after 10 s"
        check(f"server {' '.join(args)} is refused with status 1 and one line naming the {reason}",
              status == 1 and err.count("\n") == 1 and reason in err, f"status {status}: {err.strip()}")


def chat_pacing(chat_binary):
    server = Server(chat_binary)
    senders, lines = 3, 2000
    listener = server.connect()
    listener_buffer = bytearray()
    me = read_line(listener, listener_buffer)
    check("the listener joins the chat", me is not None and me.startswith(b"* you are "), repr(me))
    clients = [server.connect() for _ in range(senders)]
    nicks = []
    for c in clients:
        b = bytearray()
        greeting = read_line(c, b)
        nicks.append(greeting.split()[3].rstrip(b";"))

    def drain(sock):  # the senders read too: the room drops a member that does not
        try:
            while sock.recv(65536):
                pass
        except OSError:
            pass

    drainers = [threading.Thread(target=drain, args=(c,)) for c in clients]
    for t in drainers:
        t.start()
    got = {nick: [] for nick in nicks}
    expected_lines = senders * lines

    def send(i, sock):
        sock.sendall(b"".join(b"s%d %d\n" % (i, n) for n in range(lines)))

    listener.settimeout(15)
    senders_threads = [threading.Thread(target=send, args=(i, c)) for i, c in enumerate(clients)]
    for t in senders_threads:
        t.start()
    received = 0
    try:
        while received < expected_lines:
            line = read_line(listener, listener_buffer)
            if line is None:
                break
            nick, sep, text = line.partition(b": ")
            if sep and nick in got:
                got[nick].append(text)
                received += 1
    except OSError:
        pass
    for t in senders_threads:
        t.join()
    check(f"a listener reading at full speed gets all {expected_lines} lines of {senders} senders", received ==
          expected_lines, f"{received} received; server: {server.err().strip()[-200:]}")
    in_order = all(got[nick] == [b"s%d %d" % (i, n) for n in range(lines)] for i, nick in enumerate(nicks))
    check("... each sender's lines in its order", in_order)
    check("... and nobody was dropped", "dropped" not in server.err(), server.err().strip()[-200:])
    for c in clients + [listener]:
        c.shutdown(socket.SHUT_RDWR)
        c.close()
    for t in drainers:
        t.join()
    server.proc.send_signal(signal.SIGTERM)
    check("chat exits 0 on SIGTERM", server.wait_exit(30) == 0)


def main():
    server_binary, chat_binary = sys.argv[1], sys.argv[2]
    flood_then_sigterm(server_binary, threads=1, flooders=1, talkers=0)
    flood_then_sigterm(server_binary, threads=2, flooders=2, talkers=20)
    second_signal(server_binary)
    safe_log(server_binary)
    refused_arguments(server_binary)
    chat_pacing(chat_binary)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
