"""Peak kernel memory of each notebook, and the per-student memory to request on a JupyterHub.

Runs every notebook top to bottom in a fresh kernel (nbclient, as ``make notebooks`` does, without
writing anything back) and measures the kernel's peak resident memory in two ways:

- ``VmHWM``: the kernel process's own high-water mark from ``/proc/<pid>/status`` (Linux only; exact);
- sampled: kernel plus any child processes, sampled with psutil every 20 ms (portable; can miss a
  spike shorter than a sample).

A bare kernel (an empty notebook) is measured in the same run as the baseline, and a Jupyter server
is started once to measure what it holds. The recommendation at the end (also written as JSON with
``--json PATH``) is what classroom/README.md quotes.

Usage::

    .venv/bin/python -m benchmarks.notebook_memory [notebooks/0*.ipynb ...] [--json out.json]
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import psutil

from lab_utils.run_notebooks import notebook_client

MB = 1024 * 1024
#: Room on top of a measured peak: other tabs, a re-run of a cell, a student's own experiments.
HEADROOM = 1.25


def _vm_hwm(pid: int) -> int | None:
    """The process's peak resident set size in bytes (Linux), or None elsewhere."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class _Sampler(threading.Thread):
    """Samples the RSS of a process and its children until stopped; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.02):
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                total = self.process.memory_info().rss
                for child in self.process.children(recursive=True):
                    try:
                        total += child.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                break
            self.peak = max(self.peak, total)
            self._stop_event.wait(self.interval)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak


def measure(path: Path, timeout: int = 900) -> dict:
    """Execute one notebook in a fresh kernel; return its peak memory (bytes) and run time (s)."""
    notebook, client = notebook_client(path, timeout)  # as `make notebooks` runs it
    start = time.perf_counter()
    with client.setup_kernel():
        pid = client.km.provisioner.process.pid
        sampler = _Sampler(pid)
        sampler.start()
        errors = 0
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
            errors += any(o.get("output_type") == "error" for o in cell.get("outputs", []))
        hwm = _vm_hwm(pid)
        sampled = sampler.stop()
    return {
        "notebook": path.name,
        "seconds": time.perf_counter() - start,
        "vm_hwm": hwm,
        "sampled_peak": sampled,
        "error_cells": errors,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure_server(settle: float = 8.0) -> int | None:
    """RSS of an idle JupyterLab server (no kernel), the rest of what a student's pod holds."""
    port = _free_port()
    with tempfile.TemporaryDirectory() as home:
        command = [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            f"--port={port}",
            "--ServerApp.token=",
            "--ServerApp.password=",
            f"--ServerApp.root_dir={home}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append(
                "--allow-root"
            )  # containers often run as root; Jupyter refuses without it
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    time.sleep(0.5)
            else:
                return None
            time.sleep(settle)  # extensions finish loading after the port opens
            return _vm_hwm(server.pid) or psutil.Process(server.pid).memory_info().rss
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()


def _peak(row: dict) -> int:
    return max(row["vm_hwm"] or 0, row["sampled_peak"])


def _round_up(n_bytes: float, step_mb: int = 128) -> int:
    """Round up to a multiple of step_mb, in MiB (Kubernetes-friendly sizes)."""
    return int(math.ceil(n_bytes / MB / step_mb) * step_mb)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", default=["notebooks/0*.ipynb"])
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument(
        "--no-server", action="store_true", help="skip measuring a JupyterLab server"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("PYTHONHASHSEED", "0")
    paths = sorted({Path(p) for pattern in args.notebooks for p in glob.glob(pattern)})
    if not paths:
        print(f"no notebooks match {args.notebooks}", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "bare_kernel.ipynb"
        nbformat.write(
            nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import lab_utils")]), bare
        )
        baseline = measure(bare)
    rows = [measure(path) for path in paths]
    server = None if args.no_server else measure_server()

    base = _peak(baseline)
    print(
        f"{'notebook':34} {'VmHWM MiB':>10} {'sampled MiB':>12} {'x bare kernel':>14} {'seconds':>8}"
    )
    for row in [baseline, *rows]:
        hwm = f"{row['vm_hwm'] / MB:.0f}" if row["vm_hwm"] else "n/a"
        name = "(bare kernel: import lab_utils)" if row is baseline else row["notebook"]
        flag = f"  ({row['error_cells']} error cells!)" if row["error_cells"] else ""
        print(
            f"{name:34} {hwm:>10} {row['sampled_peak'] / MB:>12.0f} {_peak(row) / base:>14.1f} "
            f"{row['seconds']:>8.1f}{flag}"
        )
    if server:
        print(f"{'(idle JupyterLab server)':34} {server / MB:>10.0f}")

    peaks = sorted((_peak(row) for row in rows), reverse=True)
    server_bytes = server or 0
    guarantee = _round_up((server_bytes + peaks[0]) * HEADROOM)
    limit = _round_up((server_bytes + sum(peaks[:2])) * HEADROOM)
    print()
    print(
        f"largest notebook peak: {peaks[0] / MB:.0f} MiB; two largest together: {sum(peaks[:2]) / MB:.0f} MiB"
    )
    print(
        f"recommended per student: guarantee {guarantee} MiB (server + the largest notebook, "
        f"x{HEADROOM}), limit {limit} MiB (server + two notebooks' kernels open at once, x{HEADROOM})"
    )
    if args.json:
        figures = {
            "measured_on": {
                "date": time.strftime("%Y-%m-%d"),
                "machine": platform.platform(),
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
            },
            "bare_kernel_bytes": base,
            "server_bytes": server,
            "notebooks": rows,
            "guarantee_mib": guarantee,
            "limit_mib": limit,
            "headroom": HEADROOM,
        }
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
