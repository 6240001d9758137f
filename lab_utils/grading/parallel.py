"""Grade every submission of an assignment with W nbgrader processes at once.

``python -m lab_utils.grading autograde ASSIGNMENT [--workers W] [--force]`` runs, from the folder
holding ``nbgrader_config.py``, one ``nbgrader autograde ASSIGNMENT --student S`` per student who
handed the assignment in, W at a time (default: the number of cores). Each process executes its
notebook in its own sandbox; the gradebook's writes are serialised by SQLite's write lock (every
nbgrader write is a short transaction), and a student whose run still hit "database is locked" is
graded again once the others are done.

Examples
--------
>>> import tempfile
>>> course = tempfile.TemporaryDirectory()
>>> for student, assignment in [("bob", "ps1"), ("alice", "ps1"), ("carol", "ps2")]:
...     (Path(course.name) / "submitted" / student / assignment).mkdir(parents=True)
>>> submitted_students(Path(course.name), "ps1")
['alice', 'bob']
>>> main(["ps3", "--course", course.name])     # nothing handed in: exit code 2, no nbgrader run
2
>>> course.cleanup()
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def submitted_students(course: Path, assignment: str) -> list[str]:
    """Students with a folder ``submitted/<student>/<assignment>``, sorted."""
    return sorted(
        p.parent.name for p in (course / "submitted").glob(f"*/{assignment}") if p.is_dir()
    )


def _grade_one(
    assignment: str, student: str, force: bool, cwd: Path
) -> tuple[str, int, float, str]:
    command = [sys.executable, "-m", "nbgrader", "autograde", assignment, "--student", student]
    if force:
        command.append("--force")
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    return student, result.returncode, time.perf_counter() - start, result.stderr


def grade_all(
    course: Path,
    assignment: str,
    workers: int,
    force: bool = False,
    cwd: Path | None = None,
    log=print,
) -> dict[str, tuple[int, float]]:
    """Autograde every submission; returns ``{student: (exit code, seconds)}``."""
    cwd = cwd or Path.cwd()
    students = submitted_students(course, assignment)
    outcomes: dict[str, tuple[int, float]] = {}
    retry = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for student, code, seconds, stderr in pool.map(
            lambda s: _grade_one(assignment, s, force, cwd), students
        ):
            if code != 0 and "database is locked" in stderr:
                retry.append(student)
                continue
            outcomes[student] = (code, seconds)
            log(f"{'graded' if code == 0 else 'FAILED'} {student} in {seconds:.1f} s")
    for student in retry:
        _, code, seconds, _ = _grade_one(assignment, student, True, cwd)
        outcomes[student] = (code, seconds)
        log(f"{'graded' if code == 0 else 'FAILED'} {student} in {seconds:.1f} s (second try)")
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lab_utils.grading autograde", description=__doc__.splitlines()[0]
    )
    parser.add_argument("assignment")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="parallel nbgrader processes"
    )
    parser.add_argument("--force", action="store_true", help="re-grade submissions already graded")
    parser.add_argument(
        "--course",
        default=os.environ.get("SOFTMAX_LAB_COURSE", "course"),
        help="course root (default: $SOFTMAX_LAB_COURSE or ./course)",
    )
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, got {args.workers}")
    course = Path(args.course).resolve()
    if not submitted_students(course, args.assignment):
        print(f"no submissions of {args.assignment!r} under {course}/submitted", file=sys.stderr)
        return 2
    start = time.perf_counter()
    outcomes = grade_all(course, args.assignment, args.workers, args.force)
    failed = sorted(s for s, (code, _) in outcomes.items() if code)
    print(
        f"{len(outcomes)} submissions of {args.assignment} in {time.perf_counter() - start:.1f} s with "
        f"{args.workers} workers; {len(failed)} failed{': ' + ', '.join(failed) if failed else ''}"
    )
    return 1 if failed else 0
