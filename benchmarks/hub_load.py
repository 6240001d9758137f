"""K students on one JupyterHub at once: their memory, Run All under load, and slider latency.

Starts the hub of tests/hub (``hub_support.running_hub``: configurable-http-proxy from
``make hub-proxy``, a local process per student's server), creates K students (default 6) through the
REST API, starts their servers and pulls the notebooks into every home with the nbgitpuller API.
Then, everything through the hub's proxy (kernels over their websockets, as JupyterLab talks to them):

1. alone: one student runs notebook 01 top to bottom (every code cell, in order) in a fresh kernel
   (twice; the second run counts);
2. together: all K students run notebook 01 at the same time, each in a fresh kernel of their own;
   the Run All time of each against the one of step 1 (ratio), and each student's memory afterwards:
   PSS of their server and its kernels (psutil's memory_full_info, as benchmarks/student_memory.py);
3. latency: student 1 has a softmax explorer open in headless Chromium (benchmarks/browser_latency.py's
   probe: key press on the slider to changed pixels on the canvas) and presses the arrow key, first
   with the others idle, then while the other K-1 run notebook 01 again at the same time.

Prints the memory per student to request: the largest student's PSS here (server and notebook 01's
kernel) and what benchmarks/student_memory.py measured for a whole session are both needed; see
classroom/jupyterhub.md.

Usage::

    .venv/bin/python -m benchmarks.hub_load [--students 6] [--presses 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import nbformat

from benchmarks.browser_latency import EXPLORER, FLOOR, INSTALL_PROBE_JS, SETUP, measure
from benchmarks.student_memory import footprint, pss
from tests.browser.browser_support import (
    FIGURE_CANVAS,
    NO_CHROMIUM_HINT,
    NotebookPage,
    find_chromium,
    write_notebook,
)
from tests.hub.hub_support import (
    HUB_HOSTNAME,
    HubLab,
    launch_hub_chromium,
    log_in,
    make_course_repo,
    proxy_problem,
    pull_notebooks,
    running_hub,
    shut_down_sessions,
)

REPO = Path(__file__).resolve().parents[1]

MB = 1e6
NOTEBOOK = "01_softmax_basics.ipynb"
FOLDER = "softmax-lab/notebooks"


def code_cells(path: Path) -> list[str]:
    return [
        c.source
        for c in nbformat.read(path, as_version=4).cells
        if c.cell_type == "code" and c.source.strip()
    ]


async def run_over_websocket(hub, student: str, cells: list[str]) -> dict:
    """Open NOTEBOOK as JupyterLab does (a session), run every cell over the kernel's websocket."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    loop = asyncio.get_running_loop()
    path = f"{FOLDER}/{NOTEBOOK}"
    session = await loop.run_in_executor(
        None,
        lambda: hub.user_api(
            student,
            "/api/sessions",
            "POST",
            {"path": path, "name": NOTEBOOK, "type": "notebook", "kernel": {"name": "python3"}},
        ),
    )
    kernel, session_id = session["kernel"]["id"], uuid.uuid4().hex
    url = f"{hub.url.replace('http', 'ws', 1)}/user/{student}/api/kernels/{kernel}/channels?session_id={session_id}"
    socket = await websocket_connect(
        HTTPRequest(url, headers={"Authorization": f"token {hub.tokens[student]}"}),
        max_message_size=256 * 1024 * 1024,
    )
    errors = 0
    start = time.monotonic()
    try:
        for code in cells:
            msg_id = uuid.uuid4().hex
            await socket.write_message(
                json.dumps(
                    {
                        "header": {
                            "msg_id": msg_id,
                            "msg_type": "execute_request",
                            "session": session_id,
                            "username": student,
                            "version": "5.3",
                            "date": "",
                        },
                        "parent_header": {},
                        "metadata": {},
                        "channel": "shell",
                        "buffers": [],
                        "content": {
                            "code": code,
                            "silent": False,
                            "store_history": True,
                            "user_expressions": {},
                            "allow_stdin": False,
                            "stop_on_error": True,
                        },
                    }
                )
            )
            while True:
                message = await socket.read_message()
                if message is None:
                    raise RuntimeError(f"{student}: the kernel's websocket closed")
                if isinstance(message, bytes):  # a message with binary buffers (widgets): not ours
                    continue
                message = json.loads(message)
                if (
                    message.get("msg_type") == "execute_reply"
                    and message.get("parent_header", {}).get("msg_id") == msg_id
                ):
                    errors += message["content"]["status"] != "ok"
                    break
    finally:
        socket.close()
    return {"student": student, "seconds": time.monotonic() - start, "error_cells": errors}


def run_together(hub, students: list[str], cells: list[str]) -> list[dict]:
    """Every student runs the cells at the same time (an event loop in a thread of its own:
    Playwright's sync API holds the main thread's)."""

    async def together():
        return await asyncio.gather(*(run_over_websocket(hub, s, cells) for s in students))

    outcome: dict = {}

    def run():
        try:
            outcome["runs"] = asyncio.run(together())
        except BaseException as error:  # noqa: BLE001  (re-raised in the caller's thread)
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["runs"]


def student_pss(hub, student: str) -> int:
    return pss(hub.server_process(student))


def student_footprint(hub, student: str) -> int | None:
    server = hub.server_process(student)
    return footprint([server, *server.children(recursive=True)])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=6)
    parser.add_argument(
        "--presses", type=int, default=20, help="key presses with the others idle (>= 10)"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.students < 2 or args.presses < 10:
        parser.error("--students must be at least 2 and --presses at least 10")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the hub on the way out
    problem = proxy_problem()
    if problem:
        sys.exit(problem[0])
    from playwright.sync_api import sync_playwright

    students = [f"student{i + 1}" for i in range(args.students)]
    viewer, others = students[0], students[1:]
    cells = code_cells(REPO / "notebooks" / NOTEBOOK)
    result = {"students": args.students, "cpus": os.cpu_count(), "machine": platform.platform()}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hub-load-") as tmp, sync_playwright() as playwright:
        executable = find_chromium(playwright)
        if executable is None:
            sys.exit(NO_CHROMIUM_HINT)
        repo = make_course_repo(Path(tmp) / "remote")
        with running_hub(Path(tmp) / "hub") as hub:
            hub.add_students(students)
            for student in students:
                hub.api(
                    f"/users/{student}/server", "POST"
                )  # all spawn at once, as a class arriving
            for student in students:
                hub.wait_until_ready(student, timeout_s=300)
                pull_notebooks(hub, student, str(repo))
            write_notebook(
                hub.home(viewer) / "softmax-lab" / "notebooks" / "latency.ipynb",
                [SETUP, EXPLORER, FLOOR],
            )

            # 1. one student alone, 2. all of them at once
            # (twice, the second counted: the first also pays for the servers still settling down)
            for _ in range(2):
                alone = run_together(hub, [others[0]], cells)[0]
                shut_down_sessions(hub, others[0])
            together = run_together(hub, students, cells)
            hub.remember_processes()
            memory = {s: student_pss(hub, s) for s in students}
            alone_footprint = {s: student_footprint(hub, s) for s in students}
            for student in students:
                shut_down_sessions(hub, student)

            # 3. slider latency of the viewer, idle and while the others run notebook 01
            browser = launch_hub_chromium(playwright, executable)
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            base = hub.url.replace("127.0.0.1", HUB_HOSTNAME)
            page.goto(f"{base}/hub/login")
            log_in(page, viewer, hub.password)
            page.wait_for_url("**/user/**", timeout=120_000)
            lab = NotebookPage(page, HubLab(hub, viewer, base, FOLDER)).open(
                "latency.ipynb", timeout_s=120
            )
            lab.hide_left_sidebar()
            lab.clear_and_run_all(timeout_s=300)
            counts = lab.wait_for_painted_canvases({1: 1}, timeout_s=60)
            if counts[1]["painted"] < 1:
                sys.exit(f"the explorer did not render through the hub: {counts}")
            canvas = f".latency-explorer {FIGURE_CANVAS}"
            page.evaluate(
                INSTALL_PROBE_JS, [{"explorer": canvas}, ".latency-floor .widget-html-content"]
            )
            handle = page.locator(".latency-explorer .noUi-handle").first
            keys = iter(["ArrowRight", "ArrowLeft"] * 1000)
            for _ in range(3):  # warm-up
                measure(page, handle, "explorer", next(keys), canvas)
            idle = [
                measure(page, handle, "explorer", next(keys), canvas) for _ in range(args.presses)
            ]

            load_result: dict = {}
            runner = threading.Thread(
                target=lambda: load_result.update(runs=run_together(hub, others, cells))
            )
            runner.start()
            under_load = []
            while runner.is_alive():
                under_load.append(measure(page, handle, "explorer", next(keys), canvas))
            runner.join()
            hub.remember_processes()
            browser.close()
            for student in students:
                shut_down_sessions(hub, student)
        result["forced_at_stop"] = hub.forced

    load_runs = load_result["runs"]
    seconds = [r["seconds"] for r in together]
    result.update(
        {
            "alone_seconds": alone["seconds"],
            "together": together,
            "together_ratio_median": statistics.median(seconds) / alone["seconds"],
            "together_ratio_max": max(seconds) / alone["seconds"],
            "pss_bytes": memory,
            "footprint_bytes": alone_footprint,
            "latency_idle_ms": idle,
            "latency_under_load_ms": under_load,
            "under_load_runs": load_runs,
            "load_average": os.getloadavg(),
            "wall_seconds": time.monotonic() - started,
        }
    )
    errors = sum(r["error_cells"] for r in [alone, *together, *load_runs])

    print(
        f"{args.students} students on one JupyterHub ({os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}), notebook {NOTEBOOK} over the kernels' websockets through the proxy"
    )
    print(
        f"Run All alone: {alone['seconds']:.1f} s; all {args.students} at once: median "
        f"{statistics.median(seconds):.1f} s, max {max(seconds):.1f} s -> ratio "
        f"{result['together_ratio_median']:.2f} (median), {result['together_ratio_max']:.2f} (max)"
    )
    print(
        "memory per student after notebook 01 (PSS of server + kernel): "
        + ", ".join(f"{s} {memory[s] / MB:.0f} MB" for s in students)
    )
    if all(alone_footprint.values()):
        print(
            "the same, each student's pages counted once as in a pod of their own: "
            + ", ".join(f"{s} {alone_footprint[s] / MB:.0f} MB" for s in students)
        )
    for label, samples in (
        ("idle", idle),
        (f"while {len(others)} others run {NOTEBOOK}", under_load),
    ):
        samples_sorted = sorted(samples)
        p95 = samples_sorted[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))]
        print(
            f"slider-to-pixels latency of {viewer}, {label}: median {statistics.median(samples):.0f} ms, "
            f"p95 {p95:.0f} ms ({len(samples)} presses)"
        )
    largest = max(v or 0 for v in [*memory.values(), *alone_footprint.values()])
    print(
        f"largest student: {largest / MB:.0f} MB with one notebook's kernel; a whole session's peak comes "
        f"from benchmarks/student_memory.py (classroom/jupyterhub.md combines both)"
    )
    if errors:
        print(f"{errors} cells raised an error!")
    print(f"(wall time {result['wall_seconds']:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
