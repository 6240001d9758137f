"""Set-up time: a fresh clone to a serving JupyterLab, installed by pip and by uv, in one run.

For each installer: ``git clone`` this repository into a temporary folder, run ``make lab`` there
(with ``USE_UV=0`` for pip) and time it until the new JupyterLab answers ``/api/status``; stop it,
then run ``make lab`` a second time in the same clone (the stamps make it skip the installation)
and time that too. Installers measured, in this order:

* ``pip``: pip with its cache as it is on this machine (warm after any earlier install);
* ``uv (cold cache)``: uv with an empty cache of its own (every wheel downloaded again);
* ``uv (warm cache)``: uv with its cache as it is (the second project a student sets up).

Ratios are against pip, measured in the same run: shared machines are noisy. Nothing here is
asserted; it prints a table. Usage: ``.venv/bin/python -m benchmarks.bench_setup [--skip-cold]``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SERVE_TIMEOUT_S = 600.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_python() -> str:
    """The interpreter a student would start from (not this venv's, so the new venv is fresh)."""
    return getattr(sys, "_base_executable", None) or sys.executable


def serve_once(clone: Path, env: dict, extra_make: list[str], log_path: Path) -> float:
    """Run ``make lab`` in ``clone``; return the seconds until its server answers; stop it."""
    port, token = free_port(), secrets.token_hex(16)
    lab_args = (
        f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={port} "
        f"--ServerApp.port_retries=0 --IdentityProvider.token={token}"
    )
    command = ["make", "lab", f"PYTHON={base_python()}", f"LAB_ARGS={lab_args}", *extra_make]
    with open(log_path, "ab") as log:
        start = time.monotonic()
        process = subprocess.Popen(
            command,
            cwd=clone,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/status", headers={"Authorization": f"token {token}"}
            )
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"make lab exited with {process.returncode}; see {log_path}")
                try:
                    with urllib.request.urlopen(request, timeout=5):
                        return time.monotonic() - start
                except (urllib.error.URLError, ConnectionError, OSError):
                    if time.monotonic() - start > SERVE_TIMEOUT_S:
                        raise RuntimeError(
                            f"no JupyterLab after {SERVE_TIMEOUT_S:.0f} s; see {log_path}"
                        ) from None
                    time.sleep(0.1)
        finally:
            for sig, wait_s in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
                if process.poll() is not None:
                    break
                os.killpg(process.pid, sig)
                try:
                    process.wait(timeout=wait_s)
                except subprocess.TimeoutExpired:
                    continue


def measure(name: str, work: Path, use_uv: bool, uv_cache: Path | None) -> dict:
    folder = work / name.replace(" ", "-").replace("(", "").replace(")", "")
    folder.mkdir()
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # the clone's own lab_utils, as a student's
    env.pop("VIRTUAL_ENV", None)
    for var, sub in (
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("IPYTHONDIR", "ipython"),
    ):
        env[var] = str(folder / sub)
    if uv_cache is not None:
        env["UV_CACHE_DIR"] = str(uv_cache)
    extra = [] if use_uv else ["USE_UV=0"]
    log = folder / "make.log"
    start = time.monotonic()
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(folder / "clone")], check=True)
    cloned = time.monotonic() - start
    first = cloned + serve_once(folder / "clone", env, extra, log)
    second = serve_once(folder / "clone", env, extra, log)
    return {"name": name, "clone": cloned, "first": first, "second": second}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--skip-cold",
        action="store_true",
        help="leave out uv with an empty cache (it downloads every wheel)",
    )
    args = parser.parse_args()
    if shutil.which("git") is None or shutil.which("make") is None:
        print("needs git and make", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-setup-") as tmp:
        work = Path(tmp)
        runs = [measure("pip", work, use_uv=False, uv_cache=None)]
        if not args.skip_cold:
            runs.append(measure("uv (cold cache)", work, use_uv=True, uv_cache=work / "uv-cache"))
        runs.append(measure("uv (warm cache)", work, use_uv=True, uv_cache=None))
    pip = runs[0]
    print(
        f"fresh clone to a serving JupyterLab (`make lab`), {base_python()}, {os.cpu_count()} cores"
    )
    print(f"{'installer':<17}{'first run s':>12}{'vs pip':>8}{'second run s':>14}{'vs pip':>8}")
    for run in runs:
        print(
            f"{run['name']:<17}{run['first']:>12.1f}{pip['first'] / run['first']:>7.1f}x"
            f"{run['second']:>14.1f}{pip['second'] / run['second']:>7.1f}x"
        )
    print(
        "first run: git clone + make lab (new .venv, install, start) until /api/status answers;"
        " second run: make lab again in that clone (stamps: no install)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
