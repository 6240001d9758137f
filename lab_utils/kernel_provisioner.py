"""A Jupyter kernel provisioner that forks kernels from a zygote, so they share TensorFlow's memory.

jupyter_client starts a kernel through a *provisioner*; the default one (``LocalProvisioner``) runs
``python -m ipykernel_launcher -f FILE`` as a new process, which imports everything again. This one
asks a :mod:`lab_utils.kernel_zygote` (started on first use, one per server) to fork the kernel
instead, and manages the forked process exactly as the default manages its own: the same
connection file, signals to the kernel's process group, interrupts, restarts, culling. Anything it
cannot fork (another kernel command, a zygote that fails to start) is launched the ordinary way,
with a warning in the server's log.

It is switched on by server configuration (``binder/jupyter_server_config.py``, for Binder and the
hub, where a memory limit counts every kernel)::

    c.KernelProvisionerFactory.default_provisioner_name = "softmax-lab-zygote"

and registered under that name by ``pyproject.toml``'s ``jupyter_client.kernel_provisioners``
entry point. A library upgraded while the server runs reaches new kernels only after a server
restart (the zygote keeps what it imported); the lab's own ``lab_utils`` is imported afresh by
every kernel.

Examples
--------
>>> import sys
>>> forkable([sys.executable, "-m", "ipykernel_launcher", "-f", "/tmp/k.json"])
['-f', '/tmp/k.json']
>>> forkable(["/usr/bin/R", "--slave"]) is None
True
"""

from __future__ import annotations

import asyncio
import atexit
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning import LocalProvisioner

from .kernel_zygote import decode, encode

# A zygote imports TensorFlow before it listens: on a loaded 2-core machine that has taken 20 s.
ZYGOTE_START_TIMEOUT = 120.0


def forkable(cmd: list[str]) -> list[str] | None:
    """The kernel's arguments if ``cmd`` is this Python's ``-m ipykernel_launcher``, else None.

    Linux only: on macOS a process that has loaded system frameworks must not fork without exec
    (and TensorFlow loads them), and Windows has no fork; there every kernel starts the ordinary way.
    """
    if not sys.platform.startswith("linux"):
        return None
    if len(cmd) >= 3 and cmd[1:3] == ["-m", "ipykernel_launcher"]:
        if os.path.realpath(shutil.which(cmd[0]) or cmd[0]) == os.path.realpath(sys.executable):
            return list(cmd[3:])
    return None


class ZygoteUnavailable(RuntimeError):
    """The zygote could not be started or reached; the kernel is launched the ordinary way."""


class ZygoteClient:
    """The server's handle on its one zygote process: started on first use, restarted if it died."""

    def __init__(self):
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._directory: str | None = None
        self._socket_path = ""
        atexit.register(self.stop)

    def fork(self, argv: list[str], env: dict[str, str], cwd: str) -> ForkedKernel:
        """Fork a kernel with these arguments, environment and directory (blocking)."""
        with self._lock:
            self._ensure_started()
            connection = self._connect()
        try:
            connection.sendall(encode({"argv": argv, "env": env, "cwd": cwd}))
            reply = decode(_read_line(connection, timeout=30))
        except (OSError, ValueError) as error:
            connection.close()
            raise ZygoteUnavailable(f"the zygote did not fork the kernel: {error}") from error
        if "pid" not in reply:
            connection.close()
            raise ZygoteUnavailable(f"the zygote refused the kernel: {reply.get('error')}")
        return ForkedKernel(int(reply["pid"]), connection)

    def _ensure_started(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        self.stop()
        self._directory = tempfile.mkdtemp(prefix="softmax-lab-zygote-")  # mode 0700
        self._socket_path = os.path.join(self._directory, "zygote.sock")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "lab_utils.kernel_zygote", self._socket_path],
            stdin=subprocess.DEVNULL,
        )

    def _connect(self) -> socket.socket:
        """Connect to the zygote, waiting while it imports (it listens only once it is ready)."""
        deadline = time.monotonic() + ZYGOTE_START_TIMEOUT
        while True:
            connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                connection.connect(self._socket_path)
                return connection
            except OSError:
                connection.close()
            assert self._process is not None
            if self._process.poll() is not None:
                raise ZygoteUnavailable(f"the zygote exited with code {self._process.returncode}")
            if time.monotonic() > deadline:
                raise ZygoteUnavailable(f"the zygote was not ready in {ZYGOTE_START_TIMEOUT:.0f} s")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop the zygote (its kernels notice and stop too) and remove its socket directory."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None


def _read_line(connection: socket.socket, timeout: float) -> bytes:
    connection.settimeout(timeout)
    data = b""
    while not data.endswith(b"\n"):
        chunk = connection.recv(4096)
        if not chunk:
            raise OSError("the zygote closed the connection")
        data += chunk
    return data


class ForkedKernel:
    """A forked kernel behind the small part of :class:`subprocess.Popen` a provisioner uses.

    The zygote, its parent, reaps it and writes its exit code to ``connection``; until then the
    kernel is alive, and signals go to it by pid (its process group is its own, as for a Popen
    kernel started in a new session).
    """

    stdin = stdout = stderr = None

    def __init__(self, pid: int, connection: socket.socket):
        self.pid = pid
        self.returncode: int | None = None
        self._connection = connection

    def poll(self) -> int | None:
        """The exit code if the kernel has exited, else None (never blocks)."""
        if self.returncode is None and select.select([self._connection], [], [], 0)[0]:
            self._read_exit(timeout=1.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Block until the kernel has exited; its exit code."""
        if self.returncode is None:
            if not select.select([self._connection], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout or 0)
            self._read_exit(timeout=1.0)
        assert self.returncode is not None
        return self.returncode

    def _read_exit(self, timeout: float) -> None:
        try:
            self.returncode = int(decode(_read_line(self._connection, timeout)).get("exit", -1))
        except (OSError, ValueError):
            self.returncode = -1  # the zygote died: so did (or will) its kernels
        self._connection.close()

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


_ZYGOTE = ZygoteClient()


class ZygoteProvisioner(LocalProvisioner):
    """``LocalProvisioner``, but an ipykernel of this Python is forked from the zygote."""

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        argv = forkable(cmd)
        if argv is None:
            return await super().launch_kernel(cmd, **kwargs)
        env = dict(kwargs.get("env") or os.environ)
        cwd = str(kwargs.get("cwd") or os.getcwd())
        try:
            process = await asyncio.to_thread(_ZYGOTE.fork, argv, env, cwd)
        except ZygoteUnavailable as error:
            self.log.warning("%s; starting the kernel the ordinary way", error)
            return await super().launch_kernel(cmd, **kwargs)
        self.process = process
        self.pid = self.pgid = process.pid  # the kernel called setsid(): its own process group
        self.cwd = cwd
        return self.connection_info
