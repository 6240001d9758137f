"""Notebook 06's exercise: ``my_masked_softmax(z, mask)``: masked positions exactly 0, no NaN rows.

Examples
--------
>>> case = build_cases()["fully_masked"][1]
>>> case.args
(('z', array([ 0.5, -0.5,  2. ])), ('mask', array([False, False, False])))
>>> case.expected                          # nothing left to normalise: zeros, not 0/0
array([0., 0., 0.])
>>> zero_by_zero = np.full(3, np.nan)      # what exp(z) * mask / sum(...) returns here
>>> verdict = check(EXERCISE, EXERCISE.part("fully_masked"), case, Result("ok", zero_by_zero))
>>> verdict.hint.split(":")[0]
'a row with every position masked has nothing to normalise'
"""

from __future__ import annotations

import numpy as np

from .. import numerics
from .base import Case, Exercise, Part, Result, compare_arrays, failure, show, shuffle_last_axes
from .softmax import f64, row_hint

PARTS = (
    Part("values", 1, False, "partly masked rows: masked positions exactly 0"),
    Part("batch", 1, False, "batches whose rows differ in scale by hundreds"),
    Part("fully_masked", 1, True, "a row with every position masked is all zeros, not NaN"),
)


def _reference(z, mask):
    return numerics.masked_softmax(z, mask, axis=-1)


def masked_case(z: np.ndarray, mask, note: str = "") -> Case:
    return Case((("z", z), ("mask", np.asarray(mask, dtype=bool))), _reference, note=note)


def build_cases() -> dict[str, tuple[Case, ...]]:
    causal = np.tril(np.ones((3, 3), dtype=bool))
    return {
        "values": (
            masked_case(f64([1.0, 2.0, 3.0, 4.0]), [True, True, False, True]),
            masked_case(
                f64([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]), [[True, True, False], [True, False, False]]
            ),
            masked_case(f64([[0.5, 1.0, 1.5], [2.0, 0.0, -1.0], [1.0, 1.0, 1.0]]), causal),
            masked_case(f64([1000.0, 999.0, 2000.0]), [True, True, False]),
        ),
        "batch": (
            masked_case(
                f64([[300.0, 299.0, 298.0], [-500.0, -501.0, -499.0]]),
                [[True, True, False], [True, False, True]],
                "rows of very different scale",
            ),
            masked_case(
                f64([[0.5, -0.5, 1.0], [-800.0, -801.0, -802.0]]),
                [[True, True, True], [False, True, True]],
                "rows of very different scale",
            ),
        ),
        "fully_masked": (
            masked_case(
                f64([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), [[True, True, True], [False, False, False]]
            ),
            masked_case(f64([0.5, -0.5, 2.0]), [False, False, False]),
            masked_case(
                f64([[2.0, 1.0], [0.0, 0.0], [1.0, 3.0]]),
                [[False, False], [True, False], [False, False]],
            ),
        ),
    }


def hint(case: Case, got: np.ndarray, part: str) -> str:
    mask = np.asarray(case.args[1][1], dtype=bool)
    by_row = row_hint(case, got)
    if by_row is not None:
        return by_row.replace("np.max(z, axis=-1, keepdims=True)", "the max of its unmasked logits")
    if not np.all(np.isfinite(got)):
        return (
            "a row with every position masked has nothing to normalise: 0/0 gives NaN. "
            "Return zeros for such rows (divide only where the row's sum is > 0)."
        )
    if got.shape != np.asarray(case.expected).shape:
        return "return an array of the input's shape (reduce with axis=-1, keepdims=True)."
    if np.any(np.broadcast_to(got, mask.shape)[~mask] != 0):
        if part == "fully_masked":
            return (
                "a fully masked row must be all zeros: masked positions get no weight, even "
                "when nothing in the row is left (a large negative fill spreads it evenly)."
            )
        return (
            "masked positions (mask False) must be exactly 0: give them no weight, e.g. "
            "exp(...) * mask or logits set to -inf before exp."
        )
    return (
        "softmax over the unmasked positions only (mask True), stable: subtract the max of "
        "the unmasked logits before exp."
    )


def check(exercise: Exercise, part: Part, case: Case, result: Result):
    verdict = compare_arrays(part, case, result, hint)
    if verdict is not None:
        return verdict
    got = np.asarray(result.value, dtype=np.float64)
    mask = np.asarray(case.args[1][1], dtype=bool)
    if np.any(got[~mask] != 0):
        return failure(
            part, case, hint(case, got, part.name), "masked positions are not exactly 0", show(got)
        )
    return None


def disguise(case: Case, rng: np.random.Generator) -> Case:
    return shuffle_last_axes(case, rng, "z", "mask")


EXERCISE = Exercise(
    "my_masked_softmax", "my_masked_softmax(z, mask)", PARTS, build_cases, check, disguise=disguise
)
