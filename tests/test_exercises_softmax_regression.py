"""Notebook 05's exercises (lab_utils.exercises.softmax_regression), graded in this process.

The functions are the instructor's solution cells of notebooks/05_softmax_regression.ipynb, and the
same cells with one function's body replaced by a typical mistake: the sample submissions of
classroom/sample_submissions.py and a few more that the grader must tell apart (the common
``-log(p_y)`` solution, a global maximum, list indexing, a one-sided difference...). Each must lose
exactly the parts it deserves; tests/test_classroom.py checks the same through nbgrader.
"""

from __future__ import annotations

import importlib.util
import linecache
import re
import textwrap
from pathlib import Path

import nbformat
import numpy as np
import pytest
import scipy.special

from lab_utils import checks, regression
from lab_utils.exercises import cases, softmax_training

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "05_softmax_regression.ipynb"
NAMES = [
    "softmax_loss_naive",
    "numerical_gradient",
    "softmax_loss_vectorized",
    "train_softmax",
    "search_hyperparameters",
]
FULL = {name: {p.name: p.points for p in checks.EXERCISES[name].parts} for name in NAMES}

spec = importlib.util.spec_from_file_location(
    "sample_submissions", ROOT / "classroom" / "sample_submissions.py"
)
samples = importlib.util.module_from_spec(spec)
spec.loader.exec_module(samples)

# Mistakes beyond the sample students (each of those costs a notebook run in the classroom test).
MORE_MISTAKES = {
    "log_of_p": (
        "softmax_loss_vectorized",
        """\
N = X.shape[0]
scores = X @ W
scores = scores - scores.max(axis=1, keepdims=True)
P = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
loss = -np.log(P[np.arange(N), y]).mean() + reg * np.sum(W * W)
P[np.arange(N), y] -= 1
dW = X.T @ P / N + 2 * reg * W
return loss, dW""",
    ),
    "global_max": (
        "softmax_loss_vectorized",
        """\
N = X.shape[0]
scores = X @ W
scores = scores - np.max(scores)
log_probs = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
loss = -log_probs[np.arange(N), y].mean() + reg * np.sum(W * W)
P = np.exp(log_probs)
P[np.arange(N), y] -= 1
dW = X.T @ P / N + 2 * reg * W
return loss, dW""",
    ),
    "list_indexing": (
        "softmax_loss_vectorized",
        """\
N = X.shape[0]
scores = X @ W
scores = scores - scores.max(axis=1, keepdims=True)
log_probs = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
loss = -np.sum(log_probs[[np.arange(N), y]]) / N + reg * np.sum(W * W)
P = np.exp(log_probs)
P[np.arange(N), y] -= 1
dW = X.T @ P / N + 2 * reg * W
return loss, dW""",
    ),
    "modifies_its_inputs": (
        "softmax_loss_vectorized",
        """\
N = X.shape[0]
X *= 1.0
scores = X @ W
scores -= scores.max(axis=1, keepdims=True)
log_probs = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
loss = -log_probs[np.arange(N), y].mean() + reg * np.sum(W * W)
P = np.exp(log_probs)
P[np.arange(N), y] -= 1
W -= 0.0
dW = X.T @ P / N + 2 * reg * W
return loss, dW""",
    ),
    "eps_in_the_log": (
        "softmax_loss_naive",
        """\
N, C = X.shape[0], W.shape[1]
loss, dW = 0.0, np.zeros_like(W)
for i in range(N):
    scores = X[i] @ W
    p = np.exp(scores - np.max(scores))
    p /= p.sum()
    loss += -np.log(p[y[i]] + 1e-12)
    for c in range(C):
        dW[:, c] += (p[c] - (c == y[i])) * X[i]
return loss / N + reg * np.sum(W * W), dW / N + 2 * reg * W""",
    ),
    "one_sided_difference": (
        "numerical_gradient",
        """\
grad = np.zeros_like(W)
base = f(W)
for ix in np.ndindex(W.shape):
    old = W[ix]
    W[ix] = old + h
    grad[ix] = (f(W) - base) / h
    W[ix] = old
return grad""",
    ),
    "fixed_step": (
        "numerical_gradient",
        """\
grad = np.zeros_like(W)
for ix in np.ndindex(W.shape):
    old = W[ix]
    W[ix] = old + 1e-5
    plus = f(W)
    W[ix] = old - 1e-5
    minus = f(W)
    W[ix] = old
    grad[ix] = (plus - minus) / 2e-5
return grad""",
    ),
    "training_ignores_reg": (
        "train_softmax",
        """\
rng = np.random.default_rng(seed)
N, D = X.shape
W = 0.001 * rng.standard_normal((D, int(y.max()) + 1))
loss_history = []
for epoch in range(epochs):
    order = rng.permutation(N)
    for start in range(0, N, batch_size):
        batch = order[start:start + batch_size]
        loss, dW = softmax_loss_vectorized(W, X[batch], y[batch], 0.0)
        loss_history.append(loss)
        W -= lr * dW
return W, loss_history""",
    ),
    "training_another_order": (
        "train_softmax",
        """\
N, D = X.shape
W = np.zeros((D, int(y.max()) + 1))
loss_history = []
rng = np.random.default_rng(seed + 12345)
for epoch in range(epochs):
    idx = rng.choice(N, N, replace=False)
    for start in range(0, N, batch_size):
        b = idx[start:start + batch_size]
        loss, dW = softmax_loss_vectorized(W, X[b], y[b], reg)
        W = W - lr * dW
        loss_history.append(loss)
return W, loss_history""",
    ),
    "gradient_ascent": (
        "train_softmax",
        """\
rng = np.random.default_rng(seed)
N, D = X.shape
W = 0.001 * rng.standard_normal((D, int(y.max()) + 1))
loss_history = []
for epoch in range(epochs):
    order = rng.permutation(N)
    for start in range(0, N, batch_size):
        batch = order[start:start + batch_size]
        loss, dW = softmax_loss_vectorized(W, X[batch], y[batch], reg)
        loss_history.append(loss)
        W += lr * dW
return W, loss_history""",
    ),
    "worst_pair": (
        "search_hyperparameters",
        """\
val_accuracy = np.zeros((len(learning_rates), len(regs)))
for i, lr in enumerate(learning_rates):
    for j, reg in enumerate(regs):
        W, _ = train_softmax(X_train, y_train, lr, reg, epochs, 64, 0)
        val_accuracy[i, j] = np.mean(np.argmax(X_val @ W, axis=1) == y_val)
i, j = np.unravel_index(np.argmin(val_accuracy), val_accuracy.shape)
return learning_rates[i], regs[j], val_accuracy""",
    ),
}

# Parts each mistake must lose, and nothing else.
EXPECTED_LOSSES = {
    "regression_no_division_by_n": {"loss", "gradient", "overflow", "log_space"},
    "regression_gradient_sign": {"gradient", "overflow", "log_space"},
    "regression_half_reg": {"loss", "gradient"},
    "regression_no_max": {"overflow", "log_space"},
    "regression_loop_left_in": {"no_loops"},
    "log_of_p": {"log_space"},
    "global_max": {"overflow", "log_space"},
    "list_indexing": {"loss", "gradient", "overflow", "log_space", "no_loops"},
    "modifies_its_inputs": set(),
    "eps_in_the_log": {"log_space"},
    "one_sided_difference": {"values", "step"},
    "fixed_step": {"step"},
    "training_ignores_reg": {"other_data"},
    "training_another_order": set(),
    "gradient_ascent": {"learns", "loss_decreases", "other_data"},
    "worst_pair": {"grid", "chosen"},
}


def _solution_cells() -> dict[str, str]:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    return {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in notebook.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }


SOLUTIONS = _solution_cells()


def namespace(mistake: str | None = None) -> dict:
    """The five functions as a student's notebook defines them, one of them with ``mistake``."""
    mistakes = {
        **{
            k: (samples.MISTAKE_EXERCISE[k], v)
            for k, v in samples.MISTAKES.items()
            if samples.MISTAKE_EXERCISE[k] in NAMES
        },
        **MORE_MISTAKES,
    }
    target, body = mistakes[mistake] if mistake else (None, None)
    ns = {"np": np}
    for name in NAMES:
        source = SOLUTIONS[name]
        if name == target:
            match = samples.SOLUTION_REGION.search(source)
            indent = re.match(r"[ \t]*", match.group("body")).group(0)
            source = (
                source[: match.start()]
                + textwrap.indent(body, indent)
                + "\n"
                + source[match.end() :]
            )
        filename = f"<notebook 05 cell {name}{' ' + mistake if mistake else ''}>"
        linecache.cache[filename] = (
            len(source),
            None,
            source.splitlines(True),
            filename,
        )  # for getsource
        exec(compile(source, filename, "exec"), ns)
    return ns


def scores(ns: dict, names=NAMES) -> dict[str, dict[str, int]]:
    return {name: checks.score(name, ns[name]) for name in names}


def test_the_solutions_earn_every_point():
    assert scores(namespace()) == FULL


def test_the_sample_mistakes_are_those_of_this_notebook():
    ours = {k for k, v in samples.MISTAKE_EXERCISE.items() if v in NAMES}
    assert ours == {
        "regression_no_division_by_n",
        "regression_gradient_sign",
        "regression_half_reg",
        "regression_no_max",
        "regression_loop_left_in",
    }


@pytest.mark.parametrize("mistake", list(EXPECTED_LOSSES))
def test_each_mistake_loses_exactly_its_parts(mistake):
    target = (MORE_MISTAKES.get(mistake) or (samples.MISTAKE_EXERCISE.get(mistake),))[0]
    ns = namespace(mistake)
    got = checks.score(target, ns[target])
    lost = {part for part, points in got.items() if points == 0}
    assert lost == EXPECTED_LOSSES[mistake], got
    # A sample student's other exercises are untouched (train and search call the mistaken loss),
    # so in the classroom test the notebook loses exactly these parts.
    if mistake in samples.MISTAKES:
        assert scores(ns, ["train_softmax", "search_hyperparameters"]) == {
            n: FULL[n] for n in ["train_softmax", "search_hyperparameters"]
        }


def verdict(mistake: str, part: str) -> str:
    target = MORE_MISTAKES.get(mistake, (samples.MISTAKE_EXERCISE.get(mistake),))[0]
    with pytest.raises(AssertionError) as info:
        checks.grade(target, namespace(mistake)[target], part)
    return " ".join(str(info.value).split())  # the hint's own line breaks do not matter


@pytest.mark.parametrize(
    "mistake, part, words",
    [
        ("regression_no_division_by_n", "loss", "SUM over the m = 8 rows"),
        ("regression_no_division_by_n", "gradient", "SUM over the m = 8 rows"),
        ("regression_half_reg", "loss", "0.5 * reg"),
        ("regression_half_reg", "gradient", "2 * reg * W, not reg * W"),
        ("regression_gradient_sign", "gradient", "wrong sign"),
        ("regression_no_max", "overflow", "each row's own maximum"),
        ("global_max", "overflow", "one maximum for the whole batch"),
        ("log_of_p", "log_space", "stay in log space"),
        ("eps_in_the_log", "log_space", "stay in log space"),
        ("list_indexing", "loss", "logits[[np.arange(m), y]]"),
        ("regression_loop_left_in", "no_loops", "a generator expression"),
        ("fixed_step", "step", "with the h you are given"),
        ("training_ignores_reg", "other_data", "use reg"),
        ("gradient_ascent", "loss_decreases", "W -= lr * dW"),
        ("worst_pair", "grid", "HIGHEST validation accuracy"),
    ],
)
def test_verdicts_name_the_mistake(mistake, part, words):
    assert words in verdict(mistake, part)


def test_the_self_check_prints_the_score_and_never_raises(capsys):
    ns = namespace("log_of_p")
    checks.check_softmax_loss_vectorized(ns["softmax_loss_vectorized"])
    out = capsys.readouterr().out
    assert out.startswith("softmax_loss_vectorized: 4/5 points")
    assert "FAIL log_space" in out and "-log(0) = inf" in out

    def softmax_loss_naive(W, X, y, reg):
        raise NotImplementedError()

    checks.check_softmax_loss_naive(softmax_loss_naive)
    assert "0/4 points" in capsys.readouterr().out


# --- the cases probe what the issue asks -----------------------------------------------------------


def loss_cases(part):
    return cases("softmax_loss_naive")[part]


def test_loss_cases_vary_the_shapes():
    shapes = [(len(c.argument("X")), *c.argument("W").shape) for c in loss_cases("loss")]
    assert {c for _, _, c in shapes} >= {2, 3, 7, 10}
    assert all(d != c for _, d, c in shapes)
    assert any(n == 1 for n, _, _ in shapes) and any(c == 2 for _, _, c in shapes)
    assert any(n == 1 for n in (len(c.argument("X")) for c in loss_cases("overflow")))


def test_half_reg_shows_at_the_grading_tolerance():
    # The difference 0.5 * reg * sum(W**2) must exceed the loss tolerance by far in some case.
    margins = [
        0.5
        * c.argument("reg")
        * np.sum(c.argument("W") ** 2)
        / (c.rtol * abs(c.expected[0]) + c.atol)
        for c in loss_cases("loss")
    ]
    assert max(margins) > 1e4


def test_overflow_cases_have_huge_scores_and_rows_offset_by_thousands():
    spans = []
    for case in loss_cases("overflow"):
        scores = case.argument("X") @ case.argument("W")
        assert np.abs(scores).max() > 800
        spans.append(np.ptp(scores.max(axis=1)))
        # the correct class is near its row's maximum: -log(p_y) is finite here
        gap = scores.max(axis=1) - scores[np.arange(len(scores)), case.argument("y")]
        assert gap.max() < 5
    assert max(spans) >= 3000


def test_log_space_cases_put_the_correct_class_past_745_below_the_maximum():
    for case in loss_cases("log_space"):
        scores = case.argument("X") @ case.argument("W")
        gap = scores.max(axis=1) - scores[np.arange(len(scores)), case.argument("y")]
        assert gap.max() > 745
        with np.errstate(divide="ignore"):
            p_y = scipy.special.softmax(scores, axis=1)[np.arange(len(scores)), case.argument("y")]
            assert np.isinf(-np.log(p_y)).any()
        assert np.isfinite(case.expected[0])


def test_loss_references_agree_with_scipy():
    for part in ("loss", "overflow", "log_space"):
        for case in loss_cases(part):
            W, X, y, reg = (case.argument(k) for k in ("W", "X", "y", "reg"))
            log_p = scipy.special.log_softmax(X @ W, axis=1)
            expected = -log_p[np.arange(len(y)), y].mean() + reg * np.sum(W * W)
            assert case.expected[0] == pytest.approx(expected, rel=1e-12)


def test_every_call_gets_fresh_copies():
    # modifies_its_inputs passes (above); and the cases' own arrays are unchanged after a run.
    before = [c.argument("X").copy() for c in loss_cases("loss")]
    checks.score(
        "softmax_loss_vectorized", namespace("modifies_its_inputs")["softmax_loss_vectorized"]
    )
    for case, X in zip(loss_cases("loss"), before):
        np.testing.assert_array_equal(case.argument("X"), X)


def test_training_thresholds_come_from_the_reference():
    case = cases("train_softmax")["learns"][0]
    W, _ = regression.train_softmax(*(v for _, v in case.args))
    assert case.expected["accuracy"] == regression.accuracy(
        W, case.expected["X_val"], case.expected["y_val"]
    )
    assert case.expected["accuracy"] > 0.9
    assert softmax_training.ACCURACY_MARGIN <= 0.05


# --- the autograder's path: calls served as JSON (as in the sandboxed kernel), judged here ---------


def _served_points(exercise_name: str, ns: dict, tmp_path) -> dict[str, int]:
    """Points per part when the calls go through lab_utils.runner.serve, as the sandbox runs them."""
    import json

    from lab_utils import runner
    from lab_utils.exercises import judging

    exercise = checks.EXERCISES[exercise_name]
    sources = {name: SOLUTIONS[name] for name in NAMES}  # what the grader reads from the notebook
    points = {}
    for part in exercise.parts:
        part_cases = cases(exercise_name)[part.name]
        answer = tmp_path / f"{exercise_name}-{part.name}.json"
        runner.serve(ns, json.dumps(judging.part_request(exercise, part, part_cases)), str(answer))
        results = judging.results_from_answers(json.loads(answer.read_text())["answers"])
        results = judging.merge_sources(exercise, part_cases, results, sources)
        failure = judging.judge_part(exercise, part, part_cases, results, seconds=0.0)
        points[part.name] = part.points if failure is None else 0
    return points


@pytest.mark.parametrize("name", NAMES)
def test_the_served_path_gives_the_self_checks_points(name, tmp_path):
    ns = namespace()
    assert _served_points(name, ns, tmp_path) == FULL[name] == checks.score(name, ns[name])


def test_an_index_error_from_list_indexing_gets_the_list_indexing_hint():
    def fancy(W, X, y, reg):
        scores = X @ W
        # A list of index arrays indexes rows: class ids past the last row are out of bounds.
        picked = scores[[np.arange(len(y)), np.full(len(y), len(y))]]
        return float(picked.sum()), np.zeros_like(W)

    with pytest.raises(AssertionError) as raised:
        checks.grade("softmax_loss_vectorized", fancy, "loss")
    message = " ".join(str(raised.value).split())
    assert "raised IndexError" in message and "logits[[np.arange(m), y]]" in message
