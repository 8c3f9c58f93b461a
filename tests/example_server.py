"""An example server started for a test: on 127.0.0.1 and a port the kernel
picks (read from its "Listening on" line), stopped by its PID."""
import os
import re
import socket
import subprocess
import tempfile
import time


class ExampleServer:
    def __init__(self, binary, *args, workdir=None, name="server", keep_output=True):
        self._dir = None if workdir else tempfile.TemporaryDirectory()
        workdir = workdir or self._dir.name
        self.out_path = os.path.join(workdir, name + ".out")
        self.err_path = os.path.join(workdir, name + ".err")
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen([binary, "127.0.0.1", "0", *args],
                                         stdout=out if keep_output else subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            m = re.search(r"Listening on 127\.0\.0\.1:(\d+)", self.err())
            if m:
                self.port = int(m.group(1))
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.proc.kill()
        raise RuntimeError(f"{binary} did not start: {self.err()}")

    def out(self):
        with open(self.out_path, "rb") as f:
            return f.read()

    def err(self):
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def connect(self, timeout=10):
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def wait_exit(self, limit):
        """The exit status, or None if it did not exit within `limit` seconds (then it is killed)."""
        try:
            return self.proc.wait(limit)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def __del__(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
