"""Drive JupyterLab in a real Chromium: start a private server, launch the browser, work a notebook.

Shared by the browser tests (``tests/browser``) and ``benchmarks/browser_latency.py`` (``python -m benchmarks.browser_latency``). Everything here
waits for a condition with a generous deadline and fails with a message that says what it waited for;
nothing sleeps a fixed time.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
ARTIFACTS = REPO / "test-artifacts" / "browser"

# The flags the lab's issue asks for; QUIC is off as well so nothing tries to reach the network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]

NO_CHROMIUM_HINT = (
    "no Chromium found: install Debian's Chromium headless shell (`apt-get install "
    "chromium-headless-shell`, or the full `chromium`) or Playwright's browser "
    "(`.venv/bin/python -m playwright install chromium`)"
)

# Cells that display an explorer call one of these (see lab_utils/explorers.py).
EXPLORER_NAMES = (
    "softmax_explorer",
    "temperature_explorer",
    "cross_entropy_explorer",
    "overflow_explorer",
)
_EXPLORER_CALL = re.compile(
    r"(?<![\w.])(?:lab_utils\.)?(?:explorers\.)?(" + "|".join(EXPLORER_NAMES) + r")\s*\("
)

# The ipympl figure: the first canvas holds the picture, the second (z-index 1) the rubber band.
FIGURE_CANVAS = ".jupyter-matplotlib-canvas-div > canvas:first-of-type"

# How a widget looks when the page cannot render it: its Python repr as plain text.
BARE_WIDGET_REPR = re.compile(r"Canvas\(toolbar=|\b[A-Z]\w*\((?:children|layout)=\(?")

DEFAULT_TIMEOUT_S = 60.0


#: Set to a Chromium executable to drive that one (a full ``chromium``, to compare with the shell).
CHROMIUM_ENV = "SOFTMAX_LAB_CHROMIUM"


def find_chromium(playwright=None) -> str | None:
    """Return the path of a Chromium to drive.

    In order: the one ``$SOFTMAX_LAB_CHROMIUM`` names; Playwright's own, if installed; Chromium's
    headless shell (Debian's ``chromium-headless-shell``); the system's full ``chromium``.

    The headless shell is Chromium's own build for headless use (the old ``--headless`` mode, and
    what Playwright runs for ``headless=True`` with its own browsers): the same Blink and V8 without
    the desktop browser's UI layers, so the same pages for a quarter less CPU.
    """
    chosen = os.environ.get(CHROMIUM_ENV, "").strip()
    if chosen:
        found = chosen if os.path.exists(chosen) else shutil.which(chosen)
        if not found:
            raise FileNotFoundError(f"{CHROMIUM_ENV}={chosen!r}: no such executable")
        return found
    if playwright is not None:
        try:
            bundled = playwright.chromium.executable_path
        except Exception:  # Playwright raises when it has no browser registry at all
            bundled = ""
        if bundled and os.path.exists(bundled):
            return bundled
    for candidate in (
        "/usr/bin/chromium-headless-shell",
        shutil.which("chromium-headless-shell"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def in_ci() -> bool:
    """True under a CI runner (``CI=true``, as GitHub Actions and ``.ci/run`` set it)."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def browser_unavailable(reason: str):
    """Skip the calling test on a laptop; fail it under CI, where a missing browser is a bug."""
    import pytest

    if in_ci():
        pytest.fail(f"CI=true but the browser tests cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


def launch_chromium(playwright, executable: str):
    """Launch headless Chromium with a fresh profile (a plain launch uses a new temporary one)."""
    return playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)


def explorer_calls(source: str) -> list[str]:
    """Names of the explorers a code cell calls, ignoring comments and ``def`` lines."""
    names = []
    for line in source.splitlines():
        code = line.split("#", 1)[0]
        if re.match(r"\s*def\s", code):
            continue
        names.extend(_EXPLORER_CALL.findall(code))
    return names


def notebook_cells(path: Path) -> list[dict]:
    """The cells of a notebook file, each with ``cell_type`` and ``source`` as one string."""
    notebook = json.loads(Path(path).read_text(encoding="utf-8"))
    cells = []
    for cell in notebook["cells"]:
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        cells.append({"cell_type": cell["cell_type"], "source": source})
    return cells


def write_notebook(path: Path, code_cells: list[str], kernelspec: bool = True) -> Path:
    """Write a minimal notebook with the given code cells (no outputs).

    With ``kernelspec=False`` the file names no kernel, like a notebook made by another tool, and
    JupyterLab asks which kernel to start.
    """
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"cell-{i}",
                "metadata": {},
                "outputs": [],
                "source": source,
            }
            for i, source in enumerate(code_cells)
        ],
        "metadata": {
            "kernelspec": {
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
                "name": "python3",
            },
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    if not kernelspec:
        notebook["metadata"] = {}
    path.write_text(json.dumps(notebook, indent=1), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------------
# The JupyterLab server


def kernels_forked(server_pid: int) -> bool:
    """Whether the Jupyter server ``server_pid`` runs kernels forked from lab_utils' kernel zygote."""
    import psutil

    for child in psutil.Process(server_pid).children():
        try:
            if "lab_utils.kernel_zygote" in " ".join(child.cmdline()) and child.children():
                return True
        except psutil.Error:
            continue
    return False


@dataclass(frozen=True)
class Frontend:
    """A Jupyter front end the tests drive: how to start its server and open a notebook in it."""

    name: str
    module: str  # ``python -m <module>`` starts its server
    app: str  # the server application's config class
    notebook_url: str  # the page of one notebook, relative to the server's root
    extra_args: tuple[str, ...] = ()
    # Errors the front end itself logs on every page, with or without the lab (never the lab's).
    own_console_errors: tuple[str, ...] = ()


FRONTENDS = {
    "jupyterlab": Frontend(
        "jupyterlab",
        "jupyterlab",
        "LabApp",
        # `?reset`: open this one notebook in an empty workspace. Without it JupyterLab restores the
        # server's saved workspace on every page load, so each test's page reopened every notebook
        # an earlier test had open, started a kernel for each, and could leave another notebook's
        # panel current, or its Select Kernel dialog over the page, while the test clicked.
        "/lab/tree/{name}?reset",
        (
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            # JupyterLab as on Binder and the hub: kernels forked from the zygote
            # (binder/jupyter_server_config.py). Notebook 7 starts them the ordinary way, as a
            # student's own `jupyter notebook` (or `make lab`) does: the browser tests see both.
            "--KernelProvisionerFactory.default_provisioner_name=softmax-lab-zygote",
        ),
    ),
    # Notebook 7 (`jupyter notebook`): JupyterLab's components in a one-document shell.
    "notebook7": Frontend(
        "notebook7",
        "notebook",
        "JupyterNotebookApp",
        "/notebooks/{name}",
        # Notebook 7.6.5's keyboard-shortcut settings handler reads the schema of a plugin it does
        # not have, on every page load: seen with every lab and widget extension disabled.
        own_console_errors=(r"uncaught: Cannot read properties of undefined \(reading 'schema'\)",),
    ),
}

# The front-end plugins an explorer's live view needs, as page_config's disabledExtensions names
# them (a plugin id's part before ":"): ipympl's (package jupyter-matplotlib) and anywidget's.
WIDGET_EXTENSIONS = ("matplotlib-jupyter", "anywidget")
# ipywidgets' own widget manager: without it no widget renders at all.
WIDGET_MANAGER = "@jupyter-widgets/jupyterlab-manager"


@dataclass
class LabServer:
    base_url: str
    token: str
    root_dir: Path
    log_path: Path
    process: subprocess.Popen
    frontend: Frontend = FRONTENDS["jupyterlab"]

    def kernels_forked(self) -> bool:
        """Whether this server's running kernels are children of a kernel zygote (of this lab)."""
        return kernels_forked(self.process.pid)

    def notebook_url(self, name: str) -> str:
        return self.url(self.frontend.notebook_url.format(name=name))

    def url(self, path: str) -> str:
        separator = "&" if "?" in path else "?"
        return f"{self.base_url}{path}{separator}token={self.token}"

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(
            f"{self.base_url}{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Shut down every session and kernel (a closed browser tab leaves its kernel running)."""
        for session in self.api("/api/sessions") or []:
            self.api(f"/api/sessions/{session['id']}", method="DELETE")
        for kernel in self.api("/api/kernels") or []:
            self.api(f"/api/kernels/{kernel['id']}", method="DELETE")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_user_settings(settings_dir: Path) -> None:
    """Settings a fresh classroom machine would want: no news/update toasts, no autosave writes."""
    settings = {
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
        "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    }
    for relative, values in settings.items():
        path = settings_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")


def _disable_extensions(config_dir: Path, names: tuple[str, ...]) -> None:
    """What ``jupyter labextension disable NAME`` writes, in the server's private config folder."""
    if not names:
        return
    path = config_dir / "labconfig" / "page_config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"disabledExtensions": {name: True for name in names}}))


@contextmanager
def jupyterlab_server(
    notebooks: Path,
    work_dir: Path,
    startup_timeout_s: float = 120.0,
    frontend: str = "jupyterlab",
    disabled_extensions: tuple[str, ...] = (),
) -> Iterator[LabServer]:
    """Serve a copy of ``notebooks`` with a private JupyterLab on 127.0.0.1; stop it afterwards.

    ``frontend`` is a key of :data:`FRONTENDS` (``"notebook7"`` serves Notebook 7 instead);
    ``disabled_extensions`` names front-end extensions the page must go without, as a student's
    JupyterLab without ipympl or anywidget would. The server gets its own config, runtime, data,
    settings and workspace folders under ``work_dir`` so nothing from the user's ``~/.jupyter``
    leaks in; the venv's kernelspecs and lab extensions are still found through ``sys.prefix``.
    A port another process took between choosing and binding it is retried with a new one.
    """
    for attempt in range(3):
        try:
            with _serve(
                notebooks,
                Path(work_dir),
                startup_timeout_s,
                FRONTENDS[frontend],
                tuple(disabled_extensions),
            ) as server:
                yield server
            return
        except _PortTaken:
            if attempt == 2:
                raise RuntimeError(
                    "three ports in a row were taken before the server bound them"
                ) from None


class _PortTaken(RuntimeError):
    pass


@contextmanager
def _serve(
    notebooks: Path,
    work_dir: Path,
    startup_timeout_s: float,
    frontend: Frontend,
    disabled_extensions: tuple[str, ...],
) -> Iterator[LabServer]:
    work_dir = Path(work_dir)
    root_dir = work_dir / "notebooks"
    if root_dir.exists():
        shutil.rmtree(root_dir)
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
    shutil.copytree(notebooks, root_dir, ignore=ignore)
    names = ("config", "runtime", "data", "user-settings", "workspaces", "ipython")
    dirs = {name: work_dir / name for name in names}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    _write_user_settings(dirs["user-settings"])
    _disable_extensions(dirs["config"], disabled_extensions)

    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(dirs["config"]),
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
        JUPYTER_DATA_DIR=str(dirs["data"]),
        JUPYTERLAB_SETTINGS_DIR=str(dirs["user-settings"]),
        JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
        IPYTHONDIR=str(dirs["ipython"]),
        PYTHONHASHSEED="0",
    )
    env.pop("JUPYTER_TOKEN", None)
    port = _free_port()
    token = secrets.token_hex(16)
    app = frontend.app
    command = [
        sys.executable,
        "-m",
        frontend.module,
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root_dir}",
        "--ServerApp.terminals_enabled=False",
        *frontend.extra_args,
        # window.jupyterapp lets the tests read kernel and cell state from JupyterLab's own models;
        # every action (Run All, keys, mouse) still goes through the user interface.
        f"--{app}.expose_app_in_browser=True",
        f"--{app}.user_settings_dir={dirs['user-settings']}",
        f"--{app}.workspaces_dir={dirs['workspaces']}",
    ]
    log_path = work_dir / f"{frontend.name}.log"
    log = open(log_path, "wb")
    process = subprocess.Popen(
        command, cwd=root_dir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    server = LabServer(f"http://127.0.0.1:{port}", token, root_dir, log_path, process, frontend)
    try:
        deadline = time.monotonic() + startup_timeout_s
        while True:
            if process.poll() is not None:
                if re.search(r"address already in use|is not available", server.log_tail(), re.I):
                    raise _PortTaken(port)
                raise RuntimeError(
                    f"{frontend.name} exited with code {process.returncode}:\n{server.log_tail()}"
                )
            try:
                server.api("/api/status")
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"JupyterLab did not answer /api/status within {startup_timeout_s:.0f} s:\n"
                        f"{server.log_tail()}"
                    ) from None
                time.sleep(0.2)
        yield server
    finally:
        _stop_server(server)
        log.close()


def _stop_server(server: LabServer) -> None:
    # Kernels run in sessions of their own; shut them down through the API first.
    if server.process.poll() is None:
        try:
            server.shutdown_kernels()
        except (urllib.error.URLError, OSError, ValueError):
            pass
    for sig, wait_s in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        if server.process.poll() is not None:
            break
        try:
            os.killpg(server.process.pid, sig)
        except ProcessLookupError:
            break
        try:
            server.process.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            continue


# --------------------------------------------------------------------------------------------------
# A notebook open in JupyterLab

_CURRENT = "(window.jupyterapp && window.jupyterapp.shell.currentWidget)"

# Resolves to {dialog: text} or {ready: true} once either shows up.
_KERNEL_READY_JS = f"""() => {{
  const dialog = document.querySelector('.jp-Dialog');
  if (dialog) return {{dialog: dialog.innerText.slice(0, 500)}};
  const panel = {_CURRENT};
  const kernel = panel && panel.sessionContext && panel.sessionContext.session
      && panel.sessionContext.session.kernel;
  if (kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle'
      && panel.content && panel.content.widgets.length) return {{ready: true}};
  return null;
}}"""

# The state of every cell, read from JupyterLab's models (what would be saved to the file).
_CELL_STATES_JS = f"""() => {{
  const panel = {_CURRENT};
  return panel.content.widgets.map(cell => ({{
    type: cell.model.type,
    source: cell.model.sharedModel.getSource(),
    count: cell.model.type === 'code' ? cell.model.executionCount : null,
    outputs: cell.model.type === 'code' ? cell.model.outputs.toJSON() : [],
  }}));
}}"""

# Resolves once the kernel is idle and every non-empty code cell ran, or a cell failed (Run All
# stops there); anything else keeps it waiting.
_RUN_FINISHED_JS = f"""() => {{
  const panel = {_CURRENT};
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  if (!kernel || kernel.status !== 'idle') return null;
  const code = panel.content.widgets.filter(c => c.model.type === 'code');
  const pending = code.filter(c => c.model.sharedModel.getSource().trim()
                                   && c.model.executionCount === null);
  const failed = code.some(c => c.model.outputs.toJSON().some(o => o.output_type === 'error'));
  return (pending.length === 0 || failed) ? {{pending: pending.length, failed}} : null;
}}"""

# Every code cell without a count or an output: what Clear Outputs of All Cells leaves.
_ALL_CLEARED_JS = f"""() => {_CURRENT}.content.widgets.every(c => c.model.type !== 'code' ||
  (c.model.executionCount === null && c.model.outputs.length === 0))"""

# Run All has begun: the kernel is busy, a cell shows the queued prompt [*], or a cell has a count.
_RUN_STARTED_JS = f"""() => {{
  const panel = {_CURRENT};
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  if (kernel && kernel.status === 'busy') return true;
  if ([...panel.node.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
        .some(e => e.textContent.includes('*'))) return true;
  return panel.content.widgets.some(c => c.model.type === 'code' && c.model.executionCount !== null);
}}"""

_RUN_PROGRESS_JS = f"""() => {{
  const panel = {_CURRENT};
  const kernel = panel && panel.sessionContext.session && panel.sessionContext.session.kernel;
  const prompts = [...panel.node.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
      .map(e => e.textContent.trim());
  return {{kernel: kernel ? kernel.status + '/' + kernel.connectionStatus : 'none',
           prompts: prompts.join(' ')}};
}}"""

# Everything a student would see as a failure, read from the page itself (so it includes errors
# printed inside widget Output areas, which the cell model does not hold).
_VISIBLE_PROBLEMS_JS = """(bareRepr) => {
  const root = window.jupyterapp.shell.currentWidget.node;
  const re = new RegExp(bareRepr);
  const cellIndex = el => [...root.querySelectorAll('.jp-Cell')].indexOf(el.closest('.jp-Cell'));
  const problems = [];
  const stderr = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]';
  for (const el of root.querySelectorAll(stderr))
    problems.push({cell: cellIndex(el), kind: 'stderr or traceback', text: el.innerText.slice(0, 800)});
  for (const el of root.querySelectorAll('.jp-OutputArea-output'))
    if (/Error displaying widget|Failed to load model class|Loading widget\\.\\.\\./.test(el.innerText))
      problems.push({cell: cellIndex(el), kind: 'widget not rendered',
                     text: el.innerText.slice(0, 300)});
  // Text outputs only (plain text and printed streams): a rendered widget never shows its repr.
  const textual = '.jp-OutputArea-output[data-mime-type="text/plain"], '
      + '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stdout"]';
  for (const el of root.querySelectorAll(textual))
    if (re.test(el.innerText))
      problems.push({cell: cellIndex(el), kind: 'bare widget repr', text: el.innerText.slice(0, 300)});
  return problems;
}"""

# For each cell: how many ipympl figure canvases it shows and how many of them hold a drawing.
_CANVASES_PER_CELL_JS = """(selector) => {
  const root = window.jupyterapp.shell.currentWidget.node;
  const painted = canvas => {
    if (!canvas.width || !canvas.height) return false;
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let differing = 0;
    for (let i = 0; i < data.length; i += 4)
      if (data[i] !== data[0] || data[i + 1] !== data[1] || data[i + 2] !== data[2]
          || data[i + 3] !== data[3]) differing++;
    return differing > 0.01 * canvas.width * canvas.height;
  };
  return [...root.querySelectorAll('.jp-Cell')].map(cell => {
    const canvases = [...cell.querySelectorAll(selector)];
    return {canvases: canvases.length, painted: canvases.filter(painted).length};
  });
}"""


class LabError(AssertionError):
    """JupyterLab did not reach the state a test waited for."""


class NotebookPage:
    """One notebook open in JupyterLab in a Playwright page."""

    def __init__(self, page, server: LabServer):
        self.page = page
        self.server = server
        # Errors the page logs (a widget that fails to set up says so only there) and uncaught ones.
        self.console_errors: list[str] = []
        page.on("console", lambda message: self._on_console(message))
        page.on("pageerror", lambda error: self.console_errors.append(f"uncaught: {error}"))

    def _on_console(self, message) -> None:
        if message.type == "error":
            self.console_errors.append(message.text[:500])

    @property
    def lab_console_errors(self) -> list[str]:
        """The console errors, less those the front end logs on every page by itself."""
        own = [re.compile(pattern) for pattern in self.server.frontend.own_console_errors]
        return [e for e in self.console_errors if not any(p.fullmatch(e) for p in own)]

    # -- opening -----------------------------------------------------------------------------------
    def open(self, name: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> "NotebookPage":
        """Open ``name`` (relative to the server's root); wait until its kernel is connected, idle."""
        self.name = name
        self.page.goto(self.server.notebook_url(name), timeout=timeout_s * 1000)
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LabError(f"{name}: the kernel did not become ready within {timeout_s:.0f} s")
            try:
                state = self.page.wait_for_function(_KERNEL_READY_JS, timeout=remaining * 1000)
                state = state.json_value()
            except Exception as error:  # Playwright's TimeoutError
                raise LabError(
                    f"{name}: the notebook did not open with a connected, idle kernel within "
                    f"{timeout_s:.0f} s ({error.__class__.__name__}).\n"
                    f"Server log:\n{self.server.log_tail()}"
                ) from None
            if state.get("ready"):
                break
            self._answer_dialog(state["dialog"])
        self.dismiss_notifications()
        return self

    def _answer_dialog(self, text: str) -> None:
        dialog = self.page.locator(".jp-Dialog")
        if "kernel" in text.lower() and "select" in text.lower():
            select = dialog.locator("select")
            if select.count():
                # Pick the python3 kernel by its value (the kernelspec name) when it is offered.
                values = select.first.locator("option").evaluate_all("os => os.map(o => o.value)")
                for value in values:
                    if "python3" in value:
                        select.first.select_option(value)
                        break
            dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
            dialog.wait_for(state="detached")
            return
        raise LabError(f"{self.name}: unexpected JupyterLab dialog: {text!r}")

    def dismiss_notifications(self) -> None:
        """Close JupyterLab's news/update toasts if any showed up (the settings ask for none)."""
        for toast in self.page.locator(".Toastify__toast").all():
            text = toast.inner_text().lower()
            if "news" in text or "update" in text:
                no = toast.get_by_role("button", name=re.compile(r"^(No|Dismiss|Close)$"))
                if no.count():
                    no.first.click()
                else:
                    toast.locator(".jp-toast-close, .Toastify__close-button").first.click()

    def hide_left_sidebar(self) -> None:
        """Collapse the file browser so the notebook gets the width (and the screenshot too)."""
        current = self.page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
        if current.count():
            current.first.click()
            self.page.wait_for_function(
                "() => !document.querySelector('.jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current')"
            )

    # -- menus -------------------------------------------------------------------------------------
    def menu(self, menu: str, item: str) -> None:
        """Click ``menu`` in the menu bar, then ``item`` in it, as a student would."""
        self.page.locator(
            ".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(menu)}$")
        ).click()
        self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).click()

    # -- running -----------------------------------------------------------------------------------
    def clear_and_run_all(self, timeout_s: float = 120.0) -> float:
        """Clear every output, Run All Cells, wait until done; return the seconds the run took."""
        self._menu_until("Edit", "Clear Outputs of All Cells", _ALL_CLEARED_JS, "clear the outputs")
        start = time.monotonic()
        self._menu_until("Run", "Run All Cells", _RUN_STARTED_JS, "start Run All")
        try:
            self.page.wait_for_function(_RUN_FINISHED_JS, timeout=timeout_s * 1000, polling=200)
        except Exception:
            progress = self.page.evaluate(_RUN_PROGRESS_JS)
            raise LabError(
                f"{self.name}: Run All did not finish within {timeout_s:.0f} s; kernel "
                f"{progress['kernel']}, prompts: {progress['prompts']}\n"
                f"Server log:\n{self.server.log_tail()}"
            ) from None
        return time.monotonic() - start

    def _menu_until(
        self,
        menu: str,
        item: str,
        done_js: str,
        what: str,
        attempts: int = 4,
        attempt_s: float = 30.0,
    ) -> None:
        """Choose ``menu`` > ``item`` until ``done_js`` holds, ``attempts`` times at most.

        On a loaded machine a click can land while JupyterLab is still settling (focus not yet on
        the notebook, a menu left open), and the command then never runs; a student would simply
        click again. Only idempotent commands, or ones whose ``done_js`` shows they started, go
        through here, so a second click never runs anything twice."""
        for attempt in range(1, attempts + 1):
            self.page.keyboard.press("Escape")  # close a menu a missed click may have left open
            self.menu(menu, item)
            try:
                self.page.wait_for_function(done_js, timeout=attempt_s * 1000, polling=200)
                return
            except Exception:  # Playwright's TimeoutError
                if attempt == attempts:
                    progress = self.page.evaluate(_RUN_PROGRESS_JS)
                    raise LabError(
                        f"{self.name}: could not {what} in {attempts} attempts of "
                        f"{attempt_s:.0f} s; kernel {progress['kernel']}, prompts: "
                        f"{progress['prompts']}"
                    ) from None

    def cell_states(self) -> list[dict]:
        return self.page.evaluate(_CELL_STATES_JS)

    def visible_problems(self) -> list[dict]:
        return self.page.evaluate(_VISIBLE_PROBLEMS_JS, BARE_WIDGET_REPR.pattern)

    def canvases_per_cell(self) -> list[dict]:
        return self.page.evaluate(_CANVASES_PER_CELL_JS, FIGURE_CANVAS)

    def wait_for_painted_canvases(
        self, expected: dict[int, int], timeout_s: float = 60.0
    ) -> list[dict]:
        """Wait until cell ``i`` shows at least ``expected[i]`` painted figure canvases and every
        figure canvas on the page is painted; return the per-cell counts (as they are at the deadline
        if that never happens, for the caller's assertion message)."""
        deadline = time.monotonic() + timeout_s
        while True:
            counts = self.canvases_per_cell()
            explorers_done = all(
                i < len(counts) and counts[i]["painted"] >= n for i, n in expected.items()
            )
            all_painted = all(c["painted"] == c["canvases"] for c in counts)
            if (explorers_done and all_painted) or time.monotonic() > deadline:
                return counts
            self.page.wait_for_timeout(250)  # polling interval of a wait-for, not a fixed delay

    # -- pictures ----------------------------------------------------------------------------------
    def screenshot_whole_notebook(self, path: Path, max_height: int = 15_000) -> Path:
        """Screenshot the whole notebook: grow the viewport to the notebook's height, then shoot."""
        path.parent.mkdir(parents=True, exist_ok=True)
        original = self.page.viewport_size
        needed = self.page.evaluate(
            f"""() => {{
              const node = {_CURRENT}.content.node;
              const scroller = node.querySelector('.jp-WindowedPanel-outer') || node;
              return window.innerHeight - scroller.clientHeight + scroller.scrollHeight;
            }}"""
        )
        height = int(min(max(needed, original["height"]), max_height))
        self.page.set_viewport_size({"width": original["width"], "height": height})
        try:
            self.page.evaluate(
                f"() => {{ const n = {_CURRENT}.content.node; "
                f"(n.querySelector('.jp-WindowedPanel-outer') || n).scrollTop = 0; }}"
            )
            self.page.screenshot(path=str(path))
        finally:
            self.page.set_viewport_size(original)
        return path


# --------------------------------------------------------------------------------------------------
# Accessibility: axe-core (bundled in the axe-playwright-python wheel, nothing fetched at run time)

# The lab's own outputs: what its cells display, not JupyterLab's or Notebook 7's own chrome.
LAB_OUTPUTS = ".jp-OutputArea-output"
BLOCKING_IMPACTS = ("critical", "serious")


def axe_audit(page, include: str = LAB_OUTPUTS) -> list[dict]:
    """Run axe-core on the elements matching ``include``; return its violations as plain dicts
    (``id``, ``impact``, ``help``, ``nodes``: the offending elements' selectors and summaries)."""
    from axe_playwright_python.sync_playwright import Axe

    if not page.locator(include).count():
        return []
    results = Axe().run(
        page, context={"include": [include]}, options={"resultTypes": ["violations"]}
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [
                {"target": n["target"], "summary": n.get("failureSummary", "")[:300]}
                for n in v["nodes"]
            ],
        }
        for v in results.response["violations"]
    ]


def blocking_violations(violations: list[dict]) -> list[str]:
    """One line per critical or serious violation and element: what a test must not accept."""
    return [
        f"{v['impact']} {v['id']} ({v['help']}) at {node['target']}: {node['summary']}"
        for v in violations
        if v["impact"] in BLOCKING_IMPACTS
        for node in v["nodes"]
    ]


# --------------------------------------------------------------------------------------------------
# One explorer on the page (lab_utils.explorers marks its widgets with ``softmax-lab-*`` classes)


class ExplorerView:
    """The DOM of one explorer: its figure canvas, its controls and its printed readout."""

    def __init__(self, page, kind: str, index: int = 0):
        # ``kind`` as in the class name: "softmax-explorer", "temperature-explorer", ...
        self.page = page
        self.kind = kind
        self.root = page.locator(f".softmax-lab-{kind}").nth(index)
        self.canvas = self.root.locator(FIGURE_CANVAS)

    def control(self, name: str):
        return self.root.locator(f".softmax-lab-control-{name}")

    def handle(self, name: str):
        """The draggable, focusable handle of slider ``name`` (noUiSlider, as ipywidgets 8 draws it)."""
        return self.control(name).locator(".noUi-handle")

    def slider_text(self, name: str) -> str:
        """What the slider's own readout next to it says."""
        return self.control(name).locator(".widget-readout").inner_text().strip()

    def readout(self) -> str:
        """The numbers the explorer prints under its figure."""
        return self.root.locator(".softmax-lab-readout").inner_text()

    def message(self) -> str:
        return self.root.locator(".softmax-lab-message").inner_text()

    def pixels(self) -> str:
        """The figure canvas as a data URL: equal strings, equal pixels."""
        return self.canvas.evaluate("canvas => canvas.toDataURL()")

    def frames(self) -> dict:
        """Frames drawn so far, as ``lab_utils/static/frame_bridge.js`` counts them on the canvas.

        ``patches``: patches (changed rectangles) painted by the explorer's frame bridge;
        ``pending``: patches received but still being decoded or waiting for a whole frame;
        ``superseded``: patches left undrawn because a whole frame sent after them came first;
        ``whole``: whole frames loaded through ipympl's own path since the bridge was installed.
        Zeros before the bridge has drawn anything. ``pixels``: the canvas as a data URL, read in
        the same instant.
        """
        return self.canvas.evaluate("""canvas => ({
            patches: Number(canvas.dataset.softmaxLabPatches || 0),
            pending: Number(canvas.dataset.softmaxLabPending || 0),
            superseded: Number(canvas.dataset.softmaxLabSuperseded || 0),
            whole: Number(canvas.dataset.softmaxLabWholeFrames || 0),
            pixels: canvas.toDataURL(),
        })""")

    def wait_for_frames(self, predicate: str, what: str, timeout_s: float = 20.0) -> dict:
        """Wait until ``predicate`` (JavaScript over ``patches``, ``pending``, ``whole``) holds."""
        try:
            self.page.wait_for_function(
                f"""canvas => {{
                    const patches = Number(canvas.dataset.softmaxLabPatches || 0);
                    const pending = Number(canvas.dataset.softmaxLabPending || 0);
                    const whole = Number(canvas.dataset.softmaxLabWholeFrames || 0);
                    return {predicate};
                }}""",
                arg=self.canvas.element_handle(),
                timeout=timeout_s * 1000,
                polling=20,
            )
        except Exception:
            raise LabError(
                f"{self.kind}: {what} within {timeout_s:.0f} s "
                f"(frames now: {self.frames()['patches']} patches, "
                f"{self.frames()['whole']} whole)"
            ) from None
        return self.frames()

    def wait_for_pixels_to_change(self, before: str, timeout_s: float = 20.0) -> str:
        try:
            self.page.wait_for_function(
                "([canvas, before]) => canvas.toDataURL() !== before",
                arg=[self.canvas.element_handle(), before],
                timeout=timeout_s * 1000,
                polling=50,
            )
        except Exception:
            raise LabError(
                f"{self.kind}: the figure's pixels did not change within {timeout_s:.0f} s"
            ) from None
        return self.pixels()

    def wait_for_readout(self, predicate, what: str, timeout_s: float = 20.0) -> str:
        """Poll the printed readout until ``predicate(text)`` holds; return that text."""
        deadline = time.monotonic() + timeout_s
        while True:
            text = self.readout()
            if predicate(text):
                return text
            if time.monotonic() > deadline:
                raise LabError(
                    f"{self.kind}: the readout did not show {what} within {timeout_s:.0f} s; "
                    f"it says:\n{text}"
                )
            self.page.wait_for_timeout(50)

    def drag_handle(self, name: str, dx: float, steps: int = 8) -> None:
        """Press the mouse on the slider handle, move it ``dx`` pixels sideways, release."""
        handle = self.handle(name)
        handle.scroll_into_view_if_needed()
        box = handle.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        self.page.mouse.move(x, y)
        self.page.mouse.down()
        for step in range(1, steps + 1):
            self.page.mouse.move(x + dx * step / steps, y)
        self.page.mouse.up()

    def type_into_slider_readout(self, name: str, value: str) -> None:
        """Click the number next to a slider, replace it by ``value`` and press Enter."""
        readout = self.control(name).locator(".widget-readout")
        readout.click()
        self.page.keyboard.press("ControlOrMeta+A")
        self.page.keyboard.type(value)
        self.page.keyboard.press("Enter")

    def press_on_slider(self, name: str, key: str, times: int = 1) -> None:
        """Focus the slider handle (as Tab would) and press ``key`` ``times`` times."""
        handle = self.handle(name)
        handle.scroll_into_view_if_needed()
        handle.focus()
        for _ in range(times):
            self.page.keyboard.press(key)
