"""A kernel zygote: one process imports the lab's heavy libraries once, then forks every kernel.

A student keeps several notebooks open, and four of them import TensorFlow. Each kernel that imports
it on its own holds about 400 MB that nobody else can share: the Python objects of TensorFlow and
Keras and the heap their C++ libraries build while loading (only the libraries' code, mapped from
files, is shared). A kernel *forked* from a process that has already imported them starts with all
of those pages shared, copy-on-write, and copies only the pages it changes (benchmarks/
student_memory.py measures it; the figures are in classroom/jupyterhub.md). It also starts in a
fraction of a second: ``import tensorflow`` in the notebook finds the module already loaded.

The zygote is started by :mod:`lab_utils.kernel_provisioner` inside a Jupyter server (one per
server, so one per student) and speaks to it over a Unix socket in a private directory (mode 0700),
one JSON line per request::

    {"argv": ["-f", "/path/kernel-1.json"], "env": {...}, "cwd": "/home/student/notebooks"}

It answers ``{"pid": 1234}`` and keeps the connection open; when that kernel exits it writes
``{"exit": 0}`` (the code as :class:`subprocess.Popen` reports it) and closes the connection, so
the provisioner learns of the exit without polling a pid that may be reused.

The forked child becomes what ``python -m ipykernel_launcher -f FILE`` would be: a session of its
own (so the server can signal its whole process group, as it does for any kernel), the requested
working directory and environment, standard input from ``/dev/null``, default signal handlers,
fresh random seeds (NumPy's global generator and Python's ``random``), and ``JPY_PARENT_PID`` set to
the zygote, whose exit then stops the kernel (ipykernel watches its parent). The zygote itself
exits within a second of the server that started it (it watches its own parent the same way;
Linux's ``PR_SET_PDEATHSIG`` would fire when the server's *thread* that started it ends, and the
server starts it from a worker thread).

What is imported here must not have run anything that belongs to one kernel: no matplotlib backend
is chosen (``matplotlib_inline`` and ``ipympl`` set themselves up against the kernel's own shell
when first imported, so they are left to the kernel), no thread pool of TensorFlow is started, no
ZeroMQ context is made.

Usage (by the provisioner)::

    python -m lab_utils.kernel_zygote SOCKET_PATH

Examples
--------
>>> decode(encode({"pid": 12}))
{'pid': 12}
>>> kernel_arguments(["-f", "/tmp/kernel-1.json"])
['-f', '/tmp/kernel-1.json']
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import selectors
import signal
import socket
import sys
import traceback
from typing import Any

# The libraries the notebooks import that take seconds and hundreds of MB to load, in import order.
# TensorFlow and Keras are most of it (about 400 MB per kernel); the rest is what every notebook or
# its explorers load anyway. ipympl and matplotlib_inline are left out on purpose (see the module
# docstring), and so is lab_utils itself: it is the lab's own code, which an instructor may update
# while the server runs, so each kernel imports it afresh (the child drops the zygote's copy).
PRELOAD = (
    "numpy",
    "scipy.special",
    "scipy.stats",
    "matplotlib",
    "matplotlib.pyplot",
    "sklearn.datasets",
    "sklearn.linear_model",
    "sklearn.metrics",
    "sklearn.model_selection",
    "sklearn.feature_extraction.text",
    "IPython",
    "ipykernel.kernelapp",
    "tensorflow",
    "keras",
)

# Modules that must not be imported in the zygote: each configures itself for the shell (or the
# figure manager) of the kernel that imports it, once, at import.
KERNEL_OWN_MODULES = ("matplotlib_inline.backend_inline", "ipympl")

# sys.path[0] of ``python -m``: the directory the zygote was started in.
_LAUNCH_PATH = sys.path[0] if sys.path else ""


def encode(message: dict[str, Any]) -> bytes:
    """One message as a line of JSON (the socket's framing)."""
    return json.dumps(message).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    """The message of one line of JSON; ValueError if it is not an object."""
    message = json.loads(line)
    if not isinstance(message, dict):
        raise ValueError(f"a zygote message must be a JSON object, got {line[:80]!r}")
    return message


def kernel_arguments(argv: Any) -> list[str]:
    """The kernel's command-line arguments from a request, checked to be a list of strings."""
    if not isinstance(argv, list) or not all(isinstance(arg, str) for arg in argv):
        raise ValueError(f"argv must be a list of strings, got {argv!r}")
    return list(argv)


def preload(modules: tuple[str, ...] = PRELOAD) -> None:
    """Import ``modules`` quietly, as the lab's kernels would, and leave the heap settled.

    TensorFlow goes through :func:`lab_utils.environment.import_tensorflow`, so it reads the same
    logging settings as in a kernel. ``gc.freeze`` then moves every object into the permanent
    generation: a kernel's garbage collections never visit (and so never copy) the shared pages.
    """
    # What ipykernel sets in every kernel before matplotlib is imported (its default backend).
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    from lab_utils.environment import import_tensorflow

    for name in modules:
        if name == "tensorflow":
            import_tensorflow()
        else:
            importlib.import_module(name)
    leaked = [name for name in KERNEL_OWN_MODULES if name in sys.modules]
    if leaked:
        raise RuntimeError(f"the zygote must not import {leaked}: kernels set them up themselves")
    gc.collect()
    gc.freeze()


class Zygote:
    """The serving loop: accept a request, fork a kernel, report its exit on the same connection."""

    def __init__(self, socket_path: str):
        self.parent = os.getppid()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(socket_path)  # bound only now, after preload: connecting means ready
        self.listener.listen(16)
        self.wakeup_r, self.wakeup_w = socket.socketpair()
        self.wakeup_w.setblocking(False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, "accept")
        self.selector.register(self.wakeup_r, selectors.EVENT_READ, "child")
        self.kernels: dict[int, socket.socket] = {}  # pid -> the connection that asked for it

    def serve(self) -> dict[str, Any]:
        """Serve until killed; return a request only in a freshly forked kernel process."""
        signal.set_wakeup_fd(self.wakeup_w.fileno())
        signal.signal(signal.SIGCHLD, lambda *args: None)  # wakes the selector via the wakeup fd
        while True:
            for key, _ in self.selector.select(timeout=1.0):
                if key.data == "child":
                    self.wakeup_r.recv(4096)
                elif (request := self._accept()) is not None:
                    return request
            self._reap()
            if os.getppid() != self.parent:  # the server is gone
                raise SystemExit(0)

    def _accept(self) -> dict[str, Any] | None:
        connection, _ = self.listener.accept()
        try:
            connection.settimeout(10)
            line = connection.makefile("rb").readline()
            request = decode(line)
            kernel_arguments(request.get("argv"))
        except (OSError, ValueError) as error:
            _send(connection, {"error": f"bad request: {error}"})
            connection.close()
            return None
        pid = os.fork()
        if pid == 0:
            self._become_child(connection)
            return request
        self.kernels[pid] = connection
        _send(connection, {"pid": pid})
        return None

    def _reap(self) -> None:
        """Collect every exited kernel and tell its provisioner the exit code."""
        while self.kernels:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            connection = self.kernels.pop(pid, None)
            if connection is not None:
                _send(connection, {"exit": os.waitstatus_to_exitcode(status)})
                connection.close()

    def _become_child(self, connection: socket.socket) -> None:
        """In the forked child: drop everything of the zygote's serving loop."""
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as in any new Python process
        self.selector.close()
        for sock in [
            self.listener,
            self.wakeup_r,
            self.wakeup_w,
            connection,
            *self.kernels.values(),
        ]:
            sock.close()


def _send(connection: socket.socket, message: dict[str, Any]) -> None:
    try:
        connection.sendall(encode(message))
    except OSError:
        pass  # the provisioner went away; the kernel's fate is the server's business now


def become_kernel(request: dict[str, Any]) -> None:
    """Turn this forked process into ``python -m ipykernel_launcher ARGV`` and run the kernel."""
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    cwd = request.get("cwd") or os.getcwd()
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in (request.get("env") or {}).items()})
    os.environ["JPY_PARENT_PID"] = str(os.getppid())  # the zygote: the kernel stops when it does
    import random

    import numpy as np

    random.seed()  # Python reseeds at fork already; NumPy's legacy global generator does not
    np.random.seed()
    # As ipykernel_launcher: the launch directory is not on sys.path (IPython adds '' back).
    if sys.path and sys.path[0] == _LAUNCH_PATH:
        del sys.path[0]
    # The lab's own modules are imported afresh by the kernel (``-m`` imported the package here).
    for name in [name for name in sys.modules if name.split(".")[0] == "lab_utils"]:
        del sys.modules[name]
    import ipykernel_launcher
    from ipykernel import kernelapp

    # ipykernel reads JPY_PARENT_PID when it is imported (here, in the zygote): say it again.
    parent = f"--IPKernelApp.parent_handle={os.getppid()}"
    sys.argv = [ipykernel_launcher.__file__, *kernel_arguments(request["argv"]), parent]
    kernelapp.launch_new_instance()


def main(argv: list[str]) -> int:
    """Preload, serve; in each forked child, run the kernel it was forked for."""
    if len(argv) != 1:
        print("usage: python -m lab_utils.kernel_zygote SOCKET_PATH", file=sys.stderr)
        return 2
    signal.signal(
        signal.SIGINT, signal.SIG_IGN
    )  # Ctrl-C at the server's terminal is for the server
    try:
        preload()
    except Exception:
        traceback.print_exc()
        return 1  # the provisioner sees the exit and launches kernels the ordinary way
    request = Zygote(argv[0]).serve()
    become_kernel(request)  # only a forked child gets here
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
