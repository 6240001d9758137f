"""The grading kernel's sandbox: a bubblewrap command line and a kernel manager that uses it.

The kernel talks to the judge over Unix sockets (jupyter_client's ``ipc`` transport) in a folder
both can see, because the sandbox has no network at all, loopback included.

What the sandboxed kernel sees (:func:`bwrap_command`):

- ``/`` read-only, with a fresh ``/dev``, ``/proc`` (own PID namespace) and an empty private
  ``/tmp``; no network, IPC or UTS shared with the host;
- the course folder replaced by an empty one, so the gradebook, ``source/``, ``release/`` and every
  other student's work are out of sight, and the repository's instructor notebooks hidden;
- home folders (``/root``, ``$HOME``) hidden, except the Python installation they may hold;
- one writable folder: a copy of the student's own submission, at the path the notebook expects;
- the kernel runs as ``nobody`` when grading runs as root, under RLIMIT_CPU, RLIMIT_AS and
  RLIMIT_NPROC (:mod:`lab_utils.grading.launch`).
"""

from __future__ import annotations

import os
import pwd
import shutil
import site
import sys
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Dict, Instance, List, Unicode

#: The user an instructor running as root hands the student's code to.
NOBODY = "nobody"
_LAUNCH = Path(__file__).with_name("launch.py")


def bwrap_path() -> str | None:
    """The bubblewrap executable, or None where it is not installed (a macOS laptop)."""
    return shutil.which("bwrap")


def sandbox_user() -> tuple[int, int] | None:
    """(uid, gid) to run the kernel as: nobody's when grading runs as root, else None (stay)."""
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam(NOBODY)
    return entry.pw_uid, entry.pw_gid


def needed_paths() -> list[str]:
    """Folders the kernel must read: the Python installation, its packages and this repository."""
    lab_root = Path(__file__).resolve().parents[2]
    paths = {sys.prefix, sys.base_prefix, os.path.realpath(sys.base_prefix), str(lab_root)}
    paths.update(p for p in site.getsitepackages() if os.path.isdir(p))
    paths.update(p for p in sys.path if p and os.path.isdir(p))
    paths.add(os.path.dirname(os.path.dirname(os.path.abspath(sys.executable))))
    spelled = {os.path.abspath(p) for p in paths}
    return sorted(spelled | {os.path.realpath(p) for p in spelled})


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


# Budget: 60 lines, most of them one bubblewrap option each; the whole sandbox in one list, so
# that a reviewer reads what is bound, hidden and unshared in one place.
def bwrap_command(
    kernel_cmd: list[str],
    *,
    work_dir: str,
    work_copy: str,
    exchange_dir: str,
    hidden: list[str],
    env: dict[str, str],
    limits: dict[str, int],
    user: tuple[int, int] | None,
) -> list[str]:
    """The full command line that starts ``kernel_cmd`` inside the sandbox.

    Raises FileNotFoundError where bubblewrap is not installed (the example is then skipped).

    Examples
    --------
    >>> if bwrap_path() is None:
    ...     import pytest; pytest.skip("bubblewrap (bwrap) is not installed")
    >>> command = bwrap_command(
    ...     ["python", "-m", "ipykernel_launcher"],
    ...     work_dir="/course/autograded/s1/ps1",
    ...     work_copy="/staging/work",
    ...     exchange_dir="/staging/exchange",
    ...     hidden=[],
    ...     env={"HOME": "/tmp/home"},
    ...     limits={"cpu": 60, "memory": 2**30, "nproc": 64},
    ...     user=None,
    ... )
    >>> "--unshare-net" in command and "--clearenv" in command     # no network, no inherited env
    True
    >>> writable = command.index("--bind")     # writable: the student's copy, at its own path
    >>> command[writable : writable + 3]
    ['--bind', '/staging/work', '/course/autograded/s1/ps1']
    >>> launcher = command[command.index("--") + 1 :]    # the kernel, under launch.py's limits
    >>> Path(launcher[1]).name, launcher[2:8]
    ('launch.py', ['--cpu', '60', '--memory', '1073741824', '--nproc', '64'])
    >>> launcher[8:]
    ['--', 'python', '-m', 'ipykernel_launcher']
    """
    bwrap = bwrap_path()
    if bwrap is None:
        raise FileNotFoundError("bwrap (bubblewrap) is not installed")
    args = [
        bwrap,
        "--die-with-parent",
        "--new-session",
        "--unshare-net",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--perms",
        "1777",
        "--tmpfs",
        "/dev/shm",
        "--proc",
        "/proc",
    ]
    needed = needed_paths()
    homes = sorted({h for h in ("/root", os.path.expanduser("~")) if os.path.isdir(h) and h != "/"})
    # A private /tmp and empty home folders, with the Python installation and this repository put
    # back where they live under one of them (a clone in /tmp, a pyenv in /root).
    for root, perms in (("/tmp", "1777"), *((home, "0755") for home in homes)):
        args += ["--perms", perms, "--tmpfs", root, *_rebind(root, needed)]
    fresh = ["/tmp", *sorted(homes)]
    for path in hidden:
        if os.path.isdir(path):
            args += ["--tmpfs", path]
            fresh.append(path)
    for target in (work_dir, exchange_dir):
        args += _traversable_parents(target, fresh)
    args += [
        "--bind",
        work_copy,
        work_dir,
        "--bind",
        exchange_dir,
        exchange_dir,
        "--chdir",
        work_dir,
    ]
    # A clean environment: no instructor's tokens, and no JPY_PARENT_PID, which would make ipykernel
    # exit at once (in its own PID namespace its parent is bwrap's init, PID 1); bwrap's
    # --die-with-parent stops the kernel with the judge instead.
    args.append("--clearenv")
    for key, value in env.items():
        args += ["--setenv", key, value]
    return args + ["--", *_launcher(kernel_cmd, limits, user)]


def _rebind(root: str, needed: list[str]) -> list[str]:
    """``--ro-bind`` arguments putting the needed folders under ``root`` back into its new tmpfs."""
    args: list[str] = []
    bound: list[str] = []
    for path in needed:
        if not _under(path, root) or path == root or any(_under(path, b) for b in bound):
            continue
        args += _traversable_parents(path, [root]) + ["--ro-bind", path, path]
        bound.append(path)
    return args


def _traversable_parents(target: str, fresh: list[str]) -> list[str]:
    """``--dir`` arguments making the folders above ``target`` that lie in a new tmpfs 0755.

    bwrap creates a missing mount point's parents as 0700, which the unprivileged kernel could not
    pass through.
    """
    args = []
    for root in fresh:
        if _under(target, root) and target != root:
            parts = Path(target).relative_to(root).parts
            for depth in range(1, len(parts)):
                args += ["--perms", "0755", "--dir", os.path.join(root, *parts[:depth])]
            break
    return args


def _launcher(
    kernel_cmd: list[str], limits: dict[str, int], user: tuple[int, int] | None
) -> list[str]:
    command = [
        sys.executable,
        str(_LAUNCH),
        "--cpu",
        str(limits["cpu"]),
        "--memory",
        str(limits["memory"]),
        "--nproc",
        str(limits["nproc"]),
    ]
    if user is not None:
        command += ["--uid", str(user[0]), "--gid", str(user[1])]
    return command + ["--", *kernel_cmd]


def count_processes(uid: int) -> int:
    """Processes and threads the user runs now (RLIMIT_NPROC counts both)."""
    import psutil

    total = 0
    for process in psutil.process_iter(["uids", "num_threads"]):
        try:
            if process.info["uids"] and process.info["uids"].real == uid:
                total += process.info["num_threads"] or 1
        except (psutil.Error, TypeError):
            continue
    return total


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel runs in bubblewrap (or, without it, only under limits).

    The judge (:class:`lab_utils.grading.SandboxedExecute`) sets ``work_dir`` and ``work_copy``
    (the student's folder and its writable copy), ``exchange_dir`` (sockets, connection file and
    the judge's answer files), ``hidden`` folders and ``limits`` before starting the kernel.
    """

    work_dir = Unicode("")
    work_copy = Unicode("")
    exchange_dir = Unicode("")
    hidden = List(Unicode())
    limits = Dict()
    sandbox_env = Dict()
    use_bwrap = Instance(bool, args=(True,))

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        kernel_cmd = super().format_kernel_cmd(extra_arguments)
        user = sandbox_user()
        limits = dict(self.limits)
        limits["nproc"] = limits["nproc"] + count_processes(user[0] if user else os.getuid())
        if not self.use_bwrap:
            return _launcher(kernel_cmd, limits, None)
        return bwrap_command(
            kernel_cmd,
            work_dir=self.work_dir,
            work_copy=self.work_copy,
            exchange_dir=self.exchange_dir,
            hidden=list(self.hidden),
            env=dict(self.sandbox_env),
            limits=limits,
            user=user,
        )

    async def _async_interrupt_kernel(self) -> None:
        """Interrupt by message: a SIGINT to the process group would stop bwrap, and the kernel with it."""
        if not self.use_bwrap:
            await super()._async_interrupt_kernel()
            return
        self._connect_control_socket()
        self.session.send(self._control_socket, self.session.msg("interrupt_request", content={}))

    interrupt_kernel = _async_interrupt_kernel

    async def _async_pre_start_kernel(self, **kw):
        kernel_cmd, kw = await super()._async_pre_start_kernel(**kw)
        # Only what the kernel needs: no instructor's tokens or credentials reach student code.
        env = dict(self.sandbox_env)
        if not self.use_bwrap and "JPY_PARENT_PID" in (kw.get("env") or {}):
            env["JPY_PARENT_PID"] = kw["env"]["JPY_PARENT_PID"]
        kw["env"] = env
        kw["cwd"] = self.work_dir if not self.use_bwrap else "/"
        user = sandbox_user()
        if user is not None and self.use_bwrap:
            # The kernel (nobody) reads the connection file and binds sockets in exchange_dir.
            for path in Path(self.exchange_dir).iterdir():
                os.chown(path, *user)
        return kernel_cmd, kw
