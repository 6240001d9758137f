"""Sample submissions for a dry run of the grading flow: correct, blank, and typical mistakes.

Each sample student fills the solution cells of the released (student) notebooks the way a real
student might: with the instructor's solution, not at all, or with one of the mistakes students
really make. ``tests/test_classroom.py`` autogrades them and checks every score; instructors can do
the same to see the whole flow before their class hands anything in::

    python classroom/sample_submissions.py            # after `nbgrader generate_assignment ...`
    nbgrader autograde 01_softmax_basics               # and so on, see classroom/README.md

The samples are written to ``<course>/submitted/<student>/<assignment>/<notebook>.ipynb``, the
layout ``nbgrader autograde`` reads.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import nbformat

#: Fill a solution cell with the instructor's solution (from the source notebook).
SOLUTION = "solution"
#: Leave the nbgrader stub (``raise NotImplementedError()``) in place.
BLANK = "blank"

# Function bodies, written as a student would, in place of the stub inside the exercise's `def`.
MISTAKES = {
    "softmax_overflow": """\
e = np.exp(z)  # no max subtracted: overflows for large logits
return e / np.sum(e, axis=-1, keepdims=True)""",
    "softmax_wrong_axis": """\
e = np.exp(z - np.max(z, axis=0, keepdims=True))
return e / np.sum(e, axis=0, keepdims=True)  # columns of a batch, not rows""",
    "softmax_unnormalised": """\
return np.exp(z - np.max(z, axis=-1, keepdims=True))  # never divided by the sum""",
    "cross_entropy_log_eps": """\
z = logits - np.max(logits, axis=-1, keepdims=True)
p = np.exp(z) / np.sum(np.exp(z), axis=-1, keepdims=True)
return np.mean(-np.log(p[np.arange(len(y)), y] + 1e-12))  # eps caps confident mistakes""",
    "tape_loss_from_probs": """\
loss_fn = keras.losses.SparseCategoricalCrossentropy()  # from probabilities: capped at -log(eps)
losses = []
for i in range(0, len(x), batch_size):
    x_batch, y_batch = x[i:i + batch_size], y[i:i + batch_size]
    with tf.GradientTape() as tape:
        loss = loss_fn(y_batch, tf.nn.softmax(model(x_batch, training=True)))
    grads = tape.gradient(loss, model.trainable_variables)
    model.optimizer.apply_gradients(zip(grads, model.trainable_variables))
    losses.append(float(loss))
return losses""",
    # notebook 05 (softmax regression): the mistakes students make in CS231n's assignment
    "regression_no_division_by_n": """\
N, C = X.shape[0], W.shape[1]
loss, dW = 0.0, np.zeros_like(W)
for i in range(N):
    scores = X[i] @ W
    scores = scores - np.max(scores)
    log_sum = np.log(np.sum(np.exp(scores)))
    loss += log_sum - scores[y[i]]
    for c in range(C):
        dW[:, c] += (np.exp(scores[c] - log_sum) - (c == y[i])) * X[i]
loss = loss + reg * np.sum(W * W)  # the sum over the rows, never divided by N
dW = dW + 2 * reg * W
return loss, dW""",
    "regression_gradient_sign": """\
N, C = X.shape[0], W.shape[1]
loss, dW = 0.0, np.zeros_like(W)
for i in range(N):
    scores = X[i] @ W
    scores = scores - np.max(scores)
    log_sum = np.log(np.sum(np.exp(scores)))
    loss += log_sum - scores[y[i]]
    for c in range(C):
        dW[:, c] += ((c == y[i]) - np.exp(scores[c] - log_sum)) * X[i]  # Y - P: the wrong sign
loss = loss / N + reg * np.sum(W * W)
dW = dW / N + 2 * reg * W
return loss, dW""",
    "regression_half_reg": """\
N, C = X.shape[0], W.shape[1]
loss, dW = 0.0, np.zeros_like(W)
for i in range(N):
    scores = X[i] @ W
    scores = scores - np.max(scores)
    log_sum = np.log(np.sum(np.exp(scores)))
    loss += log_sum - scores[y[i]]
    for c in range(C):
        dW[:, c] += (np.exp(scores[c] - log_sum) - (c == y[i])) * X[i]
loss = loss / N + 0.5 * reg * np.sum(W * W)  # the old 0.5 * reg convention
dW = dW / N + reg * W
return loss, dW""",
    "regression_no_max": """\
N = X.shape[0]
scores = X @ W  # no maximum subtracted: exp overflows for large scores
log_probs = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
loss = -log_probs[np.arange(N), y].mean() + reg * np.sum(W * W)
P = np.exp(log_probs)
P[np.arange(N), y] -= 1
dW = X.T @ P / N + 2 * reg * W
return loss, dW""",
    "regression_loop_left_in": """\
N = X.shape[0]
scores = X @ W
scores = scores - scores.max(axis=1, keepdims=True)
log_probs = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
loss = -sum(log_probs[i, y[i]] for i in range(N)) / N + reg * np.sum(W * W)  # a loop left in
P = np.exp(log_probs)
P[np.arange(N), y] -= 1
dW = X.T @ P / N + 2 * reg * W
return loss, dW""",
}

#: Which exercise each mistake belongs to.
MISTAKE_EXERCISE = {
    "softmax_overflow": "my_softmax",
    "softmax_wrong_axis": "my_softmax",
    "softmax_unnormalised": "my_softmax",
    "cross_entropy_log_eps": "my_cross_entropy",
    "tape_loss_from_probs": "train_with_tape",
    "regression_no_division_by_n": "softmax_loss_naive",
    "regression_gradient_sign": "softmax_loss_naive",
    "regression_half_reg": "softmax_loss_naive",
    "regression_no_max": "softmax_loss_vectorized",
    "regression_loop_left_in": "softmax_loss_vectorized",
}

#: The sample students: what each writes in each exercise, and which assignments each hands in
#: (None: every assignment released). A mistaken student hands in only the notebook of their
#: mistake, with every other solution cell of it filled correctly, so each mistake is graded alone.
STUDENTS = {
    "correct": {"fill": SOLUTION, "assignments": None},
    "blank": {"fill": BLANK, "assignments": None},
    **{name: {"fill": name, "assignments": "exercise"} for name in MISTAKES},
}

STUB = re.compile(
    r"^(?P<indent>[ \t]*)# YOUR CODE HERE\n(?P=indent)raise NotImplementedError\(\)[ \t]*$", re.M
)
SOLUTION_REGION = re.compile(
    r"^[ \t]*### BEGIN SOLUTION[ \t]*\n(?P<body>.*?)^[ \t]*### END SOLUTION[ \t]*$", re.M | re.S
)


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def solution_cells(notebook) -> dict[str, object]:
    """The solution cells of a notebook by grade_id."""
    return {_nbgrader(c)["grade_id"]: c for c in notebook.cells if _nbgrader(c).get("solution")}


def _indent(body: str, indent: str) -> str:
    return "\n".join(indent + line if line.strip() else line for line in body.splitlines())


def fill_cell(released_source: str, source_source: str, fill: str) -> str:
    """The released cell's source with its stubs replaced as ``fill`` says.

    ``fill`` is SOLUTION (the instructor's code between the solution markers), BLANK (unchanged),
    or a key of MISTAKES (that body, indented like the stub).
    """
    if fill == BLANK:
        return released_source
    stubs = list(STUB.finditer(released_source))
    if fill == SOLUTION:
        bodies = [m.group("body").rstrip("\n") for m in SOLUTION_REGION.finditer(source_source)]
        if len(bodies) != len(stubs):
            raise ValueError(
                f"{len(stubs)} stubs in the released cell but {len(bodies)} solution regions in its source"
            )
        replacements = bodies
    else:
        if len(stubs) != 1:
            raise ValueError(f"a mistake fills exactly one stub, this cell has {len(stubs)}")
        replacements = [_indent(MISTAKES[fill], stubs[0].group("indent"))]
    pieces, last = [], 0
    for match, replacement in zip(stubs, replacements, strict=True):
        pieces += [released_source[last : match.start()], replacement]
        last = match.end()
    return "".join(pieces) + released_source[last:]


def make_submission(released: Path, source: Path, student: str) -> object | None:
    """The notebook ``student`` hands in for this released notebook, or None if they hand in none."""
    plan = STUDENTS[student]
    release_nb = nbformat.read(released, as_version=4)
    source_cells = solution_cells(nbformat.read(source, as_version=4))
    cells = solution_cells(release_nb)
    mistaken_exercise = MISTAKE_EXERCISE.get(plan["fill"])
    if plan["assignments"] == "exercise" and mistaken_exercise not in cells:
        return None
    for grade_id, cell in cells.items():
        if plan["fill"] in (SOLUTION, BLANK):
            fill = plan["fill"]
        else:
            fill = plan["fill"] if grade_id == mistaken_exercise else SOLUTION
        cell.source = fill_cell(cell.source, source_cells[grade_id].source, fill)
    return release_nb


def make_submissions(course: Path, students: list[str] | None = None) -> list[Path]:
    """Write the sample students' submissions for every released assignment; return their paths."""
    course = Path(course)
    written = []
    for released in sorted(course.glob("release/*/*.ipynb")):
        assignment = released.parent.name
        source = course / "source" / assignment / released.name
        for student in students or list(STUDENTS):
            notebook = make_submission(released, source, student)
            if notebook is None:
                continue
            target = course / "submitted" / student / assignment / released.name
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook, target)
            written.append(target)
    return written


def main(argv: list[str]) -> int:
    default = os.environ.get(
        "SOFTMAX_LAB_COURSE", str(Path(__file__).resolve().parent.parent / "course")
    )
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--course", default=default, help=f"course root (default: {default})")
    parser.add_argument(
        "students",
        nargs="*",
        metavar="STUDENT",
        help=f"which sample students (default: all of {', '.join(STUDENTS)})",
    )
    args = parser.parse_args(argv)
    unknown = [s for s in args.students if s not in STUDENTS]
    if unknown:
        parser.error(f"unknown student {unknown[0]!r}; choose from {', '.join(STUDENTS)}")
    if not list(Path(args.course).glob("release/*/*.ipynb")):
        print(
            f"no released notebooks under {args.course}/release: run `nbgrader generate_assignment` first",
            file=sys.stderr,
        )
        return 2
    for path in make_submissions(Path(args.course), args.students or None):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
