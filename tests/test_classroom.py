"""The nbgrader course flow, for real, in a temporary course directory.

From the committed instructor notebooks: copy them into ``source/``, ``nbgrader generate_assignment``
(student versions: no solutions, no hidden tests), hand in sample submissions (correct, blank and the
typical mistakes of ``classroom/sample_submissions.py``), ``nbgrader autograde``, ``nbgrader
generate_feedback`` and ``nbgrader export``; then check every score to the point. The commands are
the ones classroom/README.md gives, run with the repository's ``nbgrader_config.py``.

Autograding executes whole notebooks (TensorFlow included): a few minutes. The flow runs once per
session (module fixture); the tests then read its results.
"""

from __future__ import annotations

import csv
import html
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from fnmatch import fnmatchcase
from pathlib import Path

import nbformat
import pytest

from lab_utils import checks

pytestmark = pytest.mark.classroom

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = Path(
    os.environ.get("SOFTMAX_LAB_NOTEBOOKS", ROOT / "notebooks")
)  # override: develop on others

#: Assignment (= notebook name) -> the exercises it holds, in notebook order (classroom/README.md).
ASSIGNMENTS = {
    "01_softmax_basics": ("my_softmax",),
    "02_temperature": ("softmax_with_temperature",),
    "03_cross_entropy": ("my_cross_entropy", "smoothed_cross_entropy"),
    "04_obvious_vs_preferred": ("train_with_tape",),
    "05_softmax_regression": (
        "softmax_loss_naive",
        "numerical_gradient",
        "softmax_loss_vectorized",
        "train_softmax",
        "search_hyperparameters",
    ),
    "06_softmax_beyond_classification": ("my_masked_softmax",),
}

#: Grade cells each sample mistake must lose, and nothing else (the brief of issue 8).
LOSSES = {
    "softmax_overflow": {"my_softmax_extreme"},  # 2/4
    "softmax_wrong_axis": {"my_softmax_batch"},  # 3/4
    "softmax_unnormalised": {"my_softmax_values", "my_softmax_batch", "my_softmax_extreme"},  # 0/4
    "cross_entropy_log_eps": {"my_cross_entropy_confident_mistakes"},  # 2/4
    "tape_loss_from_probs": {"train_with_tape_extreme"},  # 2/3
    # notebook 05 (issue 14): 16 points in five exercises
    "regression_no_division_by_n": {
        "softmax_loss_naive_loss",
        "softmax_loss_naive_gradient",
        "softmax_loss_naive_overflow",
        "softmax_loss_naive_log_space",
    },  # 12/16
    "regression_gradient_sign": {
        "softmax_loss_naive_gradient",
        "softmax_loss_naive_overflow",
        "softmax_loss_naive_log_space",
    },  # 13/16
    "regression_half_reg": {"softmax_loss_naive_loss", "softmax_loss_naive_gradient"},  # 14/16
    "regression_no_max": {
        "softmax_loss_vectorized_overflow",
        "softmax_loss_vectorized_log_space",
    },  # 14/16
    "regression_loop_left_in": {"softmax_loss_vectorized_no_loops"},  # 15/16
}
#: The same, as notebook scores out of the notebook's points.
MISTAKE_SCORES = {
    ("softmax_overflow", "01_softmax_basics"): (2, 4),
    ("softmax_wrong_axis", "01_softmax_basics"): (3, 4),
    ("softmax_unnormalised", "01_softmax_basics"): (0, 4),
    ("cross_entropy_log_eps", "03_cross_entropy"): (
        5,
        7,
    ),  # 2/4 of my_cross_entropy, 3/3 of smoothed_cross_entropy
    ("tape_loss_from_probs", "04_obvious_vs_preferred"): (2, 3),
    ("regression_no_division_by_n", "05_softmax_regression"): (12, 16),
    ("regression_gradient_sign", "05_softmax_regression"): (13, 16),
    ("regression_half_reg", "05_softmax_regression"): (14, 16),
    ("regression_no_max", "05_softmax_regression"): (14, 16),
    ("regression_loop_left_in", "05_softmax_regression"): (15, 16),
}


def _load_samples():
    spec = importlib.util.spec_from_file_location(
        "sample_submissions", ROOT / "classroom" / "sample_submissions.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


samples = _load_samples()


def _nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _exercises(assignment: str) -> list:
    return [checks.EXERCISES[name] for name in ASSIGNMENTS[assignment]]


def _points(assignment: str) -> int:
    return sum(exercise.points for exercise in _exercises(assignment))


def _instructor_notebooks() -> dict[str, Path]:
    return {
        name: NOTEBOOKS / f"{name}.ipynb"
        for name in ASSIGNMENTS
        if (NOTEBOOKS / f"{name}.ipynb").exists()
    }


# --- the cell contract of classroom/README.md, on the committed instructor notebooks (fast) -------------------


def test_every_assignment_notebook_exists():
    assert sorted(_instructor_notebooks()) == sorted(ASSIGNMENTS)


def test_the_assignments_hold_every_exercise_once():
    held = [name for names in ASSIGNMENTS.values() for name in names]
    assert sorted(held) == sorted(checks.EXERCISES)


def _check_exercise_cells(cells, graded, exercise):
    """One exercise's cells of the contract: [statement], solution, self-check, one per part."""
    statement = f"{exercise.name}_statement"
    if graded and graded[0][1]["grade_id"] == statement:
        # The statement may be a read-only markdown cell, so students cannot edit it by accident.
        index, meta = graded.pop(0)
        assert cells[index].cell_type == "markdown"
        assert meta == {
            "grade": False,
            "grade_id": statement,
            "locked": True,
            "schema_version": 3,
            "solution": False,
            "task": False,
        }
        assert index + 1 == graded[0][0], "the statement comes right before the solution cell"
    ids = [meta["grade_id"] for _, meta in graded]
    expected_ids = [exercise.name, f"{exercise.name}_selfcheck"] + [
        f"{exercise.name}_{p.name}" for p in exercise.parts
    ]
    assert ids == expected_ids, f"nbgrader cells of {exercise.name}, in order"
    first = graded[0][0]
    assert [i for i, _ in graded] == list(range(first, first + len(graded))), (
        "the exercise cells are consecutive"
    )
    assert cells[first - 1].cell_type == "markdown", (
        "a markdown statement comes right before the solution cell"
    )

    solution, selfcheck, *tests = (cells[i] for i, _ in graded)
    base = {"schema_version": 3, "task": False}
    assert _nbgrader_meta(solution) == {
        **base,
        "grade": False,
        "grade_id": exercise.name,
        "locked": False,
        "solution": True,
    }
    # One pair of markers per function the exercise asks for (smoothed_cross_entropy asks for two).
    assert (
        solution.source.count("### BEGIN SOLUTION")
        == solution.source.count("### END SOLUTION")
        >= 1
    )
    assert re.search(rf"^def {exercise.name}\(", solution.source, re.M)
    assert _nbgrader_meta(selfcheck) == {
        **base,
        "grade": False,
        "grade_id": f"{exercise.name}_selfcheck",
        "locked": True,
        "solution": False,
    }
    assert selfcheck.source.strip() == f"check_{exercise.name}({exercise.name})"
    for cell, part in zip(tests, exercise.parts):
        assert _nbgrader_meta(cell) == {
            **base,
            "grade": True,
            "grade_id": f"{exercise.name}_{part.name}",
            "locked": True,
            "points": part.points,
            "solution": False,
        }
        call = f'grade("{exercise.name}", {exercise.name}, "{part.name}")'
        assert call in cell.source
        hidden = re.search(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", cell.source, re.S)
        assert bool(hidden) == part.hidden, (
            f"{part.name}: hidden tests markers iff the part is hidden"
        )
        if hidden:
            assert call in hidden.group(1)

    # Committed with the outputs of a run: the solution passes its self-check, no grade cell fails.
    assert "all parts pass" in "".join(o.get("text", "") for o in selfcheck.outputs)
    for cell in tests:
        assert not [o for o in cell.outputs if o.output_type == "error"], cell.source


@pytest.mark.parametrize("assignment", list(ASSIGNMENTS))
def test_exercise_cells_follow_the_contract(assignment):
    path = NOTEBOOKS / f"{assignment}.ipynb"
    if not path.exists():
        pytest.fail(f"{path} is missing")
    notebook = nbformat.read(path, as_version=4)
    cells = notebook.cells
    graded = [
        (i, _nbgrader_meta(c))
        for i, c in enumerate(cells)
        if _nbgrader_meta(c) and _nbgrader_meta(c).get("grade_id") != KEY_ID
    ]
    # Each exercise's cells form one block, the blocks in the order of ASSIGNMENTS.
    owners = []
    for _, meta in graded:
        grade_id = meta["grade_id"]
        owner = max(
            (
                name
                for name in ASSIGNMENTS[assignment]
                if grade_id == name or grade_id.startswith(name + "_")
            ),
            key=len,
            default=None,
        )
        assert owner is not None, f"{grade_id} belongs to no exercise of {assignment}"
        owners.append(owner)
    blocks = [name for k, name in enumerate(owners) if k == 0 or owners[k - 1] != name]
    assert blocks == list(ASSIGNMENTS[assignment]), "one block of cells per exercise, in order"
    for exercise in _exercises(assignment):
        _check_exercise_cells(
            cells, [g for g, owner in zip(graded, owners) if owner == exercise.name], exercise
        )


#: The instructor key (issue 15): worked answers to the end-of-notebook exercises, in one solution
#: cell that generate_assignment empties (test_student_versions_have_no_solutions_and_no_hidden_tests).
KEY_ID = "instructor_key"
KEYED = tuple(ASSIGNMENTS)  # every notebook: 01 to 06


@pytest.mark.parametrize("assignment", KEYED)
def test_the_instructor_key_is_one_solution_cell_after_the_exercises(assignment):
    cells = nbformat.read(NOTEBOOKS / f"{assignment}.ipynb", as_version=4).cells
    keys = [i for i, c in enumerate(cells) if _nbgrader_meta(c).get("grade_id") == KEY_ID]
    assert len(keys) == 1, f"one cell with grade_id {KEY_ID!r}"
    cell = cells[keys[0]]
    assert _nbgrader_meta(cell) == {
        "grade": False,
        "grade_id": KEY_ID,
        "locked": False,
        "schema_version": 3,
        "solution": True,
        "task": False,
    }
    assert cell.source.count("### BEGIN SOLUTION") == cell.source.count("### END SOLUTION") == 1
    exercises = [
        i for i, c in enumerate(cells) if c.cell_type == "markdown" and "## Exercises" in c.source
    ]
    assert exercises and exercises[-1] < keys[0], "the key comes after the exercises it answers"
    if cell.cell_type == "code":  # its printed answers are in the instructor version's outputs
        assert any(output.get("text", "").strip() for output in cell.outputs)


# --- the nbgrader flow, once ----------------------------------------------------------------------


def _run_nbgrader(args: list[str], course: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["SOFTMAX_LAB_COURSE"] = str(course)
    # nbgrader calls the `alembic` executable for its database: the venv's bin must be on PATH.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, (
        f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    )
    assert "[ERROR]" not in result.stderr and "| ERROR]" not in result.stderr, result.stderr
    return result


#: The sample students in two groups of about the same grading time (blank and the five notebook-05
#: mistakes; the others), as ``--student`` globs: one nbgrader process grades each group, both at
#: once, since nbgrader itself grades one notebook after another. The course is the suite's longest
#: unit, and this halves its wall time wherever a second core is free.
GRADING_GROUPS = ("[br]*", "[!br]*")


def _autograde_group(course: Path, group: str) -> None:
    """``nbgrader autograde "*" --student GROUP``; once more if the gradebook was locked.

    Two nbgrader processes share the gradebook; SQLite serialises their writes, and a write that
    waited longer than its timeout fails with "database is locked" (as in lab_utils.grading.parallel,
    whose retry this is)."""
    try:
        _run_nbgrader(["autograde", "*", "--student", group], course)
    except AssertionError as error:
        if "database is locked" not in str(error):
            raise
        _run_nbgrader(["autograde", "*", "--student", group, "--force"], course)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    notebooks = _instructor_notebooks()
    if not notebooks:
        pytest.fail(f"no instructor notebooks in {NOTEBOOKS}")
    course = tmp_path_factory.mktemp("course")
    # 1. the instructor versions, one assignment per notebook
    for assignment, path in notebooks.items():
        (course / "source" / assignment).mkdir(parents=True)
        shutil.copy(path, course / "source" / assignment / path.name)
    # 2-6. student versions, hand-ins (as collected into submitted/<student>/<assignment>/),
    # grading, feedback, export: the "all assignments at once" commands of classroom/README.md
    # (one nbgrader start per step, two for grading, instead of one per notebook: this test's run
    # time is mostly notebooks executing, 22 of them, TensorFlow included).
    _run_nbgrader(["generate_assignment", "*"], course)
    submissions = samples.make_submissions(course)
    with ThreadPoolExecutor(max_workers=len(GRADING_GROUPS)) as pool:
        list(pool.map(lambda group: _autograde_group(course, group), GRADING_GROUPS))
    _run_nbgrader(["generate_feedback", "*"], course)
    _run_nbgrader(["export", "--to", str(course / "grades.csv")], course)
    return {"root": course, "assignments": list(notebooks), "submissions": submissions}


def _submitted(course) -> set[tuple[str, str]]:
    return {(p.parts[-3], p.parts[-2]) for p in course["submissions"]}


def _expected_cell_scores(student: str, assignment: str) -> dict[str, float]:
    lost = LOSSES.get(student, set())
    scores = {}
    for exercise in _exercises(assignment):
        for part in exercise.parts:
            grade_id = f"{exercise.name}_{part.name}"
            scores[grade_id] = 0.0 if student == "blank" or grade_id in lost else float(part.points)
    return scores


def test_student_versions_have_no_solutions_and_no_hidden_tests(course):
    root = course["root"]
    for assignment in course["assignments"]:
        source = nbformat.read(root / "source" / assignment / f"{assignment}.ipynb", as_version=4)
        release_path = root / "release" / assignment / f"{assignment}.ipynb"
        release = nbformat.read(release_path, as_version=4)
        text = release_path.read_text()
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
            assert marker not in text, (assignment, marker)

        # Every line of a solution or a hidden test that appears nowhere else in the instructor's
        # notebook must be gone from the student's.
        secret, public = [], []
        for cell in source.cells:
            regions = re.findall(
                r"### BEGIN (?:SOLUTION|HIDDEN TESTS)\n(.*?)### END", cell.source, re.S
            )
            secret += [
                line.strip() for region in regions for line in region.splitlines() if line.strip()
            ]
            public.append(
                re.sub(
                    r"### BEGIN (SOLUTION|HIDDEN TESTS).*?### END \1", "", cell.source, flags=re.S
                )
            )
        public_text = "\n".join(public)
        distinctive = [
            line for line in secret if line not in public_text and not line.startswith("#")
        ]
        assert distinctive, assignment
        release_sources = "\n".join(cell.source for cell in release.cells)
        for line in distinctive:
            assert line not in release_sources, (assignment, line)

        # Outputs are cleared (the instructor's self-check verdict would give the game away), the
        # stub is in the solution cell, and the grade cells are still there, read-only.
        assert all(not cell.get("outputs") for cell in release.cells if cell.cell_type == "code")
        cells = {_nbgrader_meta(c).get("grade_id"): c for c in release.cells}
        for exercise in _exercises(assignment):
            assert samples.STUB.search(cells[exercise.name].source)
            for part in exercise.parts:
                meta = _nbgrader_meta(cells[f"{exercise.name}_{part.name}"])
                assert meta["grade"] and meta["locked"] and meta["points"] == part.points


def test_the_grading_groups_hold_every_sample_student_once():
    for student in samples.STUDENTS:
        groups = [group for group in GRADING_GROUPS if fnmatchcase(student, group)]
        assert len(groups) == 1, (student, groups)


def test_every_sample_student_handed_in_what_they_should(course):
    expected = {("correct", a) for a in course["assignments"]} | {
        ("blank", a) for a in course["assignments"]
    }
    expected |= {key for key in MISTAKE_SCORES if key[1] in course["assignments"]}
    assert _submitted(course) == expected


def test_autograde_gives_each_submission_exactly_its_points(course):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course['root'] / 'gradebook.db'}") as gradebook:
        for student, assignment in sorted(_submitted(course)):
            submission = gradebook.find_submission(assignment, student)
            (notebook,) = submission.notebooks
            got = {grade.name: grade.score for grade in notebook.grades}
            assert got == _expected_cell_scores(student, assignment), (student, assignment)
            full = _points(assignment)
            assert submission.max_score == full
            if student == "correct":
                assert submission.score == full
            elif student == "blank":
                assert submission.score == 0
            else:
                assert (submission.score, submission.max_score) == MISTAKE_SCORES[
                    (student, assignment)
                ]


def test_self_check_predicted_every_grade(course):
    # What the student saw before handing in (each self-check cell, re-run by the autograder) names
    # the same score as the autograder gives that exercise's grade cells.
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course['root'] / 'gradebook.db'}") as gradebook:
        for student, assignment in sorted(_submitted(course)):
            path = course["root"] / "autograded" / student / assignment / f"{assignment}.ipynb"
            notebook = nbformat.read(path, as_version=4)
            (graded,) = gradebook.find_submission(assignment, student).notebooks
            got = {grade.name: grade.score for grade in graded.grades}
            for exercise in _exercises(assignment):
                (cell,) = [
                    c
                    for c in notebook.cells
                    if _nbgrader_meta(c).get("grade_id") == f"{exercise.name}_selfcheck"
                ]
                printed = "".join(
                    o.get("text", "") for o in cell.outputs if o.output_type == "stream"
                )
                match = re.match(rf"{exercise.name}: (\d+)/(\d+) points", printed)
                assert match, (student, assignment, exercise.name, printed, cell.outputs)
                score = sum(got[f"{exercise.name}_{part.name}"] for part in exercise.parts)
                assert (float(match.group(1)), float(match.group(2))) == (score, exercise.points), (
                    student,
                    exercise.name,
                )
                assert not [o for o in cell.outputs if o.output_type == "error"]
                if student == "blank":
                    assert "not written yet" in printed


def test_feedback_html_for_every_submission_shows_its_score_and_verdicts(course):
    for student, assignment in sorted(_submitted(course)):
        path = course["root"] / "feedback" / student / assignment / f"{assignment}.html"
        assert path.exists(), path
        text = html.unescape(re.sub(r"<[^>]+>", "", path.read_text()))
        full = _points(assignment)
        score = sum(_expected_cell_scores(student, assignment).values())
        assert f"{assignment} (Score: {score:.1f} / {full:.1f})" in text
        if student in LOSSES:
            assert "hint:" in text  # the friendly verdict reaches the student's feedback


def test_grades_export_to_csv(course):
    with open(course["root"] / "grades.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    got = {
        (row["student_id"], row["assignment"]): (float(row["score"]), float(row["max_score"]))
        for row in rows
    }
    expected = {}
    for student, assignment in _submitted(course):
        scores = _expected_cell_scores(student, assignment)
        expected[(student, assignment)] = (sum(scores.values()), float(_points(assignment)))
    # nbgrader also lists every student against every assignment they did not hand in, at 0.
    for key, value in got.items():
        if key not in expected:
            assert value[0] == 0.0, key
    assert {key: got[key] for key in expected} == expected


def test_zip_collect_files_downloaded_from_an_lms(tmp_path):
    # Canvas-style download names, as nbgrader_config.py's FileNameCollectorPlugin pattern reads them.
    import zipfile

    archive = tmp_path / "downloaded" / "01_softmax_basics" / "archive"
    archive.mkdir(parents=True)
    notebook = nbformat.v4.new_notebook()
    with zipfile.ZipFile(archive / "submissions.zip", "w") as bundle:
        bundle.writestr("alice_1234_5678_01_softmax_basics.ipynb", nbformat.writes(notebook))
        bundle.writestr("bob_late_1235_5679_01_softmax_basics.ipynb", nbformat.writes(notebook))
    _run_nbgrader(["zip_collect", "01_softmax_basics"], tmp_path)
    collected = sorted(
        p.relative_to(tmp_path).as_posix() for p in (tmp_path / "submitted").rglob("*.ipynb")
    )
    assert collected == [
        "submitted/alice/01_softmax_basics/01_softmax_basics.ipynb",
        "submitted/bob/01_softmax_basics/01_softmax_basics.ipynb",
    ]
