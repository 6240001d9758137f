"""Tests for lab_utils.calibration: ECE and reliability bins, NLL, temperature scaling."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.special import log_softmax as scipy_log_softmax
from scipy.special import softmax as scipy_softmax
from sklearn.metrics import log_loss

from lab_utils import calibration
from lab_utils.calibration import expected_calibration_error, fit_temperature, nll, reliability_bins


def binary_probs(confidences, correct):
    """Two-class probabilities whose top class 0 has the given confidence; labels say right/wrong."""
    confidences = np.asarray(confidences, dtype=float)
    probs = np.stack([confidences, 1.0 - confidences], axis=1)
    labels = np.where(np.asarray(correct), 0, 1)
    return probs, labels


def sample_labels(probs, rng):
    """One label per row drawn from that row's distribution (inverse CDF)."""
    u = rng.random((probs.shape[0], 1))
    return np.minimum((u > np.cumsum(probs, axis=1)).sum(axis=1), probs.shape[1] - 1)


def ece_by_loop(probs, labels, n_bins):
    """Independent, slow ECE: each example put in bin ceil(conf * M) - 1, gaps summed per bin."""
    members = [[] for _ in range(n_bins)]
    for row, label in zip(probs, labels, strict=True):
        conf = max(row)
        b = min(max(math.ceil(conf * n_bins) - 1, 0), n_bins - 1)
        members[b].append((conf, float(np.argmax(row) == label)))
    total = 0.0
    for member in members:
        if member:
            conf = sum(c for c, _ in member) / len(member)
            acc = sum(a for _, a in member) / len(member)
            total += len(member) / len(labels) * abs(acc - conf)
    return total


# ---------------------------------------------------------------- expected calibration error


def test_ece_is_zero_when_every_bin_is_exactly_calibrated():
    # 10 at confidence 0.9 with 9 right, 10 at 0.6 with 6 right, 4 at 0.75 with 3 right.
    conf = [0.9] * 10 + [0.6] * 10 + [0.75] * 4
    correct = [1] * 9 + [0] + [1] * 6 + [0] * 4 + [1, 1, 1, 0]
    probs, labels = binary_probs(conf, correct)
    assert expected_calibration_error(probs, labels) == pytest.approx(0.0, abs=1e-12)


def test_ece_of_sampled_calibrated_predictions_is_small_and_of_shifted_ones_is_not():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.5, 1.0, size=200_000)
    correct = rng.random(conf.shape) < conf  # right with exactly the stated probability
    probs, labels = binary_probs(conf, correct)
    assert expected_calibration_error(probs, labels) < 0.005
    # The same predictions claimed 0.1 more confident (where possible) are off by about that much.
    shifted, _ = binary_probs(np.minimum(conf + 0.1, 1.0), correct)
    assert 0.07 < expected_calibration_error(shifted, labels) < 0.1


def test_ece_equals_hand_computed_value():
    # Bins of width 0.2. (0.8, 1]: confidences 0.9, 0.9, one right -> |0.5 - 0.9| = 0.4, weight 1/2.
    # (0.6, 0.8]: confidences 0.7, 0.7, both right -> |1 - 0.7| = 0.3, weight 1/2. ECE = 0.35.
    probs, labels = binary_probs([0.9, 0.9, 0.7, 0.7], [1, 0, 1, 1])
    assert expected_calibration_error(probs, labels, n_bins=5) == pytest.approx(0.35, abs=1e-12)
    # One bin only: |mean accuracy - mean confidence| = |0.75 - 0.8|.
    assert expected_calibration_error(probs, labels, n_bins=1) == pytest.approx(0.05, abs=1e-12)


def test_ece_uses_the_top_class_of_multiclass_rows():
    probs = np.array([[0.1, 0.6, 0.3], [0.2, 0.2, 0.6], [0.5, 0.25, 0.25]])
    labels = np.array([1, 0, 0])  # right, wrong, right
    # n_bins=2: (0.5, 1] holds 0.6, 0.6 (1 right) -> |0.5 - 0.6|; [0, 0.5] holds 0.5 (right) -> 0.5.
    expected = 2 / 3 * 0.1 + 1 / 3 * 0.5
    assert expected_calibration_error(probs, labels, n_bins=2) == pytest.approx(expected, abs=1e-12)


def test_ece_matches_an_independent_loop_on_random_softmax_outputs():
    rng = np.random.default_rng(1)
    logits = rng.normal(scale=2.0, size=(500, 7))
    probs = scipy_softmax(logits, axis=1)
    labels = rng.integers(0, 7, size=500)
    for n_bins in (1, 10, 15, 23):
        assert expected_calibration_error(probs, labels, n_bins) == pytest.approx(
            ece_by_loop(probs, labels, n_bins), abs=1e-12
        )


@settings(max_examples=60, deadline=None)
@given(
    logits=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 40), st.integers(2, 6)),
        elements=st.floats(-30, 30, allow_nan=False),
    ),
    seed=st.integers(0, 2**32 - 1),
    n_bins=st.integers(1, 20),
)
def test_ece_properties(logits, seed, n_bins):
    probs = scipy_softmax(logits, axis=1)
    labels = np.random.default_rng(seed).integers(0, logits.shape[1], size=logits.shape[0])
    ece = expected_calibration_error(probs, labels, n_bins)
    assert 0.0 <= ece <= 1.0
    # ECE can only grow with finer bins when those bins refine the coarse ones (triangle inequality).
    assert expected_calibration_error(probs, labels, 2 * n_bins) >= ece - 1e-12
    coarse = abs(np.mean(probs.argmax(1) == labels) - probs.max(1).mean())
    assert expected_calibration_error(probs, labels, 1) == pytest.approx(coarse, abs=1e-12)


# ---------------------------------------------------------------- reliability bins


def test_reliability_bins_counts_means_and_empty_bins():
    probs, labels = binary_probs([0.55, 0.65, 0.95, 0.99, 1.0], [1, 0, 1, 1, 0])
    bins = reliability_bins(probs, labels, n_bins=5)
    np.testing.assert_allclose(bins["edges"], [0, 0.2, 0.4, 0.6, 0.8, 1.0])
    np.testing.assert_array_equal(bins["count"], [0, 0, 1, 1, 3])
    assert np.isnan(bins["confidence"][:2]).all() and np.isnan(bins["accuracy"][:2]).all()
    np.testing.assert_allclose(bins["confidence"][2:], [0.55, 0.65, (0.95 + 0.99 + 1.0) / 3])
    np.testing.assert_allclose(bins["accuracy"][2:], [1.0, 0.0, 2 / 3])


def test_confidence_on_an_edge_goes_to_the_bin_it_closes():
    probs, labels = binary_probs([0.5, 0.75, 1.0], [1, 1, 1])
    bins = reliability_bins(probs, labels, n_bins=4)  # bins (0.25, 0.5], (0.5, 0.75], (0.75, 1]
    np.testing.assert_array_equal(bins["count"], [0, 1, 1, 1])


def test_reliability_bins_partition_every_example():
    rng = np.random.default_rng(2)
    probs = scipy_softmax(rng.normal(scale=3, size=(1000, 4)), axis=1)
    labels = rng.integers(0, 4, size=1000)
    bins = reliability_bins(probs, labels, n_bins=15)
    assert bins["count"].sum() == 1000
    filled = bins["count"] > 0
    lo, hi = bins["edges"][:-1][filled], bins["edges"][1:][filled]
    assert np.all(bins["confidence"][filled] > lo) and np.all(bins["confidence"][filled] <= hi)
    assert np.all((bins["accuracy"][filled] >= 0) & (bins["accuracy"][filled] <= 1))


# ---------------------------------------------------------------- NLL and fit_temperature


@pytest.mark.parametrize("temperature", [0.05, 0.5, 1.0, 3.0, 40.0])
def test_nll_matches_scipy_log_softmax(temperature):
    rng = np.random.default_rng(3)
    logits = rng.normal(scale=4, size=(300, 5))
    labels = rng.integers(0, 5, size=300)
    expected = -np.mean(scipy_log_softmax(logits / temperature, axis=1)[np.arange(300), labels])
    assert nll(logits, labels, temperature) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("temperature", [1.0, 3.0, 40.0])
def test_nll_matches_sklearn_log_loss(temperature):
    # Moderate logits only: log_loss clips probabilities at machine epsilon.
    rng = np.random.default_rng(3)
    logits = rng.normal(scale=2, size=(300, 5))
    labels = rng.integers(0, 5, size=300)
    expected = log_loss(labels, scipy_softmax(logits / temperature, axis=1), labels=range(5))
    assert nll(logits, labels, temperature) == pytest.approx(expected, rel=1e-9)


def test_nll_of_confident_mistake_is_finite_and_exact():
    # softmax([1000, 0]) gives class 1 probability e^-1000, which underflows to 0 in float64.
    assert nll([[1000.0, 0.0]], [1]) == pytest.approx(1000.0, rel=1e-12)


@pytest.mark.parametrize("true_temperature", [0.5, 1.0, 2.5, 6.0])
def test_fit_temperature_recovers_the_temperature_that_generated_the_labels(true_temperature):
    rng = np.random.default_rng(4)
    logits = rng.normal(scale=3.0, size=(20_000, 10))
    labels = sample_labels(scipy_softmax(logits / true_temperature, axis=1), rng)
    fitted = fit_temperature(logits, labels)
    assert fitted == pytest.approx(true_temperature, rel=0.05)


def test_fit_temperature_is_the_nll_minimum():
    rng = np.random.default_rng(5)
    logits = rng.normal(scale=5.0, size=(2000, 4))
    labels = sample_labels(scipy_softmax(logits / 2.0, axis=1), rng)
    fitted = fit_temperature(logits, labels)
    best = nll(logits, labels, fitted)
    for factor in (0.99, 1.01, 0.5, 2.0):
        assert best < nll(logits, labels, fitted * factor)
    # Overconfident logits (generated at T = 2, used at T = 1) are improved by scaling.
    assert best < nll(logits, labels, 1.0)


def test_fit_temperature_analytic_case():
    # Same logits [2, 0] four times, labels 0, 0, 0, 1: best p(class 0) = 3/4 = sigmoid(2 / T).
    assert fit_temperature([[2.0, 0.0]] * 4, [0, 0, 0, 1]) == pytest.approx(
        2 / math.log(3), rel=1e-6
    )


def test_temperature_scaling_leaves_predictions_and_accuracy_unchanged():
    rng = np.random.default_rng(6)
    logits = rng.normal(scale=4.0, size=(3000, 10))
    labels = sample_labels(scipy_softmax(logits / 3.0, axis=1), rng)
    fitted = fit_temperature(logits, labels)
    before = scipy_softmax(logits, axis=1)
    after = scipy_softmax(logits / fitted, axis=1)
    np.testing.assert_array_equal(before.argmax(axis=1), after.argmax(axis=1))
    # ...while calibration improves on these over-confident logits.
    assert expected_calibration_error(after, labels) < expected_calibration_error(before, labels)


def test_fit_temperature_refuses_when_no_temperature_is_best():
    logits = np.array([[3.0, 0.0, -1.0], [0.0, 2.0, 1.0]])
    with pytest.raises(ValueError, match=r"keeps falling as T -> 0"):
        fit_temperature(logits, [0, 1])  # all right: the NLL falls forever as T -> 0
    with pytest.raises(ValueError, match=r"keeps falling as T -> 0"):
        fit_temperature([[1.0, 1.0], [2.0, 0.0]], [1, 0])  # a tie with the label counts as right
    with pytest.raises(ValueError, match=r"keeps falling as T -> infinity"):
        fit_temperature([[1.0, 0.0], [1.0, 0.0]], [0, 1])  # coin flips: best is T -> infinity
    with pytest.raises(ValueError, match=r"keeps falling as T -> infinity"):
        fit_temperature(logits, [2, 0])  # labels anti-correlated with the logits


def test_fit_temperature_refuses_a_minimum_outside_the_bounds():
    rng = np.random.default_rng(7)
    logits = rng.normal(scale=3.0, size=(5000, 5))
    labels = sample_labels(scipy_softmax(logits / 6.0, axis=1), rng)
    with pytest.raises(ValueError, match=r"lies above bounds=\(0.1, 2\); widen bounds"):
        fit_temperature(logits, labels, bounds=(0.1, 2.0))
    with pytest.raises(ValueError, match=r"lies below bounds=\(10, 100\)"):
        fit_temperature(logits, labels, bounds=(10.0, 100.0))
    assert 2.0 < fit_temperature(logits, labels, bounds=(0.1, 100.0)) < 100.0


# ---------------------------------------------------------------- bad inputs

GOOD_LOGITS = [[1.0, 0.0, -1.0], [0.5, 0.2, 0.1]]
GOOD_PROBS = [[0.7, 0.2, 0.1], [0.3, 0.3, 0.4]]


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: nll([1.0, 0.0], [0]), ValueError, "logits must be 2-D"),
        (lambda: nll([[1.0], [2.0]], [0, 0]), ValueError, "at least 2 classes"),
        (lambda: nll(np.zeros((0, 3)), np.zeros(0, int)), ValueError, "at least one example"),
        (lambda: nll([[1.0, np.nan]], [0]), ValueError, "logits must be finite"),
        (lambda: nll([["a", "b"]], [0]), TypeError, "logits must be real numbers"),
        (lambda: nll(GOOD_LOGITS, [0, 1, 2]), ValueError, r"labels must have shape \(2,\)"),
        (lambda: nll(GOOD_LOGITS, [0, 3]), ValueError, r"labels must be class ids in \[0, 3\)"),
        (lambda: nll(GOOD_LOGITS, [0, -1]), ValueError, "labels must be class ids"),
        (lambda: nll(GOOD_LOGITS, [0.5, 1.0]), ValueError, "labels must be integer class ids"),
        (lambda: nll(GOOD_LOGITS, [True, False]), TypeError, "labels must be integer class ids"),
        (
            lambda: nll([[True, False], [False, True]], [0, 1]),
            TypeError,
            "logits must be real numbers",
        ),
        (lambda: nll(GOOD_LOGITS, [[0], [1]]), ValueError, r"labels must have shape \(2,\)"),
        (lambda: nll(GOOD_LOGITS, [0, 1], temperature=0), ValueError, "temperature must be > 0"),
        (lambda: nll(GOOD_LOGITS, [0, 1], temperature=-1.0), ValueError, "got -1.0"),
        (
            lambda: nll(GOOD_LOGITS, [0, 1], temperature="2"),
            TypeError,
            "temperature must be a real",
        ),
        (
            lambda: fit_temperature(GOOD_LOGITS, [0, 1], bounds=(2.0, 1.0)),
            ValueError,
            "bounds must satisfy",
        ),
        (
            lambda: fit_temperature(GOOD_LOGITS, [0, 1], bounds=(0.0, 1.0)),
            ValueError,
            "bounds must satisfy",
        ),
        (
            lambda: fit_temperature(GOOD_LOGITS, [0, 1], bounds=3),
            TypeError,
            "bounds must be a pair",
        ),
        (lambda: fit_temperature([[np.inf, 0.0]], [0]), ValueError, "logits must be finite"),
        (lambda: expected_calibration_error([[0.7, 0.4]], [0]), ValueError, "row 0 sums to 1.1"),
        (lambda: expected_calibration_error([[2.0, -1.0]], [0]), ValueError, "did you pass logits"),
        (
            lambda: expected_calibration_error(GOOD_PROBS, [0, 1], n_bins=0),
            ValueError,
            "n_bins must be >= 1",
        ),
        (
            lambda: expected_calibration_error(GOOD_PROBS, [0, 1], n_bins=2.5),
            TypeError,
            "n_bins must be an integer",
        ),
        (
            lambda: expected_calibration_error(GOOD_PROBS, [0, 1], n_bins=True),
            TypeError,
            "n_bins must be an integer",
        ),
        (lambda: reliability_bins(GOOD_PROBS, [0, 5]), ValueError, "labels must be class ids"),
        (lambda: reliability_bins([0.7, 0.3], [0]), ValueError, "probs must be 2-D"),
    ],
)
def test_bad_inputs_raise_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_accepts_lists_float32_and_numpy_integer_scalars():
    probs = np.array(GOOD_PROBS, dtype=np.float32)
    assert (
        expected_calibration_error(probs, np.array([0, 2], dtype=np.int32), n_bins=np.int64(5)) >= 0
    )
    assert nll(np.array(GOOD_LOGITS, np.float32), [0, 1], temperature=np.float32(2.0)) > 0


def test_docstring_examples():
    failures, tried = doctest.testmod(calibration, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried >= 5 and failures == 0
