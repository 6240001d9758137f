"""Notebook 03's second exercise: label smoothing, ``smooth_labels`` and ``smoothed_cross_entropy``.

Two functions, one exercise: ``smooth_labels(y, num_classes, alpha)`` returns the smoothed targets
:math:`(1 - \\alpha)\\,\\mathbf e_y + \\alpha / N`, and ``smoothed_cross_entropy(logits, y, alpha)`` the mean
cross-entropy against them, from the logits. The references are :func:`lab_utils.numerics.smooth_labels`
and :func:`lab_utils.numerics.cross_entropy` with probability rows as labels; the tests check both
against Keras' ``CategoricalCrossentropy(from_logits=True, label_smoothing=alpha)``.

With smoothing every class carries weight :math:`\\alpha/N`, so the log-probability of *every* class
enters the loss, not only the true one: ``log(softmax(z))`` turns a confident logit row into
``-inf`` wherever a probability underflows, which the hidden part probes.

Examples
--------
>>> case = labels_case([0, 2, 1], 3, 0.1)
>>> case.expected.round(4)
array([[0.9333, 0.0333, 0.0333],
       [0.0333, 0.0333, 0.9333],
       [0.0333, 0.9333, 0.0333]])
>>> one_hot = numerics.one_hot(case.argument("y"), 3)
>>> others_only = 0.9 * one_hot + 0.05 * (1 - one_hot)      # alpha / (N - 1) on the wrong classes
>>> verdict = check(EXERCISE, EXERCISE.part("labels"), case, Result("ok", others_only))
>>> verdict.hint.split(":")[0]
'Keras spreads alpha over all N classes, the true one included'
"""

from __future__ import annotations

import numpy as np

from .. import numerics
from .base import (
    Case,
    Exercise,
    Part,
    Result,
    compare_arrays,
    compare_mean_loss,
    permutations,
    shuffled,
)
from .softmax import f32, f64

NAME = "smoothed_cross_entropy"

PARTS = (
    Part(
        "labels", 1, False, "smooth_labels(y, num_classes, alpha): rows (1 - alpha) e_y + alpha / N"
    ),
    Part("loss", 1, False, "the mean smoothed loss of ordinary logits, alpha from 0 to 1"),
    Part(
        "confident_mistakes",
        1,
        True,
        "logits such as [1000, 0, -1000], where every class's log-probability counts",
    ),
)


def _labels_reference(y, num_classes, alpha):
    return numerics.smooth_labels(y, num_classes, alpha)


def _loss_reference(logits, y, alpha):
    targets = numerics.smooth_labels(y, np.shape(logits)[-1], alpha)
    return float(
        numerics.cross_entropy(np.asarray(logits, dtype=np.float64), targets, reduction="mean")
    )


def labels_case(y, num_classes: int, alpha: float, note: str = "") -> Case:
    return Case(
        (("y", np.asarray(y)), ("num_classes", num_classes), ("alpha", alpha)),
        _labels_reference,
        function="smooth_labels",
        note=note,
    )


def loss_case(logits: np.ndarray, y, alpha: float, note: str = "") -> Case:
    rtol = 1e-5 if logits.dtype == np.float32 else 1e-6
    return Case(
        (("logits", logits), ("y", np.asarray(y)), ("alpha", alpha)),
        _loss_reference,
        rtol,
        1e-6,
        note=note,
    )


def build_cases() -> dict[str, tuple[Case, ...]]:
    return {
        "labels": (
            labels_case([0, 2, 1], 3, 0.1),
            labels_case([3, 0], 4, 0.2),
            labels_case([1, 1, 0, 4], 5, 0.0, "alpha = 0: the one-hot rows"),
            labels_case([2, 0], 3, 1.0, "alpha = 1: the uniform rows"),
        ),
        "loss": (
            loss_case(f64([[2.0, 1.0, 0.1]]), [0], 0.1),
            loss_case(
                f64([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3], [1.2, 0.2, 3.1], [3.0, 0.2, 0.1]]),
                [0, 1, 2, 1],
                0.2,
            ),
            loss_case(
                f64([[0.0, 0.0, 0.0, 0.0], [1.0, -1.0, 0.5, 2.0]]),
                [3, 2],
                0.0,
                "alpha = 0: plain cross-entropy",
            ),
            loss_case(
                f64([[0.3, -0.2], [1.5, 0.5], [-1.0, 1.0]]),
                [1, 0, 1],
                1.0,
                "alpha = 1: uniform targets",
            ),
        ),
        "confident_mistakes": (
            loss_case(
                f64([[1000.0, 0.0, -1000.0]]), [0], 0.1, "right, but the other classes underflow"
            ),
            loss_case(f64([[1000.0, 0.0, -1000.0]]), [2], 0.1),
            loss_case(
                f64([[300.0, 299.0, 298.0], [-500.0, -499.0, -501.0]]),
                [1, 0],
                0.3,
                "rows of very different scale",
            ),
            loss_case(f32([[100.0, 0.0, -100.0]]), [1], 0.05),
        ),
    }


def _labels_hint(case: Case, got: np.ndarray, part: str) -> str:
    y = np.asarray(case.argument("y"))
    n, alpha = int(case.argument("num_classes")), float(case.argument("alpha"))
    if got.shape != (len(y), n):
        return (
            f"return one row of num_classes = {n} entries per label: shape (len(y), num_classes)."
        )
    one_hot = numerics.one_hot(y, n)
    if n > 1 and np.allclose(got, (1 - alpha) * one_hot + alpha / (n - 1) * (1 - one_hot)):
        return (
            "Keras spreads alpha over all N classes, the true one included: add alpha / N to every "
            "entry (not alpha / (N - 1) to the wrong ones only)."
        )
    if np.allclose(got, (1 - alpha) * one_hot + alpha):
        return "add alpha / num_classes to every entry, not alpha: each row must still sum to 1."
    if not np.allclose(got.sum(axis=-1), 1.0):
        return "each row must sum to 1: (1 - alpha) times the one-hot row, plus alpha / num_classes everywhere."
    return "smoothed = (1 - alpha) * one_hot(y) + alpha / num_classes, with one_hot(y) of shape (len(y), num_classes)."


def _loss_hint(case: Case, got: float, part: str) -> str:
    logits = np.asarray(case.argument("logits"), dtype=np.float64)
    y, alpha = np.asarray(case.argument("y")), float(case.argument("alpha"))
    if not np.isfinite(got):
        return (
            "with smoothing every class's log-probability enters the loss, and log(softmax(z)) is "
            "-inf where a probability underflows: use log-softmax, z - logsumexp(z), with each row's "
            "maximum subtracted inside logsumexp."
        )
    plain = float(numerics.cross_entropy(logits, y, reduction="mean"))
    if (
        alpha > 0
        and np.isclose(got, plain, rtol=1e-6, atol=1e-9)
        and not np.isclose(plain, case.expected)
    ):
        return "this is the loss against the one-hot labels: weight the log-probabilities by smooth_labels(y, N, alpha)."
    if np.isclose(got, case.expected * len(y), rtol=1e-6) and len(y) > 1:
        return "return the mean over the examples, not the sum."
    return (
        "loss = mean over examples i of -sum_j q_ij log p_ij, with q = smooth_labels(y, N, alpha) and "
        "log p = z - logsumexp(z) row by row."
    )


def check(exercise: Exercise, part: Part, case: Case, result: Result):
    if part.name == "labels":
        return compare_arrays(part, case, result, _labels_hint)
    return compare_mean_loss(part, case, result, _loss_hint)


def disguise(case: Case, rng: np.random.Generator) -> Case:
    """Shuffle the examples and rename the classes: the smoothed rows and the mean loss follow."""
    y = np.asarray(case.argument("y"))
    if case.function == "smooth_labels":
        rows = rng.permutation(len(y))
        rename = rng.permutation(int(case.argument("num_classes")))
        return shuffled(case, rng, y=rename[y[rows]])
    logits = np.asarray(case.argument("logits"))
    rows, columns = permutations(logits.shape, rng)
    new_label = np.argsort(columns)  # class c now sits in column new_label[c]
    return shuffled(case, rng, logits=logits[rows][:, columns], y=new_label[y[rows]])


EXERCISE = Exercise(
    NAME,
    "smooth_labels(y, num_classes, alpha) and smoothed_cross_entropy(logits, y, alpha)",
    PARTS,
    build_cases,
    check,
    disguise=disguise,
)
