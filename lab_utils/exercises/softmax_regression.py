"""Notebook 05's graded exercises: softmax regression built by the student (CS231n's signatures).

The signatures are CS231n's, so code written for that course grades here; every message a student
reads uses the lab's letters (README's notation card): m rows (CS231n's N), N classes (CS231n's C),
D features.

Three exercises here: ``softmax_loss_naive`` and ``softmax_loss_vectorized`` (both ``(W, X, y,
reg) -> (loss, dW)``) and ``numerical_gradient(f, W, h)``; the notebook's training exercises,
``train_softmax`` and ``search_hyperparameters``, are in :mod:`lab_utils.exercises.softmax_training`.

References come from :mod:`lab_utils.regression` (log-space loss, centred differences, the
reference SGD trainer), computed lazily in the trusted process only. What the cases probe, learned
from grading code students wrote for this assignment elsewhere:

- every call gets fresh copies of ``W``, ``X`` and ``y`` (the framework's rule; some solutions
  modify their inputs);
- N, the number of classes, varies (2, 3, 7, 10) and D != N, so transposed shapes fail instead of
  passing by accident;
- in some cases ``reg * D * N`` is large, so the old ``0.5 * reg`` convention shows in the loss at
  the grading tolerance (with tiny W it would hide);
- a global-max shift fails on rows whose offsets differ by thousands;
- "stable" is graded as two parts with two hints: ``overflow`` (huge logits, correct class near
  its row's maximum: subtracting each row's maximum is enough) and ``log_space`` (the correct class
  more than about 745 below its row's maximum, where ``-log(p_y)`` is ``-log(0) = inf`` in float64
  and only ``z_y - max - log sum exp`` stays finite);
- m = 1 and N = 2 cases; the vectorised version's source must hold no Python loop (read by AST).

Examples
--------
>>> [part.name for part in SOFTMAX_LOSS_VECTORIZED.parts]
['loss', 'gradient', 'overflow', 'log_space', 'no_loops']
>>> source_case = build_vectorized_cases()["no_loops"][0]     # the source, read, never run
>>> looped = "def softmax_loss_vectorized(W, X, y, reg):\\n    for row in X:\\n        pass"
>>> part = SOFTMAX_LOSS_VECTORIZED.part("no_loops")
>>> check_loss(SOFTMAX_LOSS_VECTORIZED, part, source_case, Result("ok", looped)).problem
'found a for loop (line 2) in softmax_loss_vectorized'
"""

from __future__ import annotations

import math

import numpy as np

from .. import regression
from .base import (
    Case,
    Exercise,
    Failure,
    Part,
    Result,
    Source,
    as_numbers,
    failure,
    loops_in,
    rejected,
    show,
)

__all__ = ["EXERCISES", "LOSS_PARTS"]

_LIST_INDEXING_HINT = (
    "pick each row's correct-class logit with logits[np.arange(m), y] (m rows, logits = X @ W). A list "
    "around the two, logits[[np.arange(m), y]], was a tuple in old NumPy; today it indexes rows (fancy "
    "indexing), giving shape (2, m, N) instead of m numbers."
)
_LOSS_HINT = (
    "the loss is the MEAN over the m rows of -log softmax(X @ W)[i, y[i]], plus "
    "reg * np.sum(W * W) (all of reg, not 0.5 * reg); " + _LIST_INDEXING_HINT
)
_GRADIENT_HINT = (
    "dW = X.T @ (P - Y) / m + 2 * reg * W, where P = softmax(X @ W) row by row and Y "
    "is one-hot: the gradient of the loss itself (it points uphill; training steps "
    "against it). Check it with numerical_gradient."
)
_OVERFLOW_HINT = (
    "subtract each row's own maximum logit before np.exp (logits - logits.max(axis=1, "
    "keepdims=True)): one maximum for the whole batch still underflows rows that lie "
    "thousands below it, and no maximum at all overflows exp."
)
_LOG_SPACE_HINT = (
    "stay in log space, as in notebook 03: -log p_y = -(z_y - c) + log sum_j exp(z_j - c) "
    "with c the row's maximum logit. Forming p_y first gives exp(-1000) = 0 and -log(0) = inf "
    "when the correct class is far below the row's maximum; the loss is large but finite."
)


def _f64(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


# --------------------------------------------------------------------------------------------------
# softmax_loss_naive and softmax_loss_vectorized


def _loss_case(W, X, y, reg, note, rtol=1e-6, atol=1e-8) -> Case:
    return Case(
        (("W", _f64(W)), ("X", _f64(X)), ("y", np.asarray(y, dtype=np.int64)), ("reg", float(reg))),
        reference=regression.softmax_loss,
        rtol=rtol,
        atol=atol,
        note=note,
    )


def _ordinary_cases() -> tuple[Case, ...]:
    rng = np.random.default_rng(14)
    cases = []
    for n, d, c, scale, reg, note in [
        (8, 5, 3, 0.5, 0.1, "m = 8 rows, D = 5, N = 3 classes, reg * D * N = 1.5"),
        (1, 3, 2, 1.0, 0.0, "m = 1 row, N = 2 classes, no regularisation"),
        (6, 4, 7, 0.3, 1.0, "N = 7 classes, strong regularisation (reg = 1)"),
        (20, 65, 10, 0.1, 0.025, "digits-sized: D = 65, N = 10"),
        (5, 2, 4, 2.0, 0.05, "D = 2 features < N = 4 classes"),
    ]:
        W = scale * rng.standard_normal((d, c))
        X = rng.standard_normal((n, d))
        y = rng.integers(0, c, size=n)
        cases.append(_loss_case(W, X, y, reg, note))
    return tuple(cases)


def _offset_problem(offsets, spread, y, d=4, seed=0):
    """W, X with logits = (small part) + offsets[i] for row i: the last column of X is the offset,
    the last row of W is ones (the bias trick), so one feature lifts a whole row of logits."""
    rng = np.random.default_rng(seed)
    n, c = len(offsets), 1 + int(max(y))
    c = max(c, 3)
    W = np.vstack([spread * rng.standard_normal((d - 1, c)), np.ones((1, c))])
    X = np.hstack([rng.standard_normal((n, d - 1)), np.asarray(offsets, dtype=float)[:, None]])
    return W, X, np.asarray(y)


def _overflow_cases() -> tuple[Case, ...]:
    # Logits in the thousands, the correct class at its row's maximum or near it: exp overflows
    # without a shift, and one shift for the whole batch underflows the lower rows to 0 / 0.
    cases = []
    W, X, _ = _offset_problem([1000.0, 1000.0], 1.0, [0, 2], seed=1)
    y = np.argmax(X @ W, axis=1)
    cases.append(_loss_case(W, X, y, 0.0, "logits around 1000: exp overflows without a shift"))
    W, X, _ = _offset_problem([3000.0, 0.0, -2500.0], 2.0, [1, 0, 2], seed=2)
    y = np.argmax(X @ W, axis=1)
    cases.append(
        _loss_case(
            W,
            X,
            y,
            0.0,
            "rows offset by thousands (3000, 0, -2500): each row needs its own maximum",
        )
    )
    W, X, _ = _offset_problem([-5000.0], 0.5, [1], seed=3)
    y = np.argsort(X @ W, axis=1)[:, -2]  # the runner-up: a few units below the maximum
    cases.append(_loss_case(W, X, y, 0.0, "m = 1 row, logits around -5000"))
    return tuple(cases)


def _log_space_cases() -> tuple[Case, ...]:
    # The correct class far below its row's maximum: p_y underflows to 0, -log p_y to inf.
    cases = []
    W = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.5, -0.5, 0.25]])
    X = np.array([[0.0, 1000.0, 1.0, 1.0], [2.0, 1.0, 0.0, -1.0]])
    cases.append(_loss_case(W, X, [0, 0], 0.0, "row 0's correct class is 1000 below its maximum"))
    W, X, _ = _offset_problem([0.0, 2000.0], 1.0, [0, 0], seed=4)
    X = X.copy()
    X[1, 0] = 900.0  # row 1: spread of hundreds within the row
    y = np.argmin(X @ W, axis=1)  # the WORST class of each row
    cases.append(_loss_case(W, X, y, 0.0, "the correct class is each row's lowest logit"))
    return tuple(cases)


def build_loss_cases() -> dict[str, tuple[Case, ...]]:
    ordinary = _ordinary_cases()
    return {
        "loss": ordinary,
        "gradient": ordinary,
        "overflow": _overflow_cases(),
        "log_space": _log_space_cases(),
    }


def build_vectorized_cases() -> dict[str, tuple[Case, ...]]:
    cases = build_loss_cases()
    source = Case((), kind="source", note="the function's own source, read without running it")
    # A stub has no loop either: the part also asks for the right answer on one ordinary case.
    cases["no_loops"] = (source, cases["loss"][0])
    return cases


def _pair(
    part: Part, case: Case, result: Result
) -> tuple[float | None, np.ndarray | None, Failure | None]:
    value = result.value
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        return rejected(
            part,
            case,
            "end with `return loss, dW`.",
            f"returned {show(value)}, not a pair (loss, dW)",
            expected="a pair (loss, dW)",
        )
    loss, problem = as_numbers(value[0])
    if problem is None and loss.shape != ():
        problem = f"the loss has shape {loss.shape}, not one number"
    if problem is not None:
        return rejected(
            part,
            case,
            _LIST_INDEXING_HINT + " Then average them to one number.",
            problem,
            returned=show(value[0]),
            expected=show(case.expected[0]),
        )
    dW, problem = as_numbers(value[1])
    if problem is not None:
        return rejected(
            part,
            case,
            "dW is an array of the same shape as W.",
            problem,
            returned=show(value[1]),
            expected=show(case.expected[1]),
        )
    return float(loss), dW, None


def _loss_variants(case: Case) -> dict[str, float]:
    """What the common wrong conventions would return on this case (for a hint that names them)."""
    W, X, y, reg = (case.argument(k) for k in ("W", "X", "y", "reg"))
    data = regression.softmax_loss(W, X, y, 0.0)[0]
    penalty = reg * float(np.sum(W * W))
    return {"no_mean": data * len(X) + penalty, "half_reg": data + 0.5 * penalty, "no_reg": data}


def _loss_hint(case: Case, loss: float) -> str:
    variants = _loss_variants(case)
    close = lambda v: math.isclose(loss, v, rel_tol=1e-6, abs_tol=1e-8)  # noqa: E731
    n = len(case.argument("X"))
    if n > 1 and close(variants["no_mean"]):
        return f"that is the SUM over the m = {n} rows: divide the data term by m (the penalty is not divided)."
    if case.argument("reg") > 0 and close(variants["half_reg"]):
        return (
            "that is the data term plus 0.5 * reg * np.sum(W * W): this lab (like today's CS231n) "
            "uses reg * np.sum(W * W), whose gradient is 2 * reg * W."
        )
    if case.argument("reg") > 0 and close(variants["no_reg"]):
        return "the regularisation term reg * np.sum(W * W) is missing."
    return _LOSS_HINT


def _gradient_hint(case: Case, dW: np.ndarray) -> str:
    expected = case.expected[1]
    W, reg = case.argument("W"), case.argument("reg")
    if dW.shape == expected.shape:
        penalty = 2 * reg * W
        if np.allclose(dW, -expected, rtol=1e-5, atol=1e-8) or np.allclose(
            dW, penalty - (expected - penalty), rtol=1e-5, atol=1e-8
        ):
            return "dW has the wrong sign: it is the gradient of the loss, P - Y (not Y - P)."
        half = expected - reg * W
        if reg > 0 and np.allclose(dW, half, rtol=1e-5, atol=1e-8):
            return "the penalty reg * np.sum(W * W) has gradient 2 * reg * W, not reg * W."
        n = len(case.argument("X"))
        if n > 1 and np.allclose(
            dW, n * (expected - 2 * reg * W) + 2 * reg * W, rtol=1e-5, atol=1e-8
        ):
            return (
                f"that is the gradient of the SUM over the m = {n} rows: divide the data term by m."
            )
    elif dW.shape == expected.T.shape:
        return f"dW must have W's shape {expected.shape} (D, N), got {dW.shape}."
    return _GRADIENT_HINT


# Budget: 61 lines; one verdict per part (loss, gradient, overflow, log space, no loops), in the
# order a student meets them, each a few lines: splitting it would scatter the rubric.
def check_loss(exercise: Exercise, part: Part, case: Case, result: Result) -> Failure | None:
    """Trusted judge of softmax_loss_naive / softmax_loss_vectorized on one case."""
    if case.kind == "source":
        loops = loops_in(result.value if isinstance(result.value, str) else "", exercise.name)
        if loops:
            return failure(
                part,
                case,
                "replace the loop by whole-array operations: X @ W for every "
                "logit at once, logits[np.arange(m), y] for the correct ones.",
                "found " + ", ".join(loops) + f" in {exercise.name}",
                expected=None,
            )
        return None
    loss, dW, problem = _pair(part, case, result)
    if problem is not None:
        return problem
    expected_loss, expected_dW = case.expected
    loss_ok = np.isfinite(loss) and math.isclose(
        loss, expected_loss, rel_tol=case.rtol, abs_tol=case.atol
    )
    dW_ok = (
        dW.shape == expected_dW.shape
        and bool(np.all(np.isfinite(dW)))
        and np.allclose(dW, expected_dW, rtol=case.rtol, atol=case.atol)
    )
    check_loss_here = part.name in ("loss", "overflow", "log_space", "no_loops")
    check_dW_here = part.name in ("gradient", "overflow", "log_space", "no_loops")
    if check_loss_here and not loss_ok:
        hint = _loss_hint(case, loss) if np.isfinite(loss) else None
        if part.name == "overflow" and hint in (None, _LOSS_HINT):
            hint = _OVERFLOW_HINT
        elif (
            part.name == "log_space"
            and hint in (None, _LOSS_HINT)
            and not (np.isfinite(loss) and loss > expected_loss)
        ):
            hint = _LOG_SPACE_HINT
        return failure(
            part,
            case,
            hint,
            f"the loss is wrong ({case.note})" if case.note else None,
            returned=show(loss),
            expected=show(expected_loss),
        )
    if check_dW_here and not dW_ok:
        finite = bool(np.all(np.isfinite(dW)))
        hint = (
            _OVERFLOW_HINT
            if part.name in ("overflow", "log_space") and not finite
            else _gradient_hint(case, dW)
        )
        problem = (
            f"dW has shape {dW.shape}, expected {expected_dW.shape}"
            if dW.shape != expected_dW.shape
            else f"dW is wrong ({case.note})"
            if case.note
            else "dW is wrong"
        )
        return failure(part, case, hint, problem, returned=show(dW), expected=show(expected_dW))
    return None


_LOSS_STATEMENT_PARTS = (
    Part(
        "loss",
        1,
        False,
        "the loss on small problems: N = 2 to 10 classes, D != N, m = 1 row, large reg * D * N",
    ),
    Part("gradient", 1, False, "dW on the same problems"),
    Part("overflow", 1, True, "logits in the thousands, rows offset by thousands: no inf, no NaN"),
    Part(
        "log_space",
        1,
        True,
        "the correct class hundreds below its row's maximum: a large, finite loss",
    ),
)
LOSS_PARTS = _LOSS_STATEMENT_PARTS


def loss_error_hint(case: Case, error: str) -> str | None:
    """An IndexError from ``logits[[np.arange(m), y]]`` (a list, not a tuple, of index arrays)."""
    if error.startswith("raised IndexError"):
        return _LIST_INDEXING_HINT
    return None


SOFTMAX_LOSS_NAIVE = Exercise(
    name="softmax_loss_naive",
    signature="softmax_loss_naive(W, X, y, reg)",
    parts=_LOSS_STATEMENT_PARTS,
    build_cases=build_loss_cases,
    check=check_loss,
    error_hint=loss_error_hint,
)

SOFTMAX_LOSS_VECTORIZED = Exercise(
    name="softmax_loss_vectorized",
    signature="softmax_loss_vectorized(W, X, y, reg)",
    parts=_LOSS_STATEMENT_PARTS
    + (
        Part(
            "no_loops",
            1,
            False,
            "no Python loop or comprehension in its source (read, not run), "
            "and right on an ordinary case",
        ),
    ),
    build_cases=build_vectorized_cases,
    check=check_loss,
    error_hint=loss_error_hint,
)


# --------------------------------------------------------------------------------------------------
# numerical_gradient


def _gradient_case(f: str, W, h: float | None, note: str) -> Case:
    args = [("f", Source(f)), ("W", _f64(W))]
    if h is not None:
        args.append(("h", float(h)))

    def reference(fn, w, step=1e-5):
        return regression.numerical_gradient(fn, w, step)

    return Case(tuple(args), reference=reference, rtol=1e-6, atol=1e-7, note=note)


def build_numerical_gradient_cases() -> dict[str, tuple[Case, ...]]:
    rng = np.random.default_rng(5)
    return {
        "values": (
            _gradient_case(
                "lambda W: float(np.sum(W ** 3))",
                rng.standard_normal((3, 4)),
                None,
                "sum of cubes, W of shape (3, 4), the default h",
            ),
            _gradient_case(
                "lambda W: float(np.sum(W) ** 2)",
                rng.standard_normal((2, 5)),
                None,
                "every entry's derivative depends on all of W: put each entry back",
            ),
            _gradient_case(
                "lambda W: float(np.sum(np.sin(W)))", rng.standard_normal(6), None, "a 1-D W"
            ),
            _gradient_case(
                "lambda W: float(np.log(np.sum(np.exp(W))))",
                rng.standard_normal((1, 1)),
                None,
                "W of shape (1, 1)",
            ),
        ),
        "step": (
            _gradient_case(
                "lambda W: float(np.sum(np.exp(W)))",
                rng.standard_normal((2, 3)),
                1e-2,
                "h = 1e-2: the answer must use the h it is given, centred",
            ),
            _gradient_case(
                "lambda W: float(np.sum(W ** 4))",
                rng.standard_normal((4, 2)),
                1e-3,
                "h = 1e-3, a quartic: a one-sided difference is off by about 6 W^2 h",
            ),
        ),
    }


def check_numerical_gradient(
    exercise: Exercise, part: Part, case: Case, result: Result
) -> Failure | None:
    got, problem = as_numbers(result.value)
    if problem is not None:
        return failure(
            part, case, "return an array of W's shape with one derivative per entry.", problem
        )
    expected = np.asarray(case.expected)
    if got.shape != expected.shape:
        return failure(
            part,
            case,
            "the gradient has W's shape: one entry per entry of W (np.nditer or "
            "np.ndindex visits them all).",
            f"returned shape {got.shape}, expected {expected.shape}",
            show(got),
        )
    if np.all(np.isfinite(got)) and np.allclose(got, expected, rtol=case.rtol, atol=case.atol):
        return None
    hint = (
        "use centred differences (f(W + h e) - f(W - h e)) / (2 h) with the h you are given, "
        "nudging one entry at a time and putting it back before the next."
    )
    return failure(part, case, hint, case.note or None, show(got))


NUMERICAL_GRADIENT = Exercise(
    name="numerical_gradient",
    signature="numerical_gradient(f, W, h=1e-5)",
    parts=(
        Part("values", 1, False, "centred differences of smooth functions, W 1-D and 2-D"),
        Part("step", 1, True, "uses the step h it is given, with centred differences"),
    ),
    build_cases=build_numerical_gradient_cases,
    check=check_numerical_gradient,
)


EXERCISES = [
    SOFTMAX_LOSS_NAIVE,
    NUMERICAL_GRADIENT,
    SOFTMAX_LOSS_VECTORIZED,
]
