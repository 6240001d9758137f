"""Cheating submissions, graded through the real ``nbgrader autograde`` with the repository's config.

Each submission of ``corpus.CORPUS`` must earn exactly what an honest judge gives its ``my_softmax``,
and grading must leave every other file of the course as it was: other students' hand-ins,
``source/``, ``release/`` and the gradebook's other rows. One more run grades on a machine without
bubblewrap and must say so. The assignment is notebook 01 up to its last ``my_softmax`` grade cell
(:func:`_assignment`): the whole notebook's grading is tests/test_classroom.py's.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest

from . import corpus

pytestmark = pytest.mark.classroom

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENT = "01_softmax_basics"
HONEST_STUDENTS = {
    "honest_correct": (
        None,
        {"my_softmax_values": 1.0, "my_softmax_batch": 1.0, "my_softmax_extreme": 2.0},
    ),
    "honest_naive": (corpus.NAIVE, corpus.HONEST),
}


def _nbgrader(args, course: Path, path: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["SOFTMAX_LAB_COURSE"] = str(course)
    # 3 s for a NumPy part: honest parts take milliseconds, and the infinite loop and the memory bomb
    # (which spend a core each while they run) need no more to be stopped.
    env["SOFTMAX_LAB_PART_TIMEOUT_SCALE"] = "0.1"
    # The assignment holds no TensorFlow: a kernel of its first cells reserves under 1 GB of address
    # space, so 2.5 GB leaves the honest code room and stops the memory bomb at its second GiB
    # (touching one GiB took 2.3 s of system time on an idle 2-core machine; five took 11.4 s).
    env["SOFTMAX_LAB_MEMORY_LIMIT_MB"] = "2560"
    # The memory bomb's self-check must reach its MemoryError (shown in its feedback) within this,
    # twice (two parts); the infinite loop's self-check spins a core this long.
    env["SOFTMAX_LAB_STUDENT_CELL_TIMEOUT"] = "20"
    env["PATH"] = path or os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, (
        f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr[-4000:]}"
    )
    return result


def _listener():
    """A TCP server on the host's loopback that records whether anyone connected."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.5)
    seen, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            seen.append(True)
            connection.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    return server.getsockname()[1], seen, lambda: (stop.set(), thread.join(), server.close())


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _submit(course: Path, student: str, solution: str | None) -> None:
    release = nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    source = nbformat.read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    (cell,) = [
        c for c in release.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "my_softmax"
    ]
    if solution is None:
        (original,) = [
            c
            for c in source.cells
            if c.metadata.get("nbgrader", {}).get("grade_id") == "my_softmax"
        ]
        solution = re.sub(r"\s*### (BEGIN|END) SOLUTION", "", original.source)
    cell.source = solution
    target = course / "submitted" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    target.parent.mkdir(parents=True)
    nbformat.write(release, target)


def _scores(course: Path) -> dict[str, dict[str, float]]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return {
            student.id: {
                g.name: g.score
                for g in gradebook.find_submission(ASSIGNMENT, student.id).notebooks[0].grades
            }
            for student in gradebook.students
        }


def _assignment() -> nbformat.NotebookNode:
    """Notebook 01 up to its last ``my_softmax`` grade cell: every cell the attacks meet.

    The rest of the notebook (Keras, TensorFlow) calls no student code the grader judges, and would
    cost each of the 17 gradings a TensorFlow import; tests/test_classroom.py grades it whole.
    """
    notebook = nbformat.read(ROOT / "notebooks" / f"{ASSIGNMENT}.ipynb", as_version=4)
    grade_ids = [c.metadata.get("nbgrader", {}).get("grade_id", "") for c in notebook.cells]
    last = max(i for i, grade_id in enumerate(grade_ids) if grade_id.startswith("my_softmax_"))
    notebook.cells = notebook.cells[: last + 1]
    assert not any("tensorflow" in c.source for c in notebook.cells)
    return notebook


def _course(tmp_path: Path) -> Path:
    course = tmp_path / "course"
    (course / "source" / ASSIGNMENT).mkdir(parents=True)
    nbformat.write(_assignment(), course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    _nbgrader(["generate_assignment", ASSIGNMENT], course)
    return course


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if shutil.which("bwrap") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("bubblewrap (bwrap) is missing: .ci/run installs it")
        pytest.skip("bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
    course = _course(tmp_path_factory.mktemp("corpus"))
    port, connections, stop = _listener()
    try:
        for student, (solution, _) in HONEST_STUDENTS.items():
            _submit(course, student, solution)
        for student, (solution, _, _) in corpus.CORPUS.items():
            _submit(course, student, solution.replace("TEST_PORT", str(port)))
        canary = course / "submitted" / "canary" / "notes.txt"
        canary.parent.mkdir(parents=True)
        canary.write_text("another student's file\n")
        before = {name: _hashes(course / name) for name in ("submitted", "source", "release")}
        result = _nbgrader(["autograde", ASSIGNMENT], course)
        _nbgrader(["generate_feedback", ASSIGNMENT], course)
    finally:
        stop()
    return {"course": course, "before": before, "log": result.stderr, "connections": connections}


EXPECTED = {
    **{s: points for s, (_, points) in HONEST_STUDENTS.items()},
    **{s: points for s, (_, points, _) in corpus.CORPUS.items()},
}


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_each_submission_earns_what_an_honest_judge_gives(graded, student):
    assert _scores(graded["course"])[student] == EXPECTED[student]


def test_nothing_outside_a_students_folder_changed(graded):
    course = graded["course"]
    for name, hashes in graded["before"].items():
        assert _hashes(course / name) == hashes, name
    assert (course / "submitted" / "canary" / "notes.txt").read_text() == "another student's file\n"
    # The gradebook is whole: every student of the corpus has a graded submission.
    assert set(_scores(course)) == set(EXPECTED)


def test_no_submission_reached_the_network(graded):
    assert graded["connections"] == []


@pytest.mark.parametrize(
    "student", sorted(s for s, (_, _, words) in corpus.CORPUS.items() if words)
)
def test_feedback_says_why_a_part_earned_nothing(graded, student):
    html = (graded["course"] / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    for words in corpus.CORPUS[student][2]:
        assert words in html, (student, words)


def test_honest_self_checks_predict_the_grade(graded):
    for student in HONEST_STUDENTS:
        path = graded["course"] / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        notebook = nbformat.read(path, as_version=4)
        (cell,) = [
            c
            for c in notebook.cells
            if c.metadata.get("nbgrader", {}).get("grade_id") == "my_softmax_selfcheck"
        ]
        printed = "".join(o.get("text", "") for o in cell.outputs)
        assert printed.startswith(f"my_softmax: {sum(EXPECTED[student].values()):g}/4 points"), (
            printed
        )


def test_grading_without_bubblewrap_still_judges_and_says_so(tmp_path):
    course = _course(tmp_path)
    _submit(course, "laptop", corpus.NAIVE)
    venv_bin = str(Path(sys.executable).parent)
    result = _nbgrader(["autograde", ASSIGNMENT], course, path=venv_bin)  # no /usr/bin: no bwrap
    assert "WITHOUT a sandbox" in result.stderr
    assert _scores(course)["laptop"] == corpus.HONEST
    notebook = nbformat.read(
        course / "autograded" / "laptop" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4
    )
    assert "Graded without a sandbox" in notebook.cells[0].source
