"""A class on a real JupyterHub, as classroom/jupyterhub.md tells an instructor to run it.

Two students are created through the Hub's REST API and their servers started. Each follows the
nbgitpuller link (its ``/git-pull/api`` event stream, what the link's page reads) and gets the lab's
notebooks from a local git repository into their home. The instructor generates and releases
``02_temperature`` (no TensorFlow: the fastest notebook) through nbgrader's exchange; each student
fetches it through the Assignments API of their own server (what JupyterLab's Assignments panel
calls), writes a sample submission (classroom/sample_submissions.py: one correct, one blank) through
the contents API and submits. The instructor collects, autogrades, generates and releases feedback
with the plain nbgrader commands and the repository's nbgrader_config.py; the students fetch their
feedback. Every step goes through the hub's proxy.
"""

from __future__ import annotations

import filecmp
import html
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from lab_utils import checks
from tests.hub.hub_support import COURSE_ID, REPO, pull_notebooks

pytestmark = pytest.mark.hub

ASSIGNMENT = "02_temperature"
#: hub user -> the sample student of classroom/sample_submissions.py whose work they hand in
STUDENTS = {"ada": "correct", "bo": "blank"}
FULL = float(sum(part.points for part in checks.EXERCISES["softmax_with_temperature"].parts))


def _samples():
    spec = importlib.util.spec_from_file_location(
        "sample_submissions", REPO / "classroom" / "sample_submissions.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def nbgrader(args: list[str], course: Path, exchange: Path) -> str:
    """An instructor's nbgrader command, from the repository root (its nbgrader_config.py)."""
    env = dict(os.environ, SOFTMAX_LAB_COURSE=str(course))
    env["PATH"] = os.pathsep.join(
        [str(Path(sys.executable).parent), env.get("PATH", "")]
    )  # alembic
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args, f"--Exchange.root={exchange}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, (
        f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    )
    assert "[ERROR]" not in result.stderr and "| ERROR]" not in result.stderr, result.stderr
    return result.stderr


def assignments(hub, student: str, action: str | None = None) -> list[dict]:
    """The student's Assignments panel: the list, or after fetch / submit / fetch_feedback."""
    if action is None:
        return hub.user_api(student, f"/assignments?course_id={COURSE_ID}")["value"]
    reply = hub.user_api(
        student,
        f"/assignments/{action}",
        "POST",
        {"assignment_id": ASSIGNMENT, "course_id": COURSE_ID},
        timeout=120,
    )
    assert reply.get("success", True), f"{action} failed for {student}: {reply.get('value')}"
    return reply["value"]


@pytest.fixture(scope="module")
def course_flow(hub, course_repo, tmp_path_factory):
    """The whole flow once; what each step produced, for the tests below."""
    seen = {"pulls": {}}
    hub.add_students(list(STUDENTS))
    for student in STUDENTS:
        hub.start_server(student)
    for student in STUDENTS:
        seen["pulls"][student] = pull_notebooks(hub, student, str(course_repo))

    course = tmp_path_factory.mktemp("instructor") / "course"
    (course / "source" / ASSIGNMENT).mkdir(parents=True)
    shutil.copy(REPO / "notebooks" / f"{ASSIGNMENT}.ipynb", course / "source" / ASSIGNMENT)
    nbgrader(["generate_assignment", ASSIGNMENT], course, hub.exchange)
    nbgrader(["release_assignment", ASSIGNMENT], course, hub.exchange)

    samples = _samples()
    seen["listed"], seen["fetched"] = {}, {}
    for student, sample in STUDENTS.items():
        seen["listed"][student] = assignments(hub, student)
        seen["fetched"][student] = assignments(hub, student, "fetch")
        released = hub.home(student) / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        work = samples.make_submission(
            released, course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", sample
        )
        hub.user_api(
            student,
            f"/api/contents/{ASSIGNMENT}/{ASSIGNMENT}.ipynb",
            "PUT",
            {"type": "notebook", "format": "json", "content": work},
        )
        assignments(hub, student, "submit")

    nbgrader(["collect", ASSIGNMENT], course, hub.exchange)
    nbgrader(["autograde", ASSIGNMENT], course, hub.exchange)
    nbgrader(["generate_feedback", ASSIGNMENT], course, hub.exchange)
    nbgrader(["release_feedback", ASSIGNMENT], course, hub.exchange)
    seen["after_feedback"] = {
        student: assignments(hub, student, "fetch_feedback") for student in STUDENTS
    }
    seen["course"] = course
    return seen


def test_students_were_created_through_the_rest_api_and_run_their_own_servers(hub, course_flow):
    users = {user["name"]: user for user in hub.api("/users")}
    assert set(STUDENTS) <= set(users)
    for student in STUDENTS:
        assert users[student]["servers"][""]["ready"]
        process = hub.server_process(student)
        assert Path(process.cwd()) == hub.home(student)
        # What an image built from binder/ gives every server: binder/start's allocator settings,
        # binder/jupyter_server_config.py (kernel culling), binder/ipython_kernel_config.py.
        environ = process.environ()
        assert environ["MALLOC_ARENA_MAX"] == "2" and environ["JUPYTERHUB_USER"] == student
        assert str(REPO / "binder") in environ["JUPYTER_CONFIG_PATH"].split(os.pathsep)
        assert (
            hub.home(student) / ".ipython" / "profile_default" / "ipython_kernel_config.py"
        ).exists()
        # jupyter-resource-usage answers through the proxy with the server's and kernels' memory
        metrics = hub.user_api(student, "/api/metrics/v1")
        assert metrics["rss"] > 0 and metrics["pss"] > 0


def test_the_nbgitpuller_link_pulls_the_notebooks_into_each_home(hub, course_flow, course_repo):
    for student in STUDENTS:
        pulled = hub.home(student) / course_repo.name / "notebooks"
        names = sorted(p.name for p in pulled.glob("*.ipynb"))
        assert names == sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))
        assert filecmp.cmp(
            pulled / f"{ASSIGNMENT}.ipynb",
            REPO / "notebooks" / f"{ASSIGNMENT}.ipynb",
            shallow=False,
        )
        assert course_flow["pulls"][student][-1] == {"phase": "finished"}


def test_a_second_click_merges_new_commits_without_touching_a_students_work(
    hub, course_flow, course_repo
):
    student = "ada"
    mine = hub.home(student) / course_repo.name / "notebooks" / "01_softmax_basics.ipynb"
    mine.write_text(
        mine.read_text().replace(
            '"cells": [',
            '"cells": [{"cell_type": "markdown", '
            '"id": "my-note", "metadata": {}, "source": "my note"},',
            1,
        )
    )
    (course_repo / "notebooks" / "NEWS.md").write_text("A new exercise next week.\n")
    subprocess.run(["git", "add", "notebooks/NEWS.md"], cwd=course_repo, check=True)
    subprocess.run(["git", "commit", "--quiet", "-m", "news"], cwd=course_repo, check=True)
    pull_notebooks(hub, student, str(course_repo))
    assert (hub.home(student) / course_repo.name / "notebooks" / "NEWS.md").exists()
    assert "my note" in mine.read_text()


def test_students_fetch_the_released_assignment_from_the_exchange(hub, course_flow):
    for student in STUDENTS:
        (listed,) = course_flow["listed"][student]
        assert (listed["assignment_id"], listed["status"]) == (ASSIGNMENT, "released")
        (fetched,) = [a for a in course_flow["fetched"][student] if a["status"] == "fetched"]
        assert fetched["assignment_id"] == ASSIGNMENT
        notebook = nbformat.read(
            hub.home(student) / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4
        )
        assert "BEGIN SOLUTION" not in "".join(c.source for c in notebook.cells)


def test_the_instructor_collects_one_submission_per_student(hub, course_flow):
    submitted = course_flow["course"] / "submitted"
    assert sorted(p.name for p in submitted.iterdir()) == sorted(STUDENTS)
    for student in STUDENTS:
        assert (submitted / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").exists()
        assert (submitted / student / ASSIGNMENT / "timestamp.txt").exists()


def test_autograde_scores_each_student(hub, course_flow):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course_flow['course'] / 'gradebook.db'}") as gradebook:
        scores = {s: gradebook.find_submission(ASSIGNMENT, s).score for s in STUDENTS}
    assert scores == {"ada": FULL, "bo": 0.0}


def test_students_fetch_their_feedback(hub, course_flow):
    expected = {"ada": FULL, "bo": 0.0}
    for student in STUDENTS:
        (entry,) = [a for a in course_flow["after_feedback"][student] if a["status"] == "submitted"]
        assert entry["submissions"][0]["has_local_feedback"], entry
        (path,) = (hub.home(student) / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html")
        text = html.unescape(re.sub(r"<[^>]+>", "", path.read_text()))
        assert f"{ASSIGNMENT} (Score: {expected[student]:.1f} / {FULL:.1f})" in text
