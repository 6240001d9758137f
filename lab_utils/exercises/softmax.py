"""Notebook 01's exercise: ``my_softmax(z)``, along the last axis, stable for extreme logits.

Examples
--------
>>> [(part.name, part.points, part.hidden) for part in EXERCISE.parts]
[('values', 1, False), ('batch', 1, False), ('extreme', 2, True)]
>>> case = build_cases()["extreme"][0]     # inputs only: the answer is computed on first use
>>> case.args
(('z', array([1000., 1000., 1000.])),)
>>> case.expected.round(4)
array([0.3333, 0.3333, 0.3333])
"""

from __future__ import annotations

import numpy as np

from .. import numerics
from .base import Case, Exercise, Part, Result, compare_arrays, shuffle_last_axes

PARTS = (
    Part("values", 1, False, "1-D vectors of ordinary logits"),
    Part(
        "batch",
        1,
        False,
        "2-D and 3-D batches, softmax along the last axis, rows of very different scale",
    ),
    Part("extreme", 2, True, "very large and very small logits, float64 and float32"),
)


def f32(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def f64(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def _reference(z):
    return numerics.softmax(z, axis=-1)


def softmax_case(z: np.ndarray, note: str = "") -> Case:
    rtol, atol = (1e-5, 1e-7) if z.dtype == np.float32 else (1e-6, 1e-9)
    return Case((("z", z),), _reference, rtol, atol, note=note)


def build_cases() -> dict[str, tuple[Case, ...]]:
    return {
        "values": (
            softmax_case(f64([2.0, 1.0, 0.1])),
            softmax_case(f64([0.0, 0.0, 0.0, 0.0])),
            softmax_case(f64([-1.0, 0.5, 3.0, 0.5, -2.0])),
            softmax_case(f64([7.0])),
        ),
        "batch": (
            softmax_case(f64([[2.0, 1.0, 0.1], [1.0, 2.0, 3.0]])),
            softmax_case(f64([[0.5, -0.5], [3.0, 1.0], [0.0, 0.0], [-2.0, 4.0]])),
            softmax_case(
                f64([[[1.0, 2.0, 3.0], [0.0, 0.0, 1.0]], [[4.0, 1.0, 1.0], [2.0, -2.0, 0.5]]])
            ),
            # Rows hundreds apart in scale (exp of each stays finite, so even the naive formula
            # passes): one maximum for the whole batch underflows the low row to 0/0.
            softmax_case(
                f64([[300.0, 299.0, 298.0], [-500.0, -501.0, -499.0]]),
                note="rows of very different scale",
            ),
            softmax_case(
                f64([[1.0, 2.0, 3.0], [400.0, 398.0, 399.0], [-400.0, -401.0, -402.0]]),
                note="rows of very different scale",
            ),
        ),
        "extreme": (
            softmax_case(f64([1000.0, 1000.0, 1000.0])),
            softmax_case(f64([1000.0, 999.0, 998.0])),
            softmax_case(f64([-1000.0, -1001.0, -1002.0])),
            softmax_case(f64([800.0, 0.0, -800.0, 799.0])),
            softmax_case(f32([100.0, 99.0, 98.0])),
            softmax_case(f32([-200.0, -200.0])),
        ),
    }


def row_hint(case: Case, got: np.ndarray) -> str | None:
    """A hint naming the first wrong row when the other rows are right and it sits far below them.

    That is what one maximum subtracted for the whole batch (instead of each row's own) produces.
    """
    expected = np.asarray(case.expected)
    z = np.asarray(case.args[0][1], dtype=np.float64)
    if z.ndim < 2 or got.shape != expected.shape:
        return None
    width = z.shape[-1]
    rows, got_rows, expected_rows = (
        z.reshape(-1, width),
        got.reshape(-1, width),
        expected.reshape(-1, width),
    )
    with np.errstate(all="ignore"):
        right = [
            bool(np.all(np.isfinite(g)) and np.allclose(g, e, rtol=case.rtol, atol=case.atol))
            for g, e in zip(got_rows, expected_rows)
        ]
    if all(right) or not any(right):
        return None
    row = right.index(False)
    spread = float(rows.max() - rows[row].max())
    if spread < 100:
        return None
    return (
        f"row {row} is wrong while other rows are right: its largest logit sits {spread:g} below "
        "the batch's largest. Subtract each row's own maximum, np.max(z, axis=-1, keepdims=True), "
        "not one maximum for the whole batch."
    )


def hint(case: Case, got: np.ndarray, part: str) -> str:
    z = np.asarray(case.args[0][1])
    by_row = row_hint(case, got)
    if by_row is not None:
        return by_row
    if not np.all(np.isfinite(got)):
        return (
            "exp overflowed (or 0/0 happened): subtract the largest logit of each row before "
            "exp; softmax(z - max(z)) equals softmax(z) exactly."
        )
    expected = np.asarray(case.expected)
    if got.shape != expected.shape:
        return (
            "return an array of the input's shape: reduce along the last axis with "
            "axis=-1, keepdims=True so the division broadcasts row by row."
        )
    row_sums = got.sum(axis=-1)
    if (
        z.ndim >= 2
        and not np.allclose(row_sums, 1.0, rtol=1e-4)
        and (np.isclose(got.sum(), 1.0, rtol=1e-4) or np.allclose(got.sum(axis=0), 1.0, rtol=1e-4))
    ):
        return (
            "normalise along the last axis: each row should sum to 1; use "
            "np.sum(..., axis=-1, keepdims=True), not axis=0 or the whole array."
        )
    if not np.allclose(row_sums, 1.0, rtol=1e-4):
        return "divide the exponentials by their sum so that each row sums to 1."
    if part == "extreme":
        return (
            "large logits lose precision in exp: subtract the row's max first, and keep the "
            "array's own dtype."
        )
    return "softmax(z)_i = exp(z_i) / sum_j exp(z_j), computed along the last axis."


def check(exercise: Exercise, part: Part, case: Case, result: Result):
    return compare_arrays(part, case, result, hint)


def disguise(case: Case, rng: np.random.Generator) -> Case:
    return shuffle_last_axes(case, rng, "z")


EXERCISE = Exercise("my_softmax", "my_softmax(z)", PARTS, build_cases, check, disguise=disguise)
