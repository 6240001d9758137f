"""A real JupyterHub on 127.0.0.1 for tests and benchmarks: students, their servers, their API.

``running_hub(work_dir)`` starts ``jupyterhub`` (from requirements-test.txt) with
configurable-http-proxy (from npm, ``make hub-proxy``), JupyterHub's ``SimpleLocalProcessSpawner``
(every student's server is a local process with its own home under ``work_dir/homes``: students as
real Unix users are not possible on a test machine) and the dummy authenticator with a random
password. That configuration is written only into ``work_dir`` and lives only as long as the hub:
nothing outside a test ever uses it. An admin API token (a service with the admin role) creates the
students through the Hub's REST API and starts their servers.

Each student's server gets what an image built from ``binder/`` gives it: ``binder/start``'s
environment, ``binder/jupyter_server_config.py`` (kernel culling) and, in its home's IPython profile,
``binder/ipython_kernel_config.py``; and a student-side nbgrader config naming the exchange
(``work_dir/exchange``).

On exit everything the hub started is stopped: the hub first (it stops the servers and the proxy it
started), then every process of the tree recorded while it ran (servers and kernels run in sessions
of their own, so a process group is not enough), killed if still there.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tests.browser.browser_support import _write_user_settings, in_ci

REPO = Path(__file__).resolve().parents[2]
BINDER = REPO / "binder"
VENV_BIN = Path(sys.executable).parent
PROXY_IN_REPO = REPO / ".hub-node" / "node_modules" / ".bin" / "configurable-http-proxy"
COURSE_ID = "softmax-lab"  # nbgrader_config.py's course_id


#: Every student's nbgrader config on a hub (classroom/jupyterhub.md gives the same lines).
STUDENT_NBGRADER_CONFIG = """\
import os
c = get_config()  # noqa
c.CourseDirectory.course_id = {course_id!r}
c.Exchange.root = {exchange!r}
# The student is the hub's user. nbgrader takes the Unix user's name, or JUPYTERHUB_USER when that is
# `jovyan` (every user's name in a Zero to JupyterHub pod); here every server runs as one Unix user.
c.CourseDirectory.student_id = os.environ["JUPYTERHUB_USER"]
"""


def binder_start_environment() -> dict[str, str]:
    """The variables ``binder/start`` exports (its ``export NAME=VALUE`` lines), as on Binder."""
    env = {}
    for line in (BINDER / "start").read_text().splitlines():
        match = re.fullmatch(r"export ([A-Za-z_][A-Za-z0-9_]*)=(\S*)", line.strip())
        if match:
            env[match.group(1)] = match.group(2)
    return env


def binder_culling() -> dict:
    """The MappingKernelManager settings of binder/jupyter_server_config.py (read by running it)."""
    from traitlets.config import Config

    config = Config()
    runpy.run_path(
        str(BINDER / "jupyter_server_config.py"), init_globals={"get_config": lambda: config}
    )
    return dict(config.get("MappingKernelManager", {}))


def find_proxy() -> str | None:
    """configurable-http-proxy as ``make hub-proxy`` installs it, else one on PATH."""
    if PROXY_IN_REPO.exists():
        return str(PROXY_IN_REPO)
    return shutil.which("configurable-http-proxy")


def proxy_problem() -> tuple[str, bool] | None:
    """None when the hub can run; else (why not, whether skipping is allowed on this machine)."""
    if find_proxy():
        return None
    missing = [tool for tool in ("node", "npm") if not shutil.which(tool)]
    if missing:
        return (
            f"{' and '.join(missing)} not found: JupyterHub's proxy (configurable-http-proxy) comes "
            "from npm; install Node.js and npm, then `make hub-proxy`",
            not in_ci(),
        )
    return ("configurable-http-proxy is not installed: run `make hub-proxy` (npm is there)", False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class HubError(AssertionError):
    """The hub or a student's server did not reach the state a test waited for."""


@dataclass
class Hub:
    url: str  # http://127.0.0.1:<port>, the proxy: what a student's browser talks to
    admin_token: str
    password: str  # every student's, for the dummy authenticator
    work_dir: Path
    exchange: Path
    process: subprocess.Popen
    log_path: Path
    tokens: dict[str, str] = field(default_factory=dict)
    _seen: dict[int, psutil.Process] = field(default_factory=dict)

    # -- HTTP ------------------------------------------------------------------------------------
    def request(
        self,
        path: str,
        method: str = "GET",
        body=None,
        token: str | None = None,
        timeout: float = 60,
        raw: bool = False,
    ):
        data = (
            None
            if body is None
            else (body if isinstance(body, bytes) else json.dumps(body).encode())
        )
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={
                "Authorization": f"token {token or self.admin_token}",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as error:
            raise HubError(f"{method} {path}: HTTP {error.code}: {error.read()[:500]!r}") from None
        if raw:
            return payload
        return json.loads(payload) if payload else None

    def api(self, path: str, method: str = "GET", body=None):
        """The Hub's REST API (``/hub/api/...``) with the admin token."""
        return self.request(f"/hub/api{path}", method, body)

    def user_api(self, student: str, path: str, method: str = "GET", body=None, **kwargs):
        """The student's own server (``/user/<name>/...``) through the proxy, with their token."""
        return self.request(
            f"/user/{student}{path}", method, body, token=self.tokens[student], **kwargs
        )

    # -- students --------------------------------------------------------------------------------
    def home(self, student: str) -> Path:
        return self.work_dir / "homes" / student

    def add_students(self, names: list[str]) -> None:
        """Create the students (one REST call, as an instructor's script would) and a token each."""
        self.api("/users", "POST", {"usernames": names})
        for name in names:
            _write_user_settings(self.home(name) / ".jupyter" / "lab" / "user-settings")
            # What binder/postBuild installs in the image's environment; here, each home's profile.
            profile = self.home(name) / ".ipython" / "profile_default"
            profile.mkdir(parents=True, exist_ok=True)
            shutil.copy(BINDER / "ipython_kernel_config.py", profile)
            self.tokens[name] = self.api(f"/users/{name}/tokens", "POST", {"note": "tests/hub"})[
                "token"
            ]

    def start_server(self, student: str, timeout_s: float = 180) -> None:
        """Start the student's server through the REST API and wait until the hub says it is ready."""
        self.api(f"/users/{student}/server", "POST")
        self.wait_until_ready(student, timeout_s)

    def wait_until_ready(self, student: str, timeout_s: float = 180) -> None:
        """Wait until the hub says the student's (requested) server is ready."""
        deadline = time.monotonic() + timeout_s
        while True:
            server = self.api(f"/users/{student}").get("servers", {}).get("")
            if server and server.get("ready"):
                break
            if time.monotonic() > deadline:
                raise HubError(
                    f"{student}'s server was not ready within {timeout_s:.0f} s:\n{self.log_tail()}"
                )
            time.sleep(0.5)
        self.remember_processes()

    def stop_server(self, student: str, timeout_s: float = 60) -> None:
        self.remember_processes()
        self.api(f"/users/{student}/server", "DELETE")
        deadline = time.monotonic() + timeout_s
        while self.api(f"/users/{student}").get("servers"):
            if time.monotonic() > deadline:
                raise HubError(f"{student}'s server did not stop within {timeout_s:.0f} s")
            time.sleep(0.5)

    def server_process(self, student: str) -> psutil.Process:
        """The student's single-user server (its environment names the student)."""
        for proc in psutil.Process(self.process.pid).children(recursive=True):
            try:
                if proc.environ().get("JUPYTERHUB_USER") == student and "singleuser" in " ".join(
                    proc.cmdline()
                ):
                    return proc
            except psutil.Error:
                continue
        raise HubError(f"no server process for {student}")

    # -- bookkeeping -----------------------------------------------------------------------------
    def remember_processes(self) -> None:
        """Record the hub's whole process tree now (kernels come and go; stop() kills what is left)."""
        try:
            for proc in [
                psutil.Process(self.process.pid),
                *psutil.Process(self.process.pid).children(recursive=True),
            ]:
                self._seen.setdefault(proc.pid, proc)
        except psutil.Error:
            pass

    def still_running(self) -> list[psutil.Process]:
        """The processes recorded so far that are still alive (zombies excepted)."""
        alive = []
        for proc in self._seen.values():
            try:
                if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                    alive.append(proc)
            except psutil.Error:
                pass
        return alive

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no hub log)"

    def stop(self) -> list[str]:
        """Stop the hub and everything it started; return what had to be killed by force."""
        self.remember_processes()
        forced = []
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # the hub stops every server and its proxy
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        leftovers = self.still_running()
        for proc in leftovers:
            try:
                forced.append(" ".join(proc.cmdline())[:120])
                proc.terminate()
            except psutil.Error:
                pass
        _, alive = psutil.wait_procs(leftovers, timeout=10)
        for proc in alive:
            try:
                proc.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(alive, timeout=10)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        # A hub that died early leaves its proxy to init, out of the tree recorded above: the hub
        # started in a session of its own, so whatever is left in its process group goes too.
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
            forced.append(f"process group {self.process.pid}")
        except (ProcessLookupError, PermissionError):
            pass
        return forced


def _hub_config(
    work_dir: Path,
    port: int,
    hub_port: int,
    proxy: str,
    admin_token: str,
    password: str,
    singleuser_config: Path,
    spawner_env: dict[str, str],
) -> str:
    singleuser_args = [
        "--ServerApp.terminals_enabled=False",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        # window.jupyterapp lets the browser test read kernel and cell state.
        "--LabApp.expose_app_in_browser=True",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        singleuser_args.append("--allow-root")  # containers and CI run as root
    environment = {
        # Every student's server finds the lab's server config (culling) and the nbgrader exchange.
        "JUPYTER_CONFIG_PATH": os.pathsep.join([str(BINDER), str(singleuser_config)]),
        "PYTHONHASHSEED": "0",
        **binder_start_environment(),  # repo2docker's start script runs before a pod's server
        **spawner_env,
    }
    settings = {
        "ip": "127.0.0.1",
        "port": port,
        "hub_ip": "127.0.0.1",
        "hub_port": hub_port,
        "db_url": f"sqlite:///{work_dir / 'jupyterhub.sqlite'}",
        "cookie_secret_file": str(work_dir / "jupyterhub_cookie_secret"),
        "pid_file": str(work_dir / "jupyterhub.pid"),
        "home": str(work_dir / "homes"),
    }
    return f"""# Written by tests/hub/hub_support.py for one test run: never used outside it.
c = get_config()  # noqa
s = {json.dumps(settings)}
c.JupyterHub.ip = s["ip"]
c.JupyterHub.port = s["port"]
c.JupyterHub.hub_ip = s["hub_ip"]
c.JupyterHub.hub_port = s["hub_port"]
c.JupyterHub.db_url = s["db_url"]
c.JupyterHub.cookie_secret_file = s["cookie_secret_file"]
c.JupyterHub.pid_file = s["pid_file"]
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True
c.JupyterHub.active_server_limit = 0
c.ConfigurableHTTPProxy.command = [{proxy!r}]
# The proxy's API on a free port too: its default, 8001, is taken when two hubs run at once.
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{_free_port()}"
c.ConfigurableHTTPProxy.auth_token = {secrets.token_hex(32)!r}

# Safe only because this hub listens on 127.0.0.1 for the length of a test: one random password,
# and only students created through the REST API may log in.
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
c.Authenticator.allow_existing_users = True
c.Authenticator.admin_users = set()

c.JupyterHub.services = [{{"name": "test-instructor", "api_token": {admin_token!r}}}]
c.JupyterHub.load_roles = [{{"name": "admin", "services": ["test-instructor"]}}]

c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = s["home"] + "/{{username}}"
c.Spawner.cmd = [{str(VENV_BIN / "jupyterhub-singleuser")!r}]
c.Spawner.args = {singleuser_args!r}
c.Spawner.default_url = "/lab"
c.Spawner.environment = {environment!r}
c.Spawner.env_keep = ["PATH", "PYTHONPATH", "LANG", "LC_ALL", "VIRTUAL_ENV"]
c.Spawner.start_timeout = 240
c.Spawner.http_timeout = 240
"""


@contextmanager
def running_hub(
    work_dir: Path, spawner_env: dict[str, str] | None = None, startup_timeout_s: float = 120
) -> Iterator[Hub]:
    """A JupyterHub on 127.0.0.1 with a free port, stopped (whole tree) on exit."""
    proxy = find_proxy()
    if proxy is None:
        raise HubError(proxy_problem()[0])
    work_dir = Path(work_dir)
    (work_dir / "homes").mkdir(parents=True, exist_ok=True)
    exchange = work_dir / "exchange"
    exchange.mkdir(exist_ok=True)
    exchange.chmod(0o777)  # nbgrader's exchange: every student writes their submissions in
    singleuser_config = work_dir / "singleuser-config"
    singleuser_config.mkdir(exist_ok=True)
    # What a hub gives every student's nbgrader (classroom/jupyterhub.md): the course and the exchange.
    (singleuser_config / "nbgrader_config.py").write_text(
        STUDENT_NBGRADER_CONFIG.format(course_id=COURSE_ID, exchange=str(exchange))
    )
    port, hub_port = _free_port(), _free_port()
    admin_token, password = secrets.token_hex(32), secrets.token_urlsafe(16)
    config = work_dir / "jupyterhub_config.py"
    config.write_text(
        _hub_config(
            work_dir,
            port,
            hub_port,
            proxy,
            admin_token,
            password,
            singleuser_config,
            spawner_env or {},
        )
    )
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(VENV_BIN), env.get("PATH", "")])
    env.pop("JUPYTERHUB_API_TOKEN", None)
    log_path = work_dir / "jupyterhub.log"
    log = open(log_path, "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyterhub", "-f", str(config)],
        cwd=work_dir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    hub = Hub(
        f"http://127.0.0.1:{port}", admin_token, password, work_dir, exchange, process, log_path
    )
    try:
        deadline = time.monotonic() + startup_timeout_s
        while True:
            hub.remember_processes()  # the proxy too, as soon as the hub has started it
            if process.poll() is not None:
                raise HubError(
                    f"jupyterhub exited with code {process.returncode}:\n{hub.log_tail()}"
                )
            try:
                hub.api("/")  # through the proxy: both are up
                break
            except (HubError, OSError):
                if time.monotonic() > deadline:
                    raise HubError(
                        f"the hub did not answer within {startup_timeout_s:.0f} s:\n{hub.log_tail()}"
                    ) from None
                time.sleep(0.3)
        hub.remember_processes()
        yield hub
    finally:
        hub.forced = hub.stop()
        log.close()


def pull_notebooks(
    hub: Hub, student: str, repo: str, branch: str = "main", timeout_s: float = 120
) -> list[dict]:
    """What the nbgitpuller link's page does in the browser: the event stream of ``/git-pull/api``.

    Returns the events; raises unless the last one is ``finished``.
    """
    query = urllib.parse.urlencode({"repo": repo, "branch": branch})
    request = urllib.request.Request(
        f"{hub.url}/user/{student}/git-pull/api?{query}",
        headers={"Authorization": f"token {hub.tokens[student]}"},
    )
    events = []
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        for line in response:
            line = line.decode().strip()
            if line.startswith("data:"):
                events.append(json.loads(line[5:]))
                if events[-1].get("phase") in ("finished", "error"):
                    break
    if not events or events[-1].get("phase") != "finished":
        raise HubError(f"nbgitpuller did not finish for {student}: {events[-3:]}")
    return events


def nbgitpuller_link(hub_url: str, repo: str, notebook: str, branch: str = "main") -> str:
    """The link of classroom/jupyterhub.md: ``/hub/user-redirect/git-pull?repo=...&urlpath=...``."""
    folder = repo.rstrip("/").split("/")[-1]  # the folder nbgitpuller clones into
    query = urllib.parse.urlencode(
        {"repo": repo, "branch": branch, "urlpath": f"lab/tree/{folder}/notebooks/{notebook}"}
    )
    return f"{hub_url}/hub/user-redirect/git-pull?{query}"


# --------------------------------------------------------------------------------------------------
# A student's browser

#: The name a browser reaches the hub by: not a loopback name, so the page behaves as for a student
#: on another machine (the explorers' frame bridge deflates patches for such a page).
HUB_HOSTNAME = "softmax-hub.test"


def launch_hub_chromium(playwright, executable: str):
    """Headless Chromium (browser_support's flags) that resolves HUB_HOSTNAME to 127.0.0.1."""
    from tests.browser.browser_support import CHROMIUM_ARGS

    return playwright.chromium.launch(
        executable_path=executable,
        headless=True,
        args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {HUB_HOSTNAME} 127.0.0.1"],
    )


def log_in(page, student: str, password: str) -> None:
    """Fill in the hub's login form (the page the hub shows a student who is not logged in)."""
    page.locator("#username_input").fill(student)
    page.locator("#password_input").fill(password)
    page.locator("#login_submit").click()


class HubLab:
    """What browser_support.NotebookPage needs of a server, for a student's server behind the hub."""

    def __init__(self, hub: Hub, student: str, base_url: str, folder: str):
        from tests.browser.browser_support import FRONTENDS

        self.hub, self.student, self.base_url, self.folder = hub, student, base_url, folder
        self.frontend = FRONTENDS["jupyterlab"]  # the hub's single-user servers serve JupyterLab

    def notebook_url(self, name: str) -> str:
        return self.url(self.frontend.notebook_url.format(name=name))

    def url(self, path: str) -> str:
        # NotebookPage opens /lab/tree/<name>: the notebooks are in ``folder`` of the student's home.
        if self.folder:
            path = path.replace("/lab/tree/", f"/lab/tree/{self.folder}/", 1)
        return f"{self.base_url}/user/{self.student}{path}"

    def log_tail(self, lines: int = 60) -> str:
        return self.hub.log_tail(lines)  # the students' servers log to the hub's output

    def shutdown_kernels(self) -> None:
        """Left to the caller (tests/browser's run_in_jupyterlab calls this; the page is used after)."""

    def kernels_forked(self) -> bool:
        """Whether the student's kernels are children of the zygote their server started."""
        from tests.browser.browser_support import kernels_forked

        return kernels_forked(self.hub.server_process(self.student).pid)


def shut_down_sessions(hub: Hub, student: str) -> None:
    for session in hub.user_api(student, "/api/sessions") or []:
        hub.user_api(student, f"/api/sessions/{session['id']}", "DELETE")


def make_course_repo(folder: Path) -> Path:
    """A local git repository ``folder/softmax-lab`` with the lab's notebooks on branch main."""
    repo = Path(folder) / "softmax-lab"
    repo.mkdir(parents=True)

    def git(*args):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)

    git("init", "--quiet", "--initial-branch=main")
    git("config", "user.email", "instructor@softmax-lab")
    git("config", "user.name", "Instructor")
    shutil.copytree(
        REPO / "notebooks", repo / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints")
    )
    git("add", "notebooks")
    git("commit", "--quiet", "-m", "the notebooks")
    return repo
