"""Notebook 02's exercise: ``softmax_with_temperature(z, T)``, stable at T = 0.001 and T = 1e6.

Examples
--------
>>> case = temperature_case(f64([1.0, 2.0, 3.0]), 1e-3)
>>> case.expected                          # T -> 0: all the weight on the largest logit
array([0., 0., 1.])
>>> multiplied = numerics.softmax(case.argument("z") * 1e-3)     # z * T instead of z / T
>>> verdict = check(EXERCISE, EXERCISE.part("limits"), case, Result("ok", multiplied))
>>> print(verdict.describe(EXERCISE.name))
softmax_with_temperature: part 'limits' (1 point) fails
  input:    z = [1., 2., 3.]
            T = 0.001
  returned: [0.3330, 0.3333, 0.3337]
  expected: [0., 0., 1.]
  hint:     divide the logits by T (not multiply), then take a stable softmax along the
            last axis.
"""

from __future__ import annotations

import numpy as np

from .. import numerics
from .base import Case, Exercise, Part, Result, compare_arrays, shuffle_last_axes
from .softmax import f64, row_hint

PARTS = (
    Part("values", 1, False, "ordinary logits at temperatures around 1"),
    Part(
        "batch",
        1,
        False,
        "batches whose rows differ in scale by hundreds, softmax along the last axis",
    ),
    Part("limits", 1, True, "T = 0.001 and T = 1e6 with extreme logits"),
)


def _reference(z, temperature):
    return numerics.softmax(z, axis=-1, temperature=temperature)


def temperature_case(z: np.ndarray, temperature: float, note: str = "") -> Case:
    return Case((("z", z), ("T", temperature)), _reference, note=note)


def build_cases() -> dict[str, tuple[Case, ...]]:
    return {
        "values": (
            temperature_case(f64([2.0, 1.0, 0.1]), 1.0),
            temperature_case(f64([2.0, 1.0, 0.1]), 0.5),
            temperature_case(f64([2.0, 1.0, 0.1]), 4.0),
            temperature_case(f64([[1.0, 3.0, 0.0], [0.5, 0.5, 2.0]]), 2.0),
        ),
        "batch": (
            # As in my_softmax's batch part: exp stays finite row by row, but not after one shared max.
            temperature_case(
                f64([[300.0, 299.0, 298.0], [-500.0, -501.0, -499.0]]),
                1.0,
                "rows of very different scale",
            ),
            temperature_case(
                f64([[600.0, 599.0, 598.0], [-900.0, -902.0, -901.0]]),
                2.0,
                "rows of very different scale",
            ),
        ),
        "limits": (
            temperature_case(f64([1.0, 2.0, 3.0]), 1e-3),
            temperature_case(f64([2.0, 2.0, 1.0]), 1e-3),
            temperature_case(f64([1000.0, 0.0, -1000.0]), 1e6),
            temperature_case(f64([3e9, 1e9, -1e9]), 1e6),
            temperature_case(f64([[0.5, 0.25, 0.0], [-0.5, -1.0, -2.0]]), 1e-3),
        ),
    }


def hint(case: Case, got: np.ndarray, part: str) -> str:
    by_row = row_hint(case, got)
    if by_row is not None:
        return by_row.replace("np.max(z, axis=-1", "np.max(z / T, axis=-1")
    if not np.all(np.isfinite(got)):
        return (
            "z / T is huge when T is small (or z is huge): subtract the row's max of z / T "
            "before exp."
        )
    if got.shape != np.asarray(case.expected).shape:
        return "return an array of the input's shape (reduce with axis=-1, keepdims=True)."
    if not np.allclose(got.sum(axis=-1), 1.0, rtol=1e-4):
        return "divide the exponentials by their sum so that each row sums to 1."
    return "divide the logits by T (not multiply), then take a stable softmax along the last axis."


def check(exercise: Exercise, part: Part, case: Case, result: Result):
    return compare_arrays(part, case, result, hint)


def disguise(case: Case, rng: np.random.Generator) -> Case:
    return shuffle_last_axes(case, rng, "z")


EXERCISE = Exercise(
    "softmax_with_temperature",
    "softmax_with_temperature(z, T)",
    PARTS,
    build_cases,
    check,
    disguise=disguise,
)
