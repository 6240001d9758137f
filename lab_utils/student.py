"""Calling a student's function and saying, in words, what it returned.

The explorers draw a student's softmax beside the reference; whatever the function does (raise,
return None, NaN, the wrong shape, values that do not sum to 1), :func:`check_student_softmax`
turns it into a short label for the figure and a sentence for the student, and never raises. The
call itself goes through :func:`lab_utils.runner.invoke`, the runner the self-checks and the
autograder use too.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .plots import format_settings, format_value, format_vector
from .runner import invoke
from .style import subscript

__all__ = ["check_student_softmax", "MATCH_ATOL", "MATCH_RTOL"]

#: Student output counts as "matching" within this tolerance (float32 implementations pass).
MATCH_ATOL, MATCH_RTOL = 1e-6, 1e-5


def check_student_softmax(fn: Callable, logits: np.ndarray, reference: np.ndarray) -> dict:
    """Run a student's softmax on ``logits`` and say, in words, how its output compares.

    Never raises, whatever ``fn`` does (except ``KeyboardInterrupt``/``SystemExit``).

    Parameters
    ----------
    fn : callable
        The student's function, called as ``fn(logits_copy)``.
    logits : numpy.ndarray
        1-D logits.
    reference : numpy.ndarray
        ``softmax(logits)``.

    Returns
    -------
    dict
        ``values`` (1-D float array to draw, or None if nothing drawable came back), ``ok`` (bool),
        ``short`` (a few words for the figure), ``message`` (a sentence for the student),
        ``mismatch`` (bool array or None) and ``max_abs_diff`` (float or None).

    Examples
    --------
    >>> import numpy as np
    >>> z = np.array([1.0, 2.0])
    >>> from lab_utils.numerics import softmax
    >>> check_student_softmax(lambda v: np.exp(v) / np.exp(v).sum(), z, softmax(z))["ok"]
    True
    >>> def my_softmax(v):
    ...     raise NotImplementedError
    >>> check_student_softmax(my_softmax, z, softmax(z))["short"]
    'my_softmax: not written yet'
    """
    name = getattr(fn, "__name__", type(fn).__name__)
    result = {"values": None, "ok": False, "mismatch": None, "max_abs_diff": None}

    def done(short: str, message: str, **extra) -> dict:
        result.update(short=f"{name}: {short}", message=message, **extra)
        return result

    output, failure, warned = _run(fn, logits, name)
    if failure is None:
        output, failure = _as_values(output, logits.shape, name, warned)
    if failure is not None:
        return done(*failure)
    values = result["values"] = output
    if not np.all(np.isfinite(values)):
        bad = int(np.flatnonzero(~np.isfinite(values))[0])
        word = format_value(values[bad])
        return done(
            f"{word} at index {bad}",
            f"{name} returned {word} at index {bad}: {format_vector(values)}.{warned}",
            mismatch=~np.isfinite(values),
        )
    difference = np.abs(values - reference)
    mismatch = difference > MATCH_ATOL + MATCH_RTOL * np.abs(reference)
    result.update(mismatch=mismatch, max_abs_diff=float(difference.max()))
    if np.any(values < 0):
        bad = int(np.flatnonzero(values < 0)[0])
        return done(
            "negative value",
            f"{name} returned a negative value {values[bad]:.4g} at index {bad}; "
            f"probabilities are never negative.{warned}",
        )
    total = float(values.sum())
    if abs(total - 1.0) > 1e-6:
        return done(
            f"sums to {total:.4f}",
            f"{name}'s values sum to {total:.6g}, not 1: divide by the sum of the "
            f"exponentials.{warned}",
        )
    if np.any(mismatch):
        where = ", ".join(f"p{subscript(i)}" for i in np.flatnonzero(mismatch))
        return done(
            f"differs at {where}",
            f"{name} differs from the reference at {where} (largest difference "
            f"{difference.max():.3g}).{warned}",
        )
    result["ok"] = True
    return done(
        "matches",
        f"{name} matches the reference softmax here (largest difference "
        f"{difference.max():.1e}).{warned}",
    )


def _run(fn: Callable, logits: np.ndarray, name: str) -> tuple[object, tuple | None, str]:
    """Call ``fn`` on a copy of ``logits`` through the lab's one runner (:func:`runner.invoke`):
    (output, (short, message) if it raised, the warnings it gave as a sentence)."""
    outcome = invoke(fn, [logits], record_warnings=True)
    warned = outcome.get("warnings", [])
    warned = f" It warned: {'; '.join(warned)}." if warned else ""
    if outcome["status"] == "not_written":
        return (
            None,
            (
                "not written yet",
                f"{name} raised NotImplementedError: it is not written yet. The reference "
                "bars still work; finish the exercise and run this cell again.",
            ),
            "",
        )
    if outcome["status"] != "ok":
        error = outcome["error"]  # "raised ValueError: ..."
        kind = error.split(":", 1)[0]
        return None, (kind, f"{name} {error} (for z = {format_settings(logits)}).{warned}"), ""
    return outcome["value"], None, warned


def _as_values(
    output: object, shape: tuple, name: str, warned: str
) -> tuple[np.ndarray | None, tuple | None]:
    """The student's output as a float array of ``shape``, or (None, (short, message))."""
    if output is None:
        return None, (
            "returned None",
            f"{name} returned None: is the `return` statement missing?{warned}",
        )
    try:
        values = np.asarray(output)
        if values.dtype.kind not in "iuf":  # NumPy would even turn "0.25" into a number
            raise TypeError
        values = values.astype(float)
    except (TypeError, ValueError):
        return None, (
            f"returned a {type(output).__name__}",
            f"{name} returned a {type(output).__name__}, not an array of numbers.{warned}",
        )
    if values.shape != shape:
        return None, (
            f"wrong shape {values.shape}",
            f"{name} returned shape {values.shape}; expected {shape}, one "
            f"probability per logit.{warned}",
        )
    return values, None
