#!/usr/bin/env python3
"""Instructions per await, coline::task against asio::awaitable, under
callgrind: each kind runs COUNT and 2*COUNT awaits, and the difference of the
two counts (of `measure` and what it calls) divided by COUNT is the cost of
one await, set-up and warm-up cancelled out. Deterministic: a noisy machine
does not move it. Use bench/task_cost.sh, which builds first.
"""
import argparse
import os
import re
import subprocess
import tempfile

KINDS = [("ready_awaiter", "task: await_ready() true (a buffered line)", None),
         ("nested_task", "task awaits a task that returns at once", "nested_awaitable"),
         ("nested_awaitable", "asio::awaitable awaits one that returns at once", None),
         ("post_task", "task awaits asio::post(coline::use_task)", "post_awaitable"),
         ("post_awaitable", "asio::awaitable awaits asio::post(use_awaitable)", None)]


def instructions(program, kind, count):
    with tempfile.TemporaryDirectory(prefix="coline-task-cost-") as out_dir:
        out = os.path.join(out_dir, "callgrind.out")
        subprocess.run(["valgrind", "--tool=callgrind", "--toggle-collect=*measure*", f"--callgrind-out-file={out}",
                        program, kind, str(count)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(out) as f:
            totals = re.search(r"^(?:summary|totals): (\d+)", f.read(), re.M)
        return int(totals.group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build-bench")
    parser.add_argument("--count", type=int, default=100_000)
    args = parser.parse_args()
    program = os.path.join(args.build, "bench", "bench_task_cost")
    cost = {}
    for kind, _, _ in KINDS:
        cost[kind] = (instructions(program, kind, 2 * args.count) - instructions(program, kind, args.count)) / args.count
    print(f"{'await':<52} {'instructions':>12} {'vs asio::awaitable':>19}")
    for kind, what, reference in KINDS:
        ratio = f"{cost[kind] / cost[reference]:.2f}x" if reference else ""
        print(f"{what:<52} {cost[kind]:>12.0f} {ratio:>19}")


if __name__ == "__main__":
    main()
