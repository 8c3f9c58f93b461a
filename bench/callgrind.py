#!/usr/bin/env python3
"""Instructions per line: each server runs under valgrind --tool=callgrind,
which counts the instructions it executes in user space (its own code and the
libraries', not the kernel's). Counting starts after the load generator's
warm-up and stops after its measured window; the count divided by the lines
answered in that window is the fixed user-space cost of a line. Unlike
lines/s, it barely moves on a noisy machine.

Use bench/callgrind.sh, which builds first. Prints a table with the ratios to
the epoll server's count.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from run import MODES, SERVERS, free_port, wait_until_listening  # noqa: E402


def instructions_per_line(build, name, mode, args):
    program, *extra = SERVERS[name]
    out_dir = tempfile.mkdtemp(prefix="coline-callgrind-")
    out = os.path.join(out_dir, "callgrind.out")
    port = free_port()
    server_args = [str(port)] if extra == ["{port}"] else ["127.0.0.1", str(port), *extra]
    server = subprocess.Popen(["taskset", "-c", str(args.server_core), "valgrind", "--tool=callgrind",
                               "--instr-atstart=no", f"--callgrind-out-file={out}",
                               os.path.join(build, program), *server_args],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_listening(port, timeout=60)
        loadgen = subprocess.Popen(["taskset", "-c", str(args.loadgen_core), os.path.join(build, "bench/bench_loadgen"),
                                    "--port", str(port), "--duration", str(args.duration),
                                    "--warmup", str(args.warmup), *MODES[mode]], stdout=subprocess.PIPE, text=True)
        time.sleep(args.warmup)
        subprocess.run(["callgrind_control", "-i", "on", str(server.pid)], check=True, stdout=subprocess.DEVNULL)
        time.sleep(args.duration)
        subprocess.run(["callgrind_control", "-i", "off", str(server.pid)], check=True, stdout=subprocess.DEVNULL)
        result = json.loads(loadgen.communicate(timeout=120)[0].strip().splitlines()[-1])
    finally:
        server.terminate()
        server.wait(timeout=60)
    if args.keep:
        print(f"callgrind files: {out_dir}", flush=True)
    total = 0
    for path in os.listdir(out_dir):  # one file per thread, or per dump
        with open(os.path.join(out_dir, path)) as f:
            for line in f:
                m = re.match(r"^totals: (\d+)", line)
                if m:
                    total += int(m.group(1))
    return total / max(result["lines"], 1), result["lines"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build-bench")
    parser.add_argument("--duration", type=float, default=4)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--modes", default="pipelined,pingpong")
    parser.add_argument("--servers", default="epoll,asio,coline,coline-readme")
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--loadgen-core", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the callgrind files (for callgrind_annotate)")
    args = parser.parse_args()
    rows = {}
    for mode in args.modes.split(","):
        for name in args.servers.split(","):
            rows[(mode, name)] = instructions_per_line(args.build, name, mode, args)
            print(f"{mode:14} {name:15} {rows[(mode, name)][0]:9.0f} instructions per line "
                  f"({rows[(mode, name)][1]} lines)", flush=True)
    print("\n| mode | server | instructions per line | × epoll |")
    print("|---|---|---:|---:|")
    for (mode, name), (per_line, _) in rows.items():
        ref = rows.get((mode, "epoll"), (float("nan"),))[0]
        print(f"| {mode} | {name} | {per_line:.0f} | {per_line / ref:.2f} |")


if __name__ == "__main__":
    main()
