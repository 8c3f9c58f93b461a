#!/usr/bin/python3
"""Stalled TLS handshakes against examples/tls_server, measured from outside.

    bench/tls_attack.py build/examples/tls_server [--stalled 3000] [--fd-limit 256 --silent 400]

Two scenarios, loopback only, each bounded in count and time:
1. `--stalled N` connections each send a ClientHello and then stall. While
   they connect, hold their slots and close, a normal client does the whole
   exchange (handshake, "Connect", "SOME data", the answer) every 50 ms; the
   script reports its latencies and the server's memory (RSS) before the
   attack, at its peak, and after the stalled connections closed.
2. With the server's descriptor limit at `--fd-limit`, `--silent` connections
   that send nothing; reports how long a normal client waits to be served.
The server runs with its default options (and `--max-clients` if given)."""

import argparse
import os
import resource
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def make_certificate(folder):
    cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "1", "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(binary, port, cert, key, extra, fd_limit=None):
    command = [binary, "127.0.0.1", str(port), cert, key, *extra]
    if fd_limit:
        command = ["prlimit", f"--nofile={fd_limit}:{fd_limit}", *command]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        line = server.stderr.readline()
        if line.startswith("Listening"):
            # keep draining stderr so the server never blocks on a full pipe
            threading.Thread(target=lambda: [None for _ in server.stderr], daemon=True).start()
            return server
    server.kill()
    sys.exit("tls_server did not start")


def normal_exchange(port, context, limit=15.0):
    """Seconds for a whole exchange, or None if it failed or took longer than `limit`."""
    start = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=limit) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                reader = tls.makefile("rb")
                if reader.readline() != b"Connect\n":
                    return None
                tls.sendall(b"SOME data\n")
                if reader.readline() != b"Information received\n":
                    return None
    except (OSError, ssl.SSLError):
        return None
    return time.monotonic() - start


def stalled_client(port):
    """A socket that has sent a ClientHello and will say nothing more."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(outgoing.read())
    return s


def median(values):
    values = sorted(values)
    return values[len(values) // 2] if values else float("nan")


def stalled_handshakes(args, cert, key):
    port = free_port()
    extra = ["--max-clients", str(args.max_clients)] if args.max_clients else []
    server = start_server(args.server, port, cert, key, extra, fd_limit=args.stalled + 1024)
    context = ssl.create_default_context(cafile=cert)
    try:
        for _ in range(20):  # warm up: the server's steady state for one client
            normal_exchange(port, context)
        before = rss_kib(server.pid)

        # The normal client runs in a process of its own, so that opening the
        # stalled connections here does not delay it.
        prober = subprocess.Popen([sys.executable, __file__, "--probe", str(port), cert], stdout=subprocess.PIPE,
                                  stdin=subprocess.PIPE, text=True)
        stalled, peak = [], before
        for _ in range(args.stalled):
            try:
                stalled.append(stalled_client(port))
            except OSError:
                break
            if len(stalled) % 250 == 0:
                peak = max(peak, rss_kib(server.pid))
        hold_until = time.monotonic() + 2
        while time.monotonic() < hold_until:
            peak = max(peak, rss_kib(server.pid))
            time.sleep(0.1)
        opened = len(stalled)
        for s in stalled:
            s.close()
        time.sleep(1.0)  # let the server see the closes
        out, _ = prober.communicate("stop\n", timeout=60)
        results = [line.split() for line in out.splitlines()]
        latencies = [float(r[1]) for r in results if r[0] == "ok"]
        failures = [sum(1 for r in results if r[0] == "failed")]
        for _ in range(20):
            normal_exchange(port, context)
        after = rss_kib(server.pid)
        print(f"stalled handshakes: {opened} opened; normal client: {len(latencies)} exchanges, "
              f"{failures[0]} failed, median {median(latencies) * 1000:.1f} ms, "
              f"max {max(latencies, default=float('nan')) * 1000:.1f} ms")
        print(f"server RSS: before {before} KiB, peak {peak} KiB "
              f"({(peak - before) * 1024 / max(opened, 1):.0f} B per stalled handshake), "
              f"after {after} KiB ({(after - before) * 100 / before:+.1f} %)")
        return failures[0] == 0 and latencies and max(latencies) < 0.1 and after <= before * 1.10
    finally:
        server.terminate()
        server.wait(timeout=30)


def low_descriptor_limit(args, cert, key):
    port = free_port()
    server = start_server(args.server, port, cert, key, [], fd_limit=args.fd_limit)
    context = ssl.create_default_context(cafile=cert)
    try:
        silent = []
        for _ in range(args.silent):
            try:
                silent.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            except OSError:
                break
        time.sleep(0.5)  # the server has accepted what it can
        took = normal_exchange(port, context, limit=30)
        print(f"descriptor limit {args.fd_limit}, {len(silent)} silent connections: normal client "
              + ("failed" if took is None else f"served after {took:.2f} s"))
        for s in silent:
            s.close()
        return took is not None
    finally:
        server.terminate()
        server.wait(timeout=30)


def probe(port, cert):
    """Runs normal exchanges every 50 ms until a line arrives on stdin."""
    context = ssl.create_default_context(cafile=cert)
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
    while not stop.is_set():
        took = normal_exchange(port, context)
        print("failed" if took is None else f"ok {took:.6f}", flush=True)
        stop.wait(0.05)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--probe":
        probe(int(sys.argv[2]), sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("server")
    parser.add_argument("--stalled", type=int, default=3000)
    parser.add_argument("--max-clients", type=int, default=0)
    parser.add_argument("--fd-limit", type=int, default=256)
    parser.add_argument("--silent", type=int, default=400)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, args.stalled + 1024)), hard))
    with tempfile.TemporaryDirectory() as folder:
        cert, key = make_certificate(folder)
        ok = stalled_handshakes(args, cert, key)
        ok = low_descriptor_limit(args, cert, key) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
