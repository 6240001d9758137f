"""Fixtures for the hub tests: one real JupyterHub for the session, and a course repository.

Skipped with a message where Node.js or npm are missing (JupyterHub's proxy comes from npm), never
under ``CI=true``: CI installs them, so a missing proxy there is a broken pipeline.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hub_support import REPO, proxy_problem, running_hub  # noqa: E402


@pytest.fixture(scope="session")
def hub(tmp_path_factory):
    problem = proxy_problem()
    if problem:
        reason, may_skip = problem
        if may_skip:
            pytest.skip(reason)
        pytest.fail(f"the hub tests cannot run: {reason}", pytrace=False)
    with running_hub(tmp_path_factory.mktemp("hub")) as hub:
        yield hub
    alive = [p.pid for p in hub._seen.values() if p.is_running() and p.status() != "zombie"]
    assert not alive, f"processes of the hub still running after it stopped: {alive}"


@pytest.fixture(scope="session")
def course_repo(tmp_path_factory) -> Path:
    """A local git repository holding the lab's notebooks on branch main, as an instructor's would."""
    repo = tmp_path_factory.mktemp("remote") / "softmax-lab"
    repo.mkdir()

    def git(*args):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)

    git("init", "--quiet", "--initial-branch=main")
    git("config", "user.email", "instructor@softmax-lab")
    git("config", "user.name", "Instructor")
    subprocess.run(["cp", "-r", str(REPO / "notebooks"), str(repo / "notebooks")], check=True)
    git("add", "notebooks")
    git("commit", "--quiet", "-m", "the notebooks")
    return repo
