"""What a student's kernels hold, in PSS, the way a memory limit sees them: the two memory goals.

A private Jupyter server (``jupyter lab``, with ``binder/jupyter_server_config.py``, the config Binder
and the hub use) serves a copy of ``notebooks/``. A "student" opens each notebook (a session through
the server's REST API, as JupyterLab does), runs every cell top to bottom in that kernel, and moves
on. Memory is the PSS (proportional set size: each shared page counted once, split between the
processes that map it) of every kernel the server runs, read with psutil's ``memory_full_info``
once a second; and, because PSS also splits pages with *other* people's processes on a shared
machine (their kernels map TensorFlow too), the group's footprint: its distinct physical pages,
read from the page tables (root only), which is what a pod holding only these processes holds.

Two scenarios, each in a fresh server:

(a) ``all-open``: every notebook run, its kernel left running (no culling), as a student who never
    shuts a kernel down. Goal: at most 1,750 MB of kernel PSS with all the lab's notebooks.
(b) ``in-order``: the student works through the notebooks in order, ``--minutes`` each (default 4),
    with the idle culling of ``binder/jupyter_server_config.py``. Time is compressed: the idle
    timeout and the culling interval are divided by ``--compress`` (default 4: 180 s becomes 45 s),
    and so is the time spent on each notebook after its Run All. While on a notebook the student
    keeps its kernel busy now and then (a slider moved: one tiny cell every 2 s); a kernel left
    behind is idle from the moment the next notebook opens. Run All itself takes the real time
    (it is real work): for a faithful compression the compressed idle timeout must exceed the
    longest Run All, which the benchmark checks and reports. Goal: never above 1,000 MB.

Kernels are forked from the zygote of ``binder/jupyter_server_config.py`` (lab_utils/
kernel_zygote.py), whose own PSS is counted as kernel memory: it holds the pages its kernels share.
``--no-zygote`` starts every kernel the ordinary way, to measure before and after.

The kernels get what Binder gives them: the ``export`` lines of ``binder/start`` (allocator
settings) and ``binder/ipython_kernel_config.py`` (memory handed back after each cell). ``--bare``
leaves both out, to measure before and after; ``--env NAME=VALUE`` (repeatable) adds a setting.

Usage::

    .venv/bin/python -m benchmarks.student_memory [--scenario all-open|in-order|both]
        [--minutes 4] [--compress 4] [--bare] [--env NAME=VALUE] [--json out.json]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import nbformat
import psutil
from jupyter_client import BlockingKernelClient

from tests.hub.hub_support import binder_culling, binder_start_environment

REPO = Path(__file__).resolve().parents[1]
BINDER = REPO / "binder"

MB = 1e6  # the goals are in MB (10^6 bytes), as mybinder.org states its 2 GB
GOAL_ALL_OPEN_MB = 1750
GOAL_IN_ORDER_MB = 1000


def footprint(processes: list[psutil.Process]) -> int | None:
    """Bytes of physical memory the processes hold together: every resident page counted once.

    PSS splits a page shared with *any* process on the machine, so on a machine where other
    people's kernels map TensorFlow too, it understates what a student's pod holds alone. This
    reads each process's page table (``/proc/<pid>/pagemap``, page frame numbers need root) and
    counts the distinct physical pages of the group: what a cgroup of just these processes is
    charged for their mapped memory. None where page frame numbers cannot be read.
    """
    import numpy as np

    frames = []
    for proc in processes:
        try:
            with (
                open(f"/proc/{proc.pid}/maps") as maps,
                open(f"/proc/{proc.pid}/pagemap", "rb") as pagemap,
            ):
                for line in maps:
                    start, end = (int(x, 16) for x in line.split()[0].split("-"))
                    if line.rstrip().endswith("[vsyscall]"):
                        continue
                    pagemap.seek(start // 4096 * 8)
                    entries = np.frombuffer(
                        pagemap.read((end - start) // 4096 * 8), dtype=np.uint64
                    )
                    present = entries[(entries >> np.uint64(63)) & np.uint64(1) == 1]
                    frames.append(present & np.uint64((1 << 55) - 1))
        except (OSError, psutil.Error):
            continue
    if not frames:
        return None
    pfns = np.unique(np.concatenate(frames))
    if pfns.size and pfns.max() == 0:
        return None  # not root: the kernel hides page frame numbers
    return int(pfns.size) * 4096


def pss(process: psutil.Process) -> int:
    """PSS of a process and its descendants in bytes (0 for any that vanished meanwhile)."""
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        try:
            total += proc.memory_full_info().pss
        except psutil.Error:
            pass
    return total


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A private ``jupyter lab`` on 127.0.0.1 with the binder config and its own directories."""

    def __init__(self, work: Path, extra_args: list[str], env: dict[str, str], kernel_config: bool):
        self.work = work
        if kernel_config:  # where postBuild puts it for Binder: here, the server's own IPython dir
            (work / "ipython" / "profile_default").mkdir(parents=True)
            shutil.copy(BINDER / "ipython_kernel_config.py", work / "ipython" / "profile_default")
        self.root = work / "notebooks"
        shutil.copytree(
            REPO / "notebooks", self.root, ignore=shutil.ignore_patterns(".ipynb_checkpoints")
        )
        self.runtime = work / "runtime"
        self.token = secrets.token_hex(16)
        self.port = _free_port()
        environ = dict(os.environ, **env)
        environ.update(
            JUPYTER_CONFIG_DIR=str(work / "config"),
            JUPYTER_RUNTIME_DIR=str(self.runtime),
            JUPYTER_CONFIG_PATH=str(BINDER),
            IPYTHONDIR=str(work / "ipython"),
            PYTHONHASHSEED="0",
        )
        environ.pop("JUPYTER_TOKEN", None)
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            *extra_args,
        ]
        self.log = open(work / "server.log", "wb")
        self.process = subprocess.Popen(
            command, env=environ, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.ps = psutil.Process(self.process.pid)
        deadline = time.monotonic() + 120
        while True:
            try:
                self.api("/api/status")
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((work / "server.log").read_text()[-3000:]) from None
                time.sleep(0.3)

    def api(self, path: str, method: str = "GET", body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    def kernels(self) -> list[psutil.Process]:
        """The server's kernels: its own ipykernel children and the zygote's forked children."""
        kernels = []
        for proc in self.ps.children():
            try:
                command = " ".join(proc.cmdline())
                if "lab_utils.kernel_zygote" in command:
                    kernels.extend(proc.children())
                elif "ipykernel" in command:
                    kernels.append(proc)
            except psutil.Error:  # a culled kernel exiting (or a zombie not yet reaped)
                pass
        return kernels

    def zygote(self) -> psutil.Process | None:
        """The kernel zygote (binder/jupyter_server_config.py), once the first kernel started."""
        for proc in self.ps.children():
            try:
                if "lab_utils.kernel_zygote" in " ".join(proc.cmdline()):
                    return proc
            except psutil.Error:
                pass
        return None

    def open_notebook(self, name: str) -> BlockingKernelClient:
        """Open ``name`` as JupyterLab does (a session, so a kernel); a client on that kernel."""
        session = self.api(
            "/api/sessions",
            "POST",
            {"path": name, "type": "notebook", "name": name, "kernel": {"name": "python3"}},
        )
        # A client without a kernel manager judges the kernel by its heartbeat: on a loaded machine a
        # starting kernel can miss one and be taken for dead. It is dead only once the server says so.
        deadline = time.monotonic() + 120
        while True:
            client = BlockingKernelClient(
                connection_file=str(self.runtime / f"kernel-{session['kernel']['id']}.json")
            )
            client.load_connection_file()
            client.start_channels()
            try:
                client.wait_for_ready(timeout=max(1.0, deadline - time.monotonic()))
                return client
            except RuntimeError as error:
                client.stop_channels()
                alive = any(
                    k["id"] == session["kernel"]["id"] for k in self.api("/api/kernels") or []
                )
                if not alive or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{name}: {error}\nserver log:\n"
                        f"{(self.work / 'server.log').read_text()[-3000:]}"
                    ) from None
                time.sleep(1)

    def stop(self) -> None:
        tree = [self.ps, *self.ps.children(recursive=True)]
        try:
            for kernel in self.api("/api/kernels") or []:
                self.api(f"/api/kernels/{kernel['id']}", "DELETE")
        except OSError:
            pass
        for proc in tree:
            try:
                proc.terminate()
            except psutil.Error:
                pass
        _, alive = psutil.wait_procs(tree, timeout=15)
        for proc in alive:
            proc.kill()
        self.log.close()


class Sampler(threading.Thread):
    """Every ``interval`` seconds: PSS of each kernel of the server, and of the server itself."""

    def __init__(self, server: Server, interval: float = 1.0):
        super().__init__(daemon=True)
        self.server, self.interval = server, interval
        self.samples: list[dict] = []  # {"t", "kernels": [bytes...], "server": bytes}
        self._halt = threading.Event()
        self.t0 = time.monotonic()

    def sample(self) -> dict:
        processes = self.server.kernels()
        kernels = [pss(k) for k in processes]
        zygote = self.server.zygote()
        try:
            server = self.server.ps.memory_full_info().pss
            zygote_pss = zygote.memory_full_info().pss if zygote else 0
        except psutil.Error:
            server = zygote_pss = 0
        trees = [p for k in processes for p in [k, *k.children(recursive=True)]]
        trees += [zygote] if zygote else []
        row = {
            "t": time.monotonic() - self.t0,
            "kernels": kernels,
            # The zygote's own share of the pages its kernels share with it: kernel memory too.
            "zygote": zygote_pss,
            "server": server,
            "kernels_footprint": footprint(trees) if trees else 0,
            "pod_footprint": footprint([self.server.ps, *trees]),
        }
        self.samples.append(row)
        return row

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def peak(self) -> dict:
        return max(self.samples, key=kernel_pss)

    def peak_footprint(self, key: str = "kernels_footprint") -> int | None:
        values = [row[key] for row in self.samples if row[key] is not None]
        return max(values) if values else None


def kernel_pss(row: dict) -> int:
    """All the kernel memory of a sample: its kernels and the zygote they were forked from."""
    return sum(row["kernels"]) + row["zygote"]


def run_all(client: BlockingKernelClient, path: Path) -> tuple[float, int]:
    """Every code cell of the notebook, in order; (seconds, cells that raised)."""
    notebook = nbformat.read(path, as_version=4)
    errors = 0
    start = time.monotonic()
    for cell in notebook.cells:
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        reply = client.execute_interactive(cell.source, timeout=900, output_hook=lambda msg: None)
        errors += reply["content"]["status"] != "ok"
    return time.monotonic() - start, errors


def scenario(
    kind: str,
    paths: list[Path],
    minutes: float,
    compress: float,
    env: dict[str, str],
    kernel_config: bool,
    zygote: bool = True,
) -> dict:
    culling = binder_culling()
    if kind == "all-open":
        extra = ["--MappingKernelManager.cull_idle_timeout=0"]
    else:
        timeout = culling["cull_idle_timeout"] / compress
        interval = max(1.0, culling.get("cull_interval", 300) / compress)
        extra = [
            f"--MappingKernelManager.cull_idle_timeout={timeout:.0f}",
            f"--MappingKernelManager.cull_interval={interval:.0f}",
        ]
    if not zygote:
        extra.append("--KernelProvisionerFactory.default_provisioner_name=local-provisioner")
    dwell = 0.0 if kind == "all-open" else minutes * 60 / compress
    rows = []
    with tempfile.TemporaryDirectory(prefix=f"student-memory-{kind}-") as tmp:
        server = Server(Path(tmp), extra, env, kernel_config)
        sampler = Sampler(server)
        sampler.start()
        clients = []
        try:
            for path in paths:
                client = server.open_notebook(path.name)
                clients.append(client)
                loaded = client.execute_interactive(
                    "",
                    user_expressions={
                        "x": "'lab_utils.kernel_memory' in __import__('sys').modules"
                    },
                    output_hook=lambda msg: None,
                )["content"]["user_expressions"]["x"]["data"]["text/plain"]
                if (loaded == "True") != kernel_config:
                    raise RuntimeError(
                        f"{path.name}: binder/ipython_kernel_config.py was "
                        f"{'not ' if kernel_config else ''}loaded (got {loaded!r})"
                    )
                seconds, errors = run_all(client, server.root / path.name)
                after = sampler.sample()
                rows.append(
                    {
                        "notebook": path.name,
                        "run_all_seconds": seconds,
                        "error_cells": errors,
                        "kernels_alive": len(after["kernels"]),
                        "kernel_pss_after_run": kernel_pss(after),
                    }
                )
                end = time.monotonic() + dwell
                while (
                    time.monotonic() < end
                ):  # the student works on it: a slider moved now and then
                    client.execute_interactive("pass", timeout=60, output_hook=lambda msg: None)
                    time.sleep(2)
            if kind == "in-order":  # stay on the last one until the others are culled
                end = time.monotonic() + dwell
                while time.monotonic() < end:
                    clients[-1].execute_interactive(
                        "pass", timeout=60, output_hook=lambda msg: None
                    )
                    time.sleep(2)
            final = sampler.sample()
        finally:
            sampler.stop()
            for client in clients:
                client.stop_channels()
            server.stop()
    peak = sampler.peak()
    result = {
        "scenario": kind,
        "notebooks": rows,
        "env": env,
        "server_args": extra,
        "kernel_config": kernel_config,
        "dwell_seconds": dwell,
        "compress": compress,
        "minutes_per_notebook": minutes,
        "peak_kernel_pss": kernel_pss(peak),
        "peak_kernels_alive": len(peak["kernels"]),
        "peak_server_pss": max(r["server"] for r in sampler.samples),
        "final_kernel_pss": kernel_pss(final),
        "final_zygote_pss": final["zygote"],
        "final_kernels_alive": len(final["kernels"]),
        "peak_kernel_footprint": sampler.peak_footprint(),
        "final_kernel_footprint": final["kernels_footprint"],
        "peak_pod_footprint": sampler.peak_footprint("pod_footprint"),
        "final_per_kernel_pss": final["kernels"],
        "samples": [
            {
                "t": round(r["t"], 1),
                "kernels_mb": [round(k / MB) for k in r["kernels"]],
                "server_mb": round(r["server"] / MB),
                "zygote_mb": round(r["zygote"] / MB),
                "kernels_footprint_mb": round((r["kernels_footprint"] or 0) / MB),
            }
            for r in sampler.samples
        ],
    }
    if kind == "in-order":
        result["idle_timeout_seconds"] = culling["cull_idle_timeout"] / compress
        result["faithful"] = (
            max(r["run_all_seconds"] for r in rows) < culling["cull_idle_timeout"] / compress
        )
    return result


def _report_footprint(result: dict, key: str, goal_mb: int, goal: str) -> None:
    value = result[key]
    if value is None:
        print("  (footprint: page frame numbers need root; PSS only)")
        return
    pod = result["peak_pod_footprint"] or 0
    print(
        f"  the same kernels' footprint, each page counted once as in a pod of their own: {value / MB:.0f} MB "
        f"(goal ({goal}) {'met' if value / MB <= goal_mb else 'NOT met'}); with the server, peak {pod / MB:.0f} MB"
    )


def report(result: dict) -> None:
    kind = result["scenario"]
    print(
        f"\n== scenario {kind} ({' '.join(result['server_args'])}"
        + (
            f"; env {' '.join(f'{k}={v}' for k, v in result['env'].items())}"
            if result["env"]
            else ""
        )
        + ("; binder/ipython_kernel_config.py" if result["kernel_config"] else "; bare")
        + ")"
    )
    print(f"{'notebook':30} {'Run All s':>9} {'kernels':>8} {'kernel PSS MB':>14}")
    for row in result["notebooks"]:
        flag = f"  ({row['error_cells']} error cells!)" if row["error_cells"] else ""
        print(
            f"{row['notebook']:30} {row['run_all_seconds']:9.1f} {row['kernels_alive']:8d} "
            f"{row['kernel_pss_after_run'] / MB:14.0f}{flag}"
        )
    if kind == "all-open":
        per = ", ".join(f"{k / MB:.0f}" for k in result["final_per_kernel_pss"])
        if result["final_zygote_pss"]:
            per += f"; the zygote they were forked from {result['final_zygote_pss'] / MB:.0f}"
        total = result["final_kernel_pss"] / MB
        print(
            f"all {result['final_kernels_alive']} kernels running: {total:.0f} MB kernel PSS ({per}); "
            f"peak {result['peak_kernel_pss'] / MB:.0f} MB; server {result['peak_server_pss'] / MB:.0f} MB"
        )
        print(
            f"goal (a) <= {GOAL_ALL_OPEN_MB} MB: {'met' if total <= GOAL_ALL_OPEN_MB else 'NOT met'}"
        )
        _report_footprint(result, "final_kernel_footprint", GOAL_ALL_OPEN_MB, "a")
    else:
        peak = result["peak_kernel_pss"] / MB
        print(
            f"{result['minutes_per_notebook']:g} min per notebook, time compressed x{result['compress']:g} "
            f"(idle timeout {result['idle_timeout_seconds']:.0f} s, {result['dwell_seconds']:.0f} s per "
            f"notebook): peak {peak:.0f} MB kernel PSS with {result['peak_kernels_alive']} kernels; "
            f"server {result['peak_server_pss'] / MB:.0f} MB"
        )
        if not result["faithful"]:
            print(
                "  (a Run All took longer than the compressed idle timeout: use a smaller --compress)"
            )
        print(
            f"goal (b) <= {GOAL_IN_ORDER_MB} MB: {'met' if peak <= GOAL_IN_ORDER_MB else 'NOT met'}"
        )
        _report_footprint(result, "peak_kernel_footprint", GOAL_IN_ORDER_MB, "b")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", default=["notebooks/0*.ipynb"])
    parser.add_argument("--scenario", choices=["all-open", "in-order", "both"], default="both")
    parser.add_argument(
        "--minutes", type=float, default=4.0, help="minutes a student spends per notebook"
    )
    parser.add_argument(
        "--compress", type=float, default=4.0, help="time compression of scenario (b)"
    )
    parser.add_argument(
        "--bare",
        action="store_true",
        help="without binder/start's environment and binder/ipython_kernel_config.py",
    )
    parser.add_argument(
        "--env", action="append", default=[], help="NAME=VALUE for the server and kernels"
    )
    parser.add_argument(
        "--no-zygote",
        action="store_true",
        help="start each kernel the ordinary way (not forked from lab_utils/kernel_zygote.py)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers on the way out
    paths = sorted({Path(p) for pattern in args.notebooks for p in glob.glob(pattern)})
    if not paths:
        parser.error(f"no notebooks match {args.notebooks}")
    env = {} if args.bare else binder_start_environment()
    env.update(item.split("=", 1) for item in args.env)
    kinds = ["all-open", "in-order"] if args.scenario == "both" else [args.scenario]
    results = []
    for kind in kinds:
        result = scenario(
            kind,
            paths,
            args.minutes,
            args.compress,
            env,
            kernel_config=not args.bare,
            zygote=not args.no_zygote,
        )
        report(result)
        results.append(result)
    print(
        f"\n(measured {time.strftime('%Y-%m-%d %H:%M')}, {platform.platform()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}; PSS splits pages shared with any process on the machine)"
    )
    if args.json:
        args.json.write_text(
            json.dumps({"results": results, "python": platform.python_version()}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
