"""Class-scale grading: N submissions of notebook 01 graded with 1 and with 2 workers, same run.

    .venv/bin/python -m benchmarks.bench_grading [--submissions 40]

Prints seconds per submission for each worker count, the speed-up, and the cost of one sandboxed
notebook against the same notebook graded without bubblewrap (PATH without bwrap). Run by hand:
it takes several minutes of both cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "01_softmax_basics"


def _course(folder: Path, submissions: int) -> Path:
    import nbformat

    from classroom.sample_submissions import fill_cell, solution_cells

    course = folder / "course"
    (course / "source" / ASSIGNMENT).mkdir(parents=True)
    shutil.copy(ROOT / "notebooks" / f"{ASSIGNMENT}.ipynb", course / "source" / ASSIGNMENT)
    _nbgrader(["generate_assignment", ASSIGNMENT], course)
    release = course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    source = solution_cells(
        nbformat.read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    )
    for i in range(submissions):
        notebook = nbformat.read(release, as_version=4)
        for grade_id, cell in solution_cells(notebook).items():
            cell.source = fill_cell(cell.source, source[grade_id].source, "solution")
        target = course / "submitted" / f"student{i:03d}" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(notebook, target)
    return course


def _env(course: Path, path: str | None = None) -> dict:
    env = dict(os.environ, SOFTMAX_LAB_COURSE=str(course))
    env["PATH"] = path or os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def _nbgrader(args, course: Path, path: str | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=ROOT,
        env=_env(course, path),
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def _grade_all(course: Path, workers: int) -> float:
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "lab_utils.grading",
            "autograde",
            ASSIGNMENT,
            "--workers",
            str(workers),
            "--force",
            "--course",
            str(course),
        ],
        cwd=ROOT,
        env=_env(course),
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        course = _course(Path(folder), args.submissions)
        one = _grade_all(course, 1)
        two = _grade_all(course, 2)
        sandboxed = _nbgrader(
            ["autograde", ASSIGNMENT, "--student", "student000", "--force"], course
        )
        bare = _nbgrader(
            ["autograde", ASSIGNMENT, "--student", "student000", "--force"],
            course,
            path=str(Path(sys.executable).parent),
        )
    n = args.submissions
    print(f"{n} submissions of {ASSIGNMENT}, load average {os.getloadavg()[0]:.1f}")
    print(f"1 worker : {one:7.1f} s, {one / n:5.2f} s per submission")
    print(f"2 workers: {two:7.1f} s, {two / n:5.2f} s per submission, speed-up {one / two:.2f}x")
    print(
        f"one submission sandboxed {sandboxed:.1f} s, without bubblewrap {bare:.1f} s: ratio {sandboxed / bare:.2f}"
    )
    print(f"a class of 300 at 2 workers: about {300 * two / n / 60:.0f} min")


if __name__ == "__main__":
    main()
