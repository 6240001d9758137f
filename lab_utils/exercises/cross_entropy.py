"""Notebook 03's exercise: ``my_cross_entropy(logits, y)``, the mean loss, exact for confident mistakes.

Examples
--------
>>> case = build_cases()["confident_mistakes"][0]
>>> case.args
(('logits', array([[ 1000.,     0., -1000.]])), ('y', array([2])))
>>> case.expected                          # logsumexp(z) - z_y, exact
2000.0
>>> capped = -np.log(numerics.softmax(case.argument("logits"))[0, 2] + 1e-12)    # log(p + eps)
>>> verdict = check(EXERCISE, EXERCISE.part("confident_mistakes"), case, Result("ok", capped))
>>> verdict.returned, verdict.expected
('27.631', '2000.0')
>>> verdict.hint.split(":")[0]
'the loss of a confident mistake came back too small, as if capped'
"""

from __future__ import annotations

import numpy as np

from .. import numerics
from .base import Case, Exercise, Part, Result, compare_mean_loss, permutations, shuffled
from .softmax import f32, f64

PARTS = (
    Part("values", 1, False, "mean loss of small batches with integer labels"),
    Part("batch", 1, False, "batches whose rows differ in scale by hundreds"),
    Part("confident_mistakes", 2, True, "confidently wrong logits such as [1000, 0, -1000]"),
)


def _reference(logits, labels):
    return float(numerics.cross_entropy(logits, labels, reduction="mean"))


def cross_entropy_case(logits: np.ndarray, labels, note: str = "") -> Case:
    rtol = 1e-5 if logits.dtype == np.float32 else 1e-6
    # atol 1e-6: log(p + eps) with a tiny eps is a harmless difference on ordinary logits; the
    # confident-mistakes part, not this tolerance, is where that shortcut is caught.
    return Case((("logits", logits), ("y", np.asarray(labels))), _reference, rtol, 1e-6, note=note)


def build_cases() -> dict[str, tuple[Case, ...]]:
    return {
        "values": (
            cross_entropy_case(f64([[2.0, 1.0, 0.1]]), [0]),
            cross_entropy_case(f64([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3], [1.2, 0.2, 3.1]]), [0, 1, 2]),
            cross_entropy_case(f64([[0.0, 0.0, 0.0, 0.0], [1.0, -1.0, 0.5, 2.0]]), [3, 2]),
            cross_entropy_case(
                f64([[0.3, -0.2], [1.5, 0.5], [-1.0, 1.0], [0.0, 0.1]]), [1, 0, 1, 0]
            ),
        ),
        "batch": (
            # exp stays finite row by row (the naive formula passes); one shared max underflows a row.
            cross_entropy_case(
                f64([[300.0, 299.0, 298.0], [-500.0, -499.0, -501.0]]),
                [1, 0],
                "rows of very different scale",
            ),
            cross_entropy_case(
                f64([[60.0, 59.0], [-700.0, -699.0], [2.0, 2.5]]),
                [0, 1, 1],
                "rows of very different scale",
            ),
        ),
        "confident_mistakes": (
            cross_entropy_case(f64([[1000.0, 0.0, -1000.0]]), [2]),
            cross_entropy_case(f64([[0.0, 800.0], [3.0, 3.0]]), [0, 1]),
            cross_entropy_case(f64([[50.0, 0.0, 0.0], [1.0, 2.0, 3.0]]), [1, 2]),
            cross_entropy_case(f32([[100.0, 0.0, -100.0]]), [2]),
        ),
    }


def _underflowing_rows(logits: np.ndarray) -> list[int]:
    """Rows whose every logit is more than 700 below the batch's largest: exp(z - global max) = 0."""
    return [int(i) for i in np.flatnonzero(logits.max(axis=-1) - logits.max() < -700)]


def hint(case: Case, got: float, part: str) -> str:
    logits = np.asarray(case.args[0][1], dtype=np.float64)
    low = _underflowing_rows(logits) if logits.ndim == 2 and logits.shape[0] > 1 else []
    if low and not np.isfinite(got):
        return (
            f"row {low[0]}'s logits sit far below the batch's largest: with one maximum for the "
            "whole batch its exponentials all underflow to 0 and log(0) = -inf. Subtract each "
            "row's own maximum (axis=-1, keepdims=True) inside logsumexp."
        )
    if not np.isfinite(got):
        return (
            "log(softmax(z)) hits log(0) for a confident mistake: use log-softmax, "
            "z_y - logsumexp(z), with the max subtracted inside logsumexp."
        )
    if part == "confident_mistakes" and got < float(case.expected):
        return (
            "the loss of a confident mistake came back too small, as if capped: log(p + eps) "
            "or clipping p caps it; compute -log softmax(z)_y from the logits: "
            "logsumexp(z) - z_y."
        )
    return (
        "loss = mean over the examples i of logsumexp(z_i) - z_i[y_i]; pick each row's "
        "true-class logit with z[np.arange(n), y]."
    )


def check(exercise: Exercise, part: Part, case: Case, result: Result):
    return compare_mean_loss(part, case, result, hint)


def disguise(case: Case, rng: np.random.Generator) -> Case:
    """Shuffle the examples and rename the classes: the mean loss is the same."""
    logits, labels = np.asarray(case.argument("logits")), np.asarray(case.argument("y"))
    rows, columns = permutations(logits.shape, rng)
    new_label = np.argsort(columns)  # class c now sits in column new_label[c]
    return shuffled(case, rng, logits=logits[rows][:, columns], y=new_label[labels[rows]])


EXERCISE = Exercise(
    "my_cross_entropy", "my_cross_entropy(logits, y)", PARTS, build_cases, check, disguise=disguise
)
