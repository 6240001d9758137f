"""Kernels forked from the zygote (lab_utils/kernel_zygote.py, lab_utils/kernel_provisioner.py).

Real kernels through jupyter_client's own AsyncKernelManager, with the provisioner chosen the way
binder/jupyter_server_config.py chooses it (the factory's default). Each test stops what it
started: its kernels, and the zygote at the end of the module.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import runpy
import socket
import sys
import time
from pathlib import Path

import psutil
import pytest
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning.factory import KernelProvisionerFactory
from traitlets.config import Config

from lab_utils import kernel_provisioner
from lab_utils.kernel_provisioner import ZygoteProvisioner, ZygoteUnavailable, forkable

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [
    pytest.mark.tensorflow,  # the zygote imports TensorFlow
    pytest.mark.skipif(
        not sys.platform.startswith("linux"), reason="kernels are forked on Linux only"
    ),
]


@pytest.fixture(scope="module", autouse=True)
def stop_zygote_afterwards():
    yield
    kernel_provisioner._ZYGOTE.stop()


@pytest.fixture
def zygote_default(monkeypatch):
    monkeypatch.setattr(
        KernelProvisionerFactory.instance(), "default_provisioner_name", "softmax-lab-zygote"
    )


async def _start(cwd: Path, **env: str) -> AsyncKernelManager:
    manager = AsyncKernelManager(kernel_name="python3")
    await manager.start_kernel(cwd=str(cwd), env={**os.environ, **env})
    return manager


async def _run(manager: AsyncKernelManager, code: str, timeout: float = 60) -> tuple[str, dict]:
    """Execute ``code``; its stdout, and the execute reply's content."""
    client = manager.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=120)
        out: list[str] = []
        reply = await client.execute_interactive(
            code,
            timeout=timeout,
            output_hook=lambda msg: (
                out.append(msg["content"].get("text", "")) if msg["msg_type"] == "stream" else None
            ),
        )
        return "".join(out), reply["content"]
    finally:
        client.stop_channels()


def _zygote_pid() -> int:
    process = kernel_provisioner._ZYGOTE._process
    assert process is not None and process.poll() is None, "the zygote should be running"
    return process.pid


def _wait_gone(pid: int, timeout: float = 20) -> None:
    """Assert that process ``pid`` is gone (or a zombie about to be reaped) within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.1)
    raise AssertionError(f"process {pid} is still running after {timeout} s")


PROBE = """
import json, os, sys
import numpy as np
print(json.dumps({
    "pid": os.getpid(), "ppid": os.getppid(), "sid": os.getsid(0), "cwd": os.getcwd(),
    "tensorflow_loaded": "tensorflow" in sys.modules, "lab_utils_loaded": "lab_utils" in sys.modules,
    "marker": os.environ.get("SOFTMAX_LAB_MARKER"), "draw": float(np.random.rand()),
    "backend": __import__("matplotlib").get_backend(),
}))
"""


def test_kernels_are_forked_from_the_zygote_and_look_like_fresh_kernels(zygote_default, tmp_path):
    async def scenario():
        first = await _start(tmp_path, SOFTMAX_LAB_MARKER="one")
        second = await _start(tmp_path, SOFTMAX_LAB_MARKER="two")
        try:
            assert isinstance(first.provisioner, ZygoteProvisioner)
            probes = [json.loads((await _run(m, PROBE))[0]) for m in (first, second)]
            # TensorFlow came with the fork; a notebook's own import then finds it loaded.
            out, reply = await _run(
                first, "import tensorflow as tf\nprint(int(tf.reduce_sum(tf.ones((2, 3)))))"
            )
            assert reply["status"] == "ok" and out.strip() == "6"
            return probes, [first.provisioner.pid, second.provisioner.pid]
        finally:
            for manager in (first, second):
                await manager.shutdown_kernel(now=True)

    probes, pids = asyncio.run(scenario())
    zygote = _zygote_pid()
    for probe, pid, marker in zip(probes, pids, ["one", "two"], strict=True):
        assert probe["pid"] == pid and probe["ppid"] == zygote
        assert probe["sid"] == pid, "a kernel leads a session of its own, as a Popen kernel does"
        assert probe["cwd"] == str(tmp_path)
        assert probe["marker"] == marker, "each kernel gets the environment it was started with"
        assert probe["tensorflow_loaded"] is True
        assert probe["lab_utils_loaded"] is False, "the lab's own code is imported afresh"
        assert probe["backend"] == "module://matplotlib_inline.backend_inline"
    assert probes[0]["draw"] != probes[1]["draw"], "NumPy's global generator is reseeded per kernel"
    deadline = time.monotonic() + 10
    while psutil.Process(zygote).children() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert psutil.Process(zygote).children() == [], "shut-down kernels are reaped by the zygote"


def test_forked_kernel_interrupts_restarts_and_shuts_down(zygote_default, tmp_path):
    async def scenario():
        manager = await _start(tmp_path)
        try:
            client = manager.client()
            client.start_channels()
            await client.wait_for_ready(timeout=120)
            msg_id = client.execute("import time\ntime.sleep(60)")
            await asyncio.sleep(1.0)
            await manager.interrupt_kernel()
            while True:
                reply = await client.get_shell_msg(timeout=30)
                if reply["parent_header"].get("msg_id") == msg_id:
                    break
            client.stop_channels()
            old_pid = manager.provisioner.pid
            await manager.restart_kernel(now=True)
            out, _ = await _run(manager, "print(40 + 2)")
            new_pid = manager.provisioner.pid
        finally:
            await manager.shutdown_kernel(now=True)
        return reply["content"], old_pid, new_pid, out, await manager.is_alive()

    interrupted, old_pid, new_pid, out, alive = asyncio.run(scenario())
    assert interrupted["status"] == "error" and interrupted["ename"] == "KeyboardInterrupt"
    assert new_pid != old_pid and out.strip() == "42"
    assert not alive
    _wait_gone(old_pid)
    _wait_gone(new_pid)


def test_a_dead_zygote_takes_its_kernels_with_it_and_is_started_again(zygote_default, tmp_path):
    async def start_and_probe():
        manager = await _start(tmp_path)
        out, _ = await _run(manager, PROBE)
        return manager, json.loads(out)

    async def scenario():
        manager, probe = await start_and_probe()
        assert probe["ppid"] == _zygote_pid(), "the kernel should have been forked"
        zygote = psutil.Process(probe["ppid"])
        zygote.kill()
        zygote.wait(10)
        # The orphaned kernel sees its parent change and exits; the provisioner reports it dead.
        deadline = time.monotonic() + 20
        while await manager.is_alive() and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        dead = not await manager.is_alive()
        await manager.shutdown_kernel(now=True)
        again, probe_again = await start_and_probe()
        await again.shutdown_kernel(now=True)
        return dead, probe, probe_again

    dead, probe, probe_again = asyncio.run(scenario())
    assert dead
    _wait_gone(probe["pid"])
    assert probe_again["ppid"] != probe["ppid"], "a new zygote"
    assert probe_again["ppid"] == _zygote_pid()


def test_a_kernel_that_cannot_be_forked_starts_the_ordinary_way(
    zygote_default, tmp_path, monkeypatch, caplog
):
    class Broken:
        def fork(self, argv, env, cwd):
            raise ZygoteUnavailable("the zygote exited with code 1")

    monkeypatch.setattr(kernel_provisioner, "_ZYGOTE", Broken())

    async def scenario():
        manager = await _start(tmp_path)
        try:
            out, _ = await _run(manager, PROBE)
        finally:
            await manager.shutdown_kernel(now=True)
        return json.loads(out)

    probe = asyncio.run(scenario())
    assert probe["ppid"] == os.getpid(), "launched by jupyter_client itself"
    assert probe["tensorflow_loaded"] is False
    assert "starting the kernel the ordinary way" in caplog.text


def test_forkable_only_takes_this_pythons_ipykernel_on_linux(monkeypatch):
    assert forkable([sys.executable, "-m", "ipykernel_launcher", "-f", "k.json"]) == [
        "-f",
        "k.json",
    ]
    assert forkable(["/no/such/python", "-m", "ipykernel_launcher", "-f", "k.json"]) is None
    assert forkable([sys.executable, "-m", "ipykernel", "-f", "k.json"]) is None
    assert forkable(["R", "--slave"]) is None
    monkeypatch.setattr(sys, "platform", "darwin")
    assert forkable([sys.executable, "-m", "ipykernel_launcher", "-f", "k.json"]) is None


def test_the_zygote_refuses_a_bad_request_and_keeps_serving(zygote_default, tmp_path):
    async def one_kernel():
        manager = await _start(tmp_path)
        out, _ = await _run(manager, "print('alive')")
        await manager.shutdown_kernel(now=True)
        return out.strip()

    assert asyncio.run(one_kernel()) == "alive"  # the zygote is running now
    for request in [b"not json\n", b'{"argv": "-f k.json"}\n', b"[1, 2]\n"]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.connect(kernel_provisioner._ZYGOTE._socket_path)
            connection.sendall(request)
            connection.settimeout(10)
            reply = json.loads(connection.makefile("rb").readline())
        assert "pid" not in reply and reply["error"].startswith("bad request")
    assert asyncio.run(one_kernel()) == "alive"


def test_binder_config_chooses_the_zygote_and_the_entry_point_names_it():
    config = Config()
    runpy.run_path(
        str(ROOT / "binder" / "jupyter_server_config.py"),
        init_globals={"get_config": lambda: config},
    )
    name = config.KernelProvisionerFactory.default_provisioner_name
    factory = KernelProvisionerFactory.instance()
    assert factory._check_availability(name), f"{name} is not registered (pyproject entry point)"
    assert factory.provisioners[name].load() is ZygoteProvisioner


# --- inside a real Jupyter server -----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server:
    """``jupyter server`` on 127.0.0.1 with kernels forked from the zygote, and ``extra`` options."""

    def __init__(self, work: Path, *extra: str):
        import secrets
        import subprocess

        self.port, self.token = _free_port(), secrets.token_hex(8)
        env = dict(os.environ, JUPYTER_CONFIG_DIR=str(work / "config"))
        env.update(JUPYTER_RUNTIME_DIR=str(work / "runtime"), JUPYTER_DATA_DIR=str(work / "data"))
        env.pop("JUPYTER_TOKEN", None)
        self.log = open(work / "server.log", "wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter_server",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={self.port}",
                "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={self.token}",
                f"--ServerApp.root_dir={work}",
                "--allow-root",
                "--KernelProvisionerFactory.default_provisioner_name=softmax-lab-zygote",
                *extra,
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.psutil = psutil.Process(self.process.pid)
        self.seen: list[psutil.Process] = []
        deadline = time.monotonic() + 120
        while True:
            try:
                self.api("/api/status")
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError((work / "server.log").read_text()[-2000:]) from None
                time.sleep(0.3)

    def api(self, path: str, method: str = "GET"):
        import urllib.request

        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=b"{}" if method == "POST" else None,
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            body = response.read()
        return json.loads(body) if body else None

    def zygote(self) -> psutil.Process:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for child in self.psutil.children():
                if "lab_utils.kernel_zygote" in " ".join(child.cmdline()):
                    self.seen.append(child)  # stop() kills it even once orphaned
                    return child
            time.sleep(0.2)
        raise AssertionError("the server started no zygote")

    def stop(self) -> None:
        """Kill the server and what it started (kernels lead sessions of their own)."""
        tree = list(self.seen)
        for zygote in self.seen:
            try:
                tree += zygote.children()
            except psutil.Error:
                pass
        try:
            tree += [self.psutil, *self.psutil.children(recursive=True)]
        except psutil.NoSuchProcess:
            pass
        for proc in tree:
            try:
                proc.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(tree, timeout=15)
        self.log.close()


def _wait_for(condition, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.2)


def test_the_server_culls_an_idle_forked_kernel_and_the_zygote_reaps_it(tmp_path):
    server = _Server(
        tmp_path,
        "--MappingKernelManager.cull_idle_timeout=3",
        "--MappingKernelManager.cull_interval=1",
    )
    try:
        kernel = server.api("/api/kernels", "POST")
        zygote = server.zygote()
        _wait_for(lambda: zygote.children(), 60, "the kernel was not forked")
        (forked,) = zygote.children()
        _wait_for(lambda: not server.api("/api/kernels"), 60, "the idle kernel was not culled")
        _wait_gone(forked.pid)
        assert zygote.is_running() and zygote.children() == []
        log = (tmp_path / "server.log").read_text(errors="replace")
        assert re.search(rf"Culling '\w+' kernel 'python3' \({kernel['id']}\)", log), log[-2000:]
    finally:
        server.stop()


def test_a_killed_server_takes_its_zygote_and_kernels_with_it(tmp_path):
    server = _Server(tmp_path)
    try:
        server.api("/api/kernels", "POST")
        zygote = server.zygote()
        _wait_for(lambda: zygote.children(), 60, "the kernel was not forked")
        (forked,) = zygote.children()
        server.process.kill()  # no shut-down at all: the zygote sees its parent gone
        server.process.wait(10)
        _wait_gone(zygote.pid)
        _wait_gone(forked.pid)
    finally:
        server.stop()
