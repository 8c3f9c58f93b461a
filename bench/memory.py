#!/usr/bin/env python3
"""Memory per client over a client's life, for each server (resident set
size from /proc, the kernel's socket buffers not included):

  idle      N clients connected and greeted, silent: bytes per client
  burst     each client then pipelines L lines and reads every answer, one
            client after the other; once the last has been idle for a
            second: bytes per client still held
  left      every client closed, two seconds later: the process's memory,
            as a ratio to what it was before the clients came

Use bench/memory.sh, which builds first.
"""
import argparse
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from run import SERVERS, Server, rss_bytes  # noqa: E402

ANSWER = b"Information received\n"


def read_answers(s, count):
    """Reads until `count` answers (and the greeting, if asked) have arrived."""
    got = b""
    while got.count(b"\n") < count:
        chunk = s.recv(1 << 16)
        if not chunk:
            raise RuntimeError("the server closed the connection")
        got += chunk
    return got


def measure(build, name, args):
    server = Server(build, name, args.server_core)
    try:
        time.sleep(0.3)
        before = rss_bytes(server.proc.pid)
        clients = [socket.create_connection(("127.0.0.1", server.port), timeout=30) for _ in range(args.clients)]
        for s in clients:
            if not read_answers(s, 1).startswith(b"Connect"):
                raise RuntimeError(f"{name}: no greeting")
        time.sleep(1)
        idle = rss_bytes(server.proc.pid)
        request = b"SOME data\n" * args.lines
        for s in clients:
            s.sendall(request)
            answers = read_answers(s, args.lines)
            if answers != ANSWER * args.lines:
                raise RuntimeError(f"{name}: wrong answers")
        time.sleep(1)
        after_burst = rss_bytes(server.proc.pid)
        for s in clients:
            s.close()
        time.sleep(2)
        left = rss_bytes(server.proc.pid)
        return {"idle": (idle - before) / args.clients, "burst": (after_burst - before) / args.clients,
                "left": left / before, "before": before}
    finally:
        server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build-bench")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--servers", default="epoll,asio,coline,coline-readme")
    parser.add_argument("--server-core", type=int, default=0)
    args = parser.parse_args()
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    results = {name: [] for name in args.servers.split(",")}
    for round_ in range(args.rounds):
        for name in results:
            r = measure(args.build, name, args)
            results[name].append(r)
            print(f"round {round_ + 1} {name:15} idle {r['idle']:7.0f} B/client  after burst {r['burst']:7.0f} "
                  f"B/client  after leaving {r['left']:.3f} x before ({r['before'] / 1e6:.1f} MB before)", flush=True)
    med = lambda xs: sorted(xs)[len(xs) // 2]
    print(f"\nMedians of {args.rounds} rounds, {args.clients} clients, bursts of {args.lines} lines.\n")
    print("| server | idle, bytes per client | after a burst and 1 s idle, bytes per client | × idle | after leaving, × before |")
    print("|---|---:|---:|---:|---:|")
    for name, rs in results.items():
        idle, burst, left = med([r["idle"] for r in rs]), med([r["burst"] for r in rs]), med([r["left"] for r in rs])
        print(f"| {name} | {idle:.0f} | {burst:.0f} | {burst / idle if idle > 0 else float('nan'):.2f} | {left:.3f} |")


if __name__ == "__main__":
    main()
