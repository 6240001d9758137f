"""Notebook 03's label-smoothing exercise (lab_utils.exercises.label_smoothing), graded in this process.

``smoothed_cross_entropy`` is one exercise with two functions: its ``labels`` part calls the notebook's
``smooth_labels``, found by name where the self-check runs (the notebook's namespace, here ``__main__``).
Each typical mistake must lose exactly the parts it deserves, and the references must agree with
Keras' ``CategoricalCrossentropy(label_smoothing=...)``.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from scipy import special

from lab_utils import checks, numerics
from lab_utils.exercises import cases

NAME = "smoothed_cross_entropy"


def smooth_correct(y, num_classes, alpha):
    return (1 - alpha) * np.eye(num_classes)[np.asarray(y)] + alpha / num_classes


def smooth_wrong_classes_only(y, num_classes, alpha):  # alpha spread over the N - 1 wrong classes
    one_hot = np.eye(num_classes)[np.asarray(y)]
    return (1 - alpha) * one_hot + alpha / (num_classes - 1) * (1 - one_hot)


def smooth_forgot_division(y, num_classes, alpha):  # rows sum to 1 + (N - 1) alpha
    return (1 - alpha) * np.eye(num_classes)[np.asarray(y)] + alpha


def _log_softmax(z):
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def loss_correct(logits, y, alpha):
    q = smooth_correct(y, logits.shape[-1], alpha)
    return float(np.mean(-(q * _log_softmax(np.asarray(logits, dtype=float))).sum(axis=-1)))


def loss_log_of_softmax(logits, y, alpha):  # log(softmax): -inf times alpha / N for confident rows
    z = np.asarray(logits, dtype=float)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    p = e / e.sum(axis=-1, keepdims=True)
    q = smooth_correct(y, z.shape[-1], alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.mean(-(q * np.log(p)).sum(axis=-1)))


def loss_one_hot(logits, y, alpha):  # forgot the smoothing
    z = np.asarray(logits, dtype=float)
    return float(np.mean(-_log_softmax(z)[np.arange(len(y)), y]))


def loss_sum(logits, y, alpha):  # the sum over the batch, not the mean
    q = smooth_correct(y, logits.shape[-1], alpha)
    return float(np.sum(-(q * _log_softmax(np.asarray(logits, dtype=float))).sum(axis=-1)))


def loss_scipy(logits, y, alpha):  # a library log-softmax: a shortcut in a NumPy exercise
    q = smooth_correct(y, logits.shape[-1], alpha)
    return float(
        np.mean(-(q * special.log_softmax(np.asarray(logits, dtype=float), axis=-1)).sum(axis=-1))
    )


def blank(*args):
    raise NotImplementedError()


FULL = {"labels": 1, "loss": 1, "confident_mistakes": 1}
SUBMISSIONS = [
    ("correct", smooth_correct, loss_correct, FULL),
    ("wrong_classes_only", smooth_wrong_classes_only, loss_correct, {**FULL, "labels": 0}),
    ("forgot_division", smooth_forgot_division, loss_correct, {**FULL, "labels": 0}),
    ("log_of_softmax", smooth_correct, loss_log_of_softmax, {**FULL, "confident_mistakes": 0}),
    ("one_hot_loss", smooth_correct, loss_one_hot, {**FULL, "loss": 0, "confident_mistakes": 0}),
    ("sum_not_mean", smooth_correct, loss_sum, {**FULL, "loss": 0, "confident_mistakes": 0}),
    ("scipy_shortcut", smooth_correct, loss_scipy, {**FULL, "loss": 0, "confident_mistakes": 0}),
    ("labels_blank", blank, loss_correct, {**FULL, "labels": 0}),
]


@pytest.fixture
def notebook_namespace(monkeypatch):
    """Put a smooth_labels where the self-check looks for it: the notebook's (here __main__'s) globals."""
    main = sys.modules["__main__"].__dict__

    def install(fn):
        monkeypatch.setitem(main, "smooth_labels", fn)

    return install


def test_the_exercise_is_registered_with_its_parts():
    exercise = checks.EXERCISES[NAME]
    assert {p.name: p.points for p in exercise.parts} == FULL
    assert [p.name for p in exercise.parts if p.hidden] == ["confident_mistakes"]
    assert all(case.function == "smooth_labels" for case in cases(NAME)["labels"])


@pytest.mark.parametrize(
    "name, smooth, loss, expected", SUBMISSIONS, ids=[s[0] for s in SUBMISSIONS]
)
def test_each_submission_earns_exactly_its_points(notebook_namespace, name, smooth, loss, expected):
    notebook_namespace(smooth)
    assert checks.score(NAME, loss) == expected


def test_the_labels_part_names_the_keras_rule(notebook_namespace):
    notebook_namespace(smooth_wrong_classes_only)
    with pytest.raises(AssertionError, match=r"add alpha / N\s+to every entry"):
        checks.grade(NAME, loss_correct, "labels")


def test_the_confident_mistake_hint_names_log_softmax(notebook_namespace):
    notebook_namespace(smooth_correct)
    with pytest.raises(AssertionError, match=r"log-softmax"):
        checks.grade(NAME, loss_log_of_softmax, "confident_mistakes")


def test_a_missing_smooth_labels_is_named(monkeypatch):
    monkeypatch.delitem(sys.modules["__main__"].__dict__, "smooth_labels", raising=False)
    with pytest.raises(AssertionError, match=r"smooth_labels is not defined"):
        checks.grade(NAME, loss_correct, "labels")


def test_the_self_check_prints_a_verdict_per_part(notebook_namespace, capsys):
    notebook_namespace(smooth_correct)
    checks.check_smoothed_cross_entropy(loss_log_of_softmax)
    out = capsys.readouterr().out
    assert out.startswith(f"{NAME}: 2/3 points")
    assert "FAIL confident_mistakes" in out and "ok   labels" in out


def test_disguised_cases_have_the_same_answers_for_honest_code():
    rng = np.random.default_rng(5)
    exercise = checks.EXERCISES[NAME]
    for part, part_cases in cases(NAME).items():
        for case in part_cases:
            other = exercise.disguise(case, rng)
            values = [value for _, value in other.args]
            if part == "labels":
                np.testing.assert_allclose(smooth_correct(*values), other.expected)
                assert other.expected.sum() == pytest.approx(case.expected.sum())
            else:
                assert other.expected == pytest.approx(case.expected, rel=1e-9)
                assert loss_correct(*values) == pytest.approx(other.expected, rel=1e-6)


def test_smooth_labels_reference_rows_and_errors():
    rows = numerics.smooth_labels([0, 2], 3, 0.3)
    np.testing.assert_allclose(rows, [[0.8, 0.1, 0.1], [0.1, 0.1, 0.8]])
    np.testing.assert_allclose(numerics.smooth_labels([1], 4, 1.0), [[0.25] * 4])
    with pytest.raises(ValueError, match="alpha"):
        numerics.smooth_labels([0], 3, 1.5)
    with pytest.raises(ValueError, match="labels"):
        numerics.smooth_labels([3], 3, 0.1)


@pytest.mark.tensorflow
def test_the_references_agree_with_keras_label_smoothing():
    import keras

    for part in ("loss", "confident_mistakes"):
        for case in cases(NAME)[part]:
            logits, y, alpha = (value for _, value in case.args)
            targets = np.eye(logits.shape[-1])[y]
            keras_loss = keras.losses.CategoricalCrossentropy(
                from_logits=True, label_smoothing=alpha
            )
            theirs = float(keras_loss(targets, np.asarray(logits, dtype=np.float64)))
            assert case.expected == pytest.approx(theirs, rel=1e-6, abs=1e-6), (part, case.args)
    # the smoothed rows themselves: Keras' loss against our rows with no smoothing of its own
    logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
    rows = numerics.smooth_labels([0, 1], 3, 0.2)
    plain = keras.losses.CategoricalCrossentropy(from_logits=True)(rows, logits)
    smoothed = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2)(
        np.eye(3)[[0, 1]], logits
    )
    assert float(plain) == pytest.approx(float(smoothed), rel=1e-6)
