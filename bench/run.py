#!/usr/bin/env python3
"""Runs every server against the load generator, interleaved over several
rounds, and prints the medians with their ratios to the epoll reference.

The server runs on one core and the load generator on the other (taskset);
besides lines/s it reports the server's CPU time per line (from
/proc/PID/stat), its memory per idle connection (10 000 idle clients) and, for
coline's natural server, heap allocations per line in steady state.

Use bench/run.sh, which builds first.
"""
import argparse
import json
import os
import random
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time

SERVERS = {  # name: program and its arguments after HOST PORT ("{port}": it takes a port only)
    "epoll": ["bench/bench_epoll_server"],
    "asio": ["bench/bench_asio_server"],
    "coline-example": ["examples/server", "--quiet"],
    "coline": ["bench/bench_coline_server"],
    # The README's first server as it is (a bare accept loop; it logs each line, to /dev/null here).
    "coline-readme": ["examples/readme_server", "{port}"],
    # A prototype of the operations on coline::task (issue 22's next step): what they can reach.
    "task-prototype": ["bench/bench_task_server"],
}
MODES = {
    "pingpong": ["--mode", "pingpong"],
    "pipelined": ["--mode", "pipelined"],
    "connect": ["--mode", "connect"],
    "pipelined-4k": ["--mode", "pipelined", "--line-length", "4096"],
    "pipelined-16k": ["--mode", "pipelined", "--line-length", "16384"],
}
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def rss_bytes(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_listening(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on port {port}")


class Server:
    def __init__(self, build, name, core):
        self.name = name
        self.log = open(os.path.join(build, f"server-{name}.log"), "w+")
        program, *args = SERVERS[name]
        self.takes_port = takes_port = args == ["{port}"]  # binds 127.0.0.1:PORT and says nothing: pick a port, wait
        if takes_port:
            self.port = free_port()
            args = [str(self.port)]
        else:
            args = ["127.0.0.1", "0", *args]
        self.proc = subprocess.Popen(["taskset", "-c", str(core), os.path.join(build, program), *args],
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        if takes_port:
            wait_until_listening(self.port)
        else:
            self.port = self._wait_for(r"^Listening on .*:(\d+)$")

    def _wait_for(self, pattern, after=0, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.log.seek(after)
            for line in self.log.read().splitlines():
                m = re.match(pattern, line)
                if m:
                    return int(m.group(1)) if m.lastindex == 1 else m.groups()
            time.sleep(0.02)
        raise RuntimeError(f"{self.name}: no line matching {pattern}")

    def allocations(self):
        """(allocations, lines) so far; coline's natural server only."""
        self.log.seek(0, os.SEEK_END)
        after = self.log.tell()
        self.proc.send_signal(signal.SIGUSR1)
        a, l = self._wait_for(r"^allocations (\d+) lines (\d+)$", after)
        return int(a), int(l)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = "killed"
        self.log.close()
        if code != 0 and not (self.takes_port and code == -signal.SIGTERM):  # (the README's server has no handler)
            print(f"warning: {self.name} exited with {code}", file=sys.stderr)


def run_load(build, server, mode, args):
    loadgen = ["taskset", "-c", str(args.loadgen_core), os.path.join(build, "bench/bench_loadgen"),
               "--port", str(server.port), "--duration", str(args.duration), "--warmup", str(args.warmup), *MODES[mode]]
    proc = subprocess.Popen(loadgen, stdout=subprocess.PIPE, text=True)
    time.sleep(args.warmup)
    cpu0 = cpu_seconds(server.proc.pid)
    counts0 = server.allocations() if server.name == "coline" else None
    time.sleep(args.duration)
    cpu1 = cpu_seconds(server.proc.pid)
    counts1 = server.allocations() if server.name == "coline" else None
    out, _ = proc.communicate(timeout=60)
    result = json.loads(out.strip().splitlines()[-1])
    result["server_cpu_us_per_line"] = (cpu1 - cpu0) * 1e6 / max(result["lines"], 1)
    if counts0:
        result["allocations_per_line"] = (counts1[0] - counts0[0]) / max(counts1[1] - counts0[1], 1)
    return result


def idle_memory(build, name, args, count):
    server = Server(build, name, args.server_core)
    try:
        time.sleep(0.2)
        before = rss_bytes(server.proc.pid)
        clients = []
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            clients.append(s)
        for s in clients:
            if not s.recv(64).startswith(b"Connect"):
                raise RuntimeError(f"{name}: no greeting")
        time.sleep(0.5)
        after = rss_bytes(server.proc.pid)
        for s in clients:
            s.close()
        return (after - before) / count
    finally:
        server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build-bench")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=3)
    parser.add_argument("--warmup", type=float, default=1)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--idle-clients", type=int, default=10000)
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--loadgen-core", type=int, default=1)
    parser.add_argument("--out", default=None, help="JSON results (default BUILD/results.json)")
    args = parser.parse_args()
    modes, servers = args.modes.split(","), args.servers.split(",")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # servers and idle clients inherit it

    runs = {}  # (server, mode) -> [results]
    idle = {name: [] for name in servers}
    for round_ in range(args.rounds):
        for mode in modes:
            order = servers[:]
            random.shuffle(order)  # interleaved, in a different order each round
            for name in order:
                server = Server(args.build, name, args.server_core)
                try:
                    result = run_load(args.build, server, mode, args)
                finally:
                    server.stop()
                runs.setdefault((name, mode), []).append(result)
                print(f"round {round_ + 1} {mode:14} {name:15} {result['lines_per_s']:12.0f} lines/s "
                      f"{result['server_cpu_us_per_line']:6.3f} us/line p99 {result['p99_us']:8.1f} us "
                      f"errors {result['errors']}", flush=True)
        if args.idle_clients:
            for name in servers:
                idle[name].append(idle_memory(args.build, name, args, args.idle_clients))
                print(f"round {round_ + 1} idle           {name:15} {idle[name][-1]:8.0f} bytes per idle connection",
                      flush=True)

    med = lambda xs: statistics.median(xs) if xs else float("nan")
    summary = {}
    for (name, mode), results in runs.items():
        summary.setdefault(mode, {})[name] = {
            key: med([r[key] for r in results if key in r])
            for key in ("lines_per_s", "server_cpu_us_per_line", "p50_us", "p99_us", "p999_us", "errors",
                        "allocations_per_line")
            if any(key in r for r in results)
        }
    out = args.out or os.path.join(args.build, "results.json")
    json.dump({"rounds": args.rounds, "duration": args.duration, "summary": summary,
               "idle_bytes_per_connection": {n: med(v) for n, v in idle.items()}, "runs": {
                   f"{n}/{m}": r for (n, m), r in runs.items()}}, open(out, "w"), indent=1)

    print(f"\nMedians of {args.rounds} rounds; ratios are to the epoll reference of the same mode.\n")
    print("| mode | server | lines/s | × epoll | server CPU µs/line | × epoll | p50 µs | p99 µs | p999 µs | errors |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for mode in modes:
        ref = summary[mode].get("epoll")
        for name in servers:
            s = summary[mode][name]
            ratio = s["lines_per_s"] / ref["lines_per_s"] if ref else float("nan")
            cpu_ratio = s["server_cpu_us_per_line"] / ref["server_cpu_us_per_line"] if ref else float("nan")
            print(f"| {mode} | {name} | {s['lines_per_s']:.0f} | {ratio:.2f} | {s['server_cpu_us_per_line']:.3f} | "
                  f"{cpu_ratio:.2f} | {s['p50_us']:.1f} | {s['p99_us']:.1f} | {s['p999_us']:.1f} | {s['errors']:.0f} |")
    print("\n| server | memory per idle connection (bytes) | heap allocations per line (pipelined, pingpong) |")
    print("|---|---:|---|")
    for name in servers:
        allocs = ", ".join(f"{summary[m][name]['allocations_per_line']:.4f}" for m in ("pipelined", "pingpong")
                           if m in summary and "allocations_per_line" in summary[m][name])
        print(f"| {name} | {med(idle[name]):.0f} | {allocs or 'not counted'} |")
    print(f"\nresults: {out}")

    # The chart: lines/s by server and mode (gnuplot, if installed).
    dat = os.path.join(args.build, "lines_per_s.dat")
    with open(dat, "w") as f:
        f.write("mode " + " ".join(servers) + "\n")
        for mode in modes:
            f.write(mode + " " + " ".join(f"{summary[mode][n]['lines_per_s']:.0f}" for n in servers) + "\n")
    png = os.path.join(args.build, "lines_per_s.png")
    try:
        subprocess.run(["gnuplot", "-e", f"data='{dat}'; out='{png}'", "bench/chart.gp"], check=True)
        print(f"chart: {png}")
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"no chart ({e})", file=sys.stderr)


if __name__ == "__main__":
    main()
