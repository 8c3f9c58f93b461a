#!/usr/bin/python3
"""coline's memcached and Redis examples against memcached and redis-server,
with the real servers' own load tools, as ratios measured in the same run.

- memcslap set, get and mget: examples/memcache_server against `memcached -t 1`.
- A GET of a 1 MB value, repeated: the same pair, as time per GET.
- redis-benchmark PING_INLINE, SET and GET, -c 50, at -P 1 and -P 16:
  examples/resp_server against `redis-server --save '' --appendonly no`.

Each round starts every server afresh, pinned to one core, with the load tool
on the other; the order of the servers alternates from round to round. The
medians of the rounds are reported, and coline's as a ratio to the
reference's (above 1: coline is faster).

Use bench/protocols.sh, which builds the examples first.
"""
import argparse
import csv
import io
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_connectable(port, proc, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


class Server:
    """A server pinned to `core`, on a free loopback port, stopped by its PID."""

    def __init__(self, command, core, scratch, name):
        self.port = free_port()
        args = [a.replace("{port}", str(self.port)).replace("{dir}", scratch) for a in command]
        self.log = open(os.path.join(scratch, f"{name}.log"), "w+")
        self.proc = subprocess.Popen(["taskset", "-c", str(core), *args],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_connectable(self.port, self.proc)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def memcslap(port, test, count, core):
    out = subprocess.run(["taskset", "-c", str(core), "memcslap", "-s", f"127.0.0.1:{port}", "-t", test,
                          "-c", "1", "-e", str(count)], capture_output=True, text=True, timeout=600).stdout
    m = re.search(rf"Time to {test}\s+(\d+) keys by\s+\d+ threads:\s+([\d.]+) seconds", out)
    if not m:
        raise RuntimeError(f"memcslap {test}: no timing in:\n{out}")
    return int(m.group(1)) / float(m.group(2))  # keys per second


def memcached_stats(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"stats\r\n")
        data = b""
        while not data.endswith(b"END\r\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


def read_until(sock, end):
    data = bytearray()
    while not data.endswith(end):
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise RuntimeError("connection closed")
        data += chunk
    return bytes(data)


def big_get_seconds(port, size, repeats):
    """Median time of one `get` of a `size`-byte value, over `repeats` GETs."""
    value = bytes((i * 7 + 13) % 251 for i in range(size))
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"set big 0 0 %d\r\n" % size + value + b"\r\n")
        if read_until(s, b"\r\n") != b"STORED\r\n":
            raise RuntimeError("set of the large value failed")
        expected = b"VALUE big 0 %d\r\n" % size + value + b"\r\nEND\r\n"
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            s.sendall(b"get big\r\n")
            got = read_until(s, b"END\r\n")
            times.append(time.perf_counter() - started)
            if got != expected:
                raise RuntimeError("the large value came back different")
    return statistics.median(times)


def redis_benchmark(port, pipeline, requests, core):
    out = subprocess.run(["taskset", "-c", str(core), "redis-benchmark", "-h", "127.0.0.1", "-p", str(port),
                          "-c", "50", "-n", str(requests), "-P", str(pipeline), "-t", "ping_inline,set,get", "--csv"],
                         capture_output=True, text=True, timeout=600)
    rows = {row["test"]: float(row["rps"]) for row in csv.DictReader(io.StringIO(out.stdout))}
    if set(rows) != {"PING_INLINE", "SET", "GET"} or "ERR" in out.stderr:
        raise RuntimeError(f"redis-benchmark: {out.stdout}\n{out.stderr}")
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build-bench", help="build directory holding examples/")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keys", type=int, default=50000, help="memcslap --execute-number")
    parser.add_argument("--requests", type=int, default=200000, help="redis-benchmark -n")
    parser.add_argument("--big", type=int, default=1000000, help="size of the large value, bytes")
    parser.add_argument("--big-repeats", type=int, default=200)
    parser.add_argument("--only", choices=["memcached", "redis"], help="one family only")
    parser.add_argument("--json", help="write every measurement there")
    args = parser.parse_args()

    examples = os.path.join(args.build, "examples")
    # Both memcached servers get 1 GiB, so that neither evicts what memcslap reads back.
    families = {
        "memcached": {
            "reference": ["memcached", "-u", "root", "-U", "0", "-l", "127.0.0.1", "-p", "{port}", "-t", "1",
                          "-m", "1024", "-I", "2m"],
            "coline": [os.path.join(examples, "memcache_server"), "127.0.0.1", "{port}", "-m", "1024"],
        },
        "redis": {
            "reference": ["redis-server", "--port", "{port}", "--bind", "127.0.0.1", "--save", "",
                          "--appendonly", "no", "--dir", "{dir}"],
            "coline": [os.path.join(examples, "resp_server"), "127.0.0.1", "{port}"],
        },
    }
    results = {}  # (load, server) -> [values]

    def record(load, server, value):
        results.setdefault((load, server), []).append(value)

    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(args.rounds):
            order = ["reference", "coline"] if round_ % 2 == 0 else ["coline", "reference"]
            for family, commands in families.items():
                if args.only and family != args.only:
                    continue
                for who in order:
                    server = Server(commands[who], 0, scratch, f"{family}-{who}")
                    try:
                        if family == "memcached":
                            for test in ("set", "get", "mget"):
                                record(f"memcslap {test} (keys/s)", who, memcslap(server.port, test, args.keys, 1))
                            record("GET of a 1 MB value (ms)", who,
                                   1000 * big_get_seconds(server.port, args.big, args.big_repeats))
                        else:
                            for pipeline in (1, 16):
                                for test, rps in redis_benchmark(server.port, pipeline, args.requests, 1).items():
                                    record(f"redis-benchmark {test} -P {pipeline} (req/s)", who, rps)
                    finally:
                        server.stop()
                print(f"round {round_ + 1}/{args.rounds}: {family} done", file=sys.stderr)

    print(f"Medians of {args.rounds} rounds (the range in brackets).\n")
    print(f"| load | reference | coline | coline ÷ reference |")
    print("|---|---|---|---|")
    loads = sorted({load for load, _ in results}, key=lambda l: (not l.startswith("memcslap"), l))
    for load in loads:
        ref = statistics.median(results[(load, "reference")])
        col = statistics.median(results[(load, "coline")])
        # Above 1 means coline does better: a rate divided, or a time inverted.
        ratio = ref / col if load.endswith("(ms)") else col / ref
        spread = lambda values: f"{min(values):,.{2 if load.endswith('(ms)') else 0}f}–{max(values):,.{2 if load.endswith('(ms)') else 0}f}"
        print(f"| {load} | {ref:,.{2 if load.endswith('(ms)') else 0}f} ({spread(results[(load, 'reference')])}) "
              f"| {col:,.{2 if load.endswith('(ms)') else 0}f} ({spread(results[(load, 'coline')])}) | {ratio:.2f}× |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({f"{load} / {who}": values for (load, who), values in results.items()}, f, indent=1)


if __name__ == "__main__":
    main()
