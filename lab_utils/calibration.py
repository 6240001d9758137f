"""Calibration of softmax classifiers: temperature scaling, reliability bins and expected calibration error.

A classifier is *calibrated* when, among the examples it labels with confidence 0.8, about 80 % are
right. Guo et al. (2017, "On Calibration of Modern Neural Networks") measure the gap with the expected
calibration error (ECE) over equal-width confidence bins, and shrink it with *temperature scaling*: one
number T, fitted on held-out data by minimising the negative log-likelihood, divides every logit.
Dividing by T > 0 never changes which logit is largest, so accuracy is untouched.

Everything here is a pure NumPy/SciPy function: no plotting (the notebook draws the reliability
diagram from :func:`reliability_bins`), no state.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from .numerics import log_softmax
from .validation import as_class_ids, as_float_array, as_int, as_positive, check_finite

__all__ = ["nll", "fit_temperature", "reliability_bins", "expected_calibration_error"]

# How far the row sums of ``probs`` may stray from 1: float32 softmax outputs are off by ~1e-7 per
# entry, and a student's hand-rolled probabilities by a little more; a real mistake is off by far more.
_ROW_SUM_TOLERANCE = 1e-4


def _check_scores(values, name: str) -> np.ndarray:
    """Return ``values`` as a finite float64 array of shape (n_examples, num_classes), or raise.

    Logits here must be finite, an exception to the lab's rule that logits may hold -inf: the
    temperature's gradient at a -inf logit is 0 * inf, and a calibration set has no masked class.
    """
    array = as_float_array(values, name, allow_empty=True).astype(np.float64)
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D with shape (n_examples, num_classes), got shape {array.shape}"
        )
    n_examples, num_classes = array.shape
    if n_examples == 0:
        raise ValueError(f"{name} must contain at least one example (row), got shape {array.shape}")
    if num_classes < 2:
        raise ValueError(f"{name} must have at least 2 classes (columns), got shape {array.shape}")
    check_finite(array, name)
    return array


def _check_labels(labels, n_examples: int, num_classes: int) -> np.ndarray:
    return as_class_ids(labels, num_classes, "labels", shape=(n_examples,))


def _check_probs(probs) -> np.ndarray:
    array = _check_scores(probs, "probs")
    if array.min() < 0 or array.max() > 1:
        raise ValueError(
            f"probs must lie in [0, 1], got values from {array.min():.6g} to {array.max():.6g} "
            "(did you pass logits? apply softmax first)"
        )
    sums = array.sum(axis=1)
    worst = int(np.argmax(np.abs(sums - 1.0)))
    if abs(sums[worst] - 1.0) > _ROW_SUM_TOLERANCE:
        raise ValueError(
            f"each row of probs must sum to 1, but row {worst} sums to {sums[worst]:.6g}"
        )
    return array


def _nll_unchecked(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    log_probs = log_softmax(logits / temperature, axis=-1)
    return float(-np.mean(log_probs[np.arange(labels.shape[0]), labels]))


def nll(logits: ArrayLike, labels: ArrayLike, temperature: float = 1.0) -> float:
    r"""Mean negative log-likelihood of integer labels under ``softmax(logits / temperature)``.

    .. math:: \mathrm{NLL}(T) = -\frac{1}{n}\sum_{i=1}^{n} \log \mathrm{softmax}(z_i / T)_{y_i}

    Computed from the logits with a stable log-softmax, so a confident mistake costs its full
    (finite) price instead of ``log(0)``.

    Parameters
    ----------
    logits : array_like, shape (n_examples, num_classes)
        Raw scores z, one row per example.
    labels : array_like of int, shape (n_examples,)
        True class index y of each example.
    temperature : float, default 1.0
        T > 0; every logit is divided by it.

    Returns
    -------
    float
        The mean NLL in nats.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or values (the message names it).

    Examples
    --------
    >>> round(nll([[2.0, 0.0], [0.0, 2.0]], [0, 0]), 4)   # (-log 0.8808 - log 0.1192) / 2
    1.1269
    >>> round(nll([[2.0, 0.0], [0.0, 2.0]], [0, 0], temperature=1e6), 4)   # near-uniform: log 2
    0.6931
    """
    logits = _check_scores(logits, "logits")
    labels = _check_labels(labels, *logits.shape)
    return _nll_unchecked(logits, labels, as_positive(temperature, "temperature"))


def fit_temperature(
    logits: ArrayLike, labels: ArrayLike, *, bounds: tuple[float, float] = (0.01, 100.0)
) -> float:
    """Fit the temperature T that minimises the NLL of ``labels`` under ``softmax(logits / T)``.

    This is temperature scaling (Guo et al., 2017): fit T on a validation split, then divide the
    test logits by it. T > 1 softens an over-confident model, T < 1 sharpens an under-confident one.
    The search runs over log T (bounded Brent), where the NLL is unimodal.

    Parameters
    ----------
    logits : array_like, shape (n_examples, num_classes)
        Validation logits (not probabilities).
    labels : array_like of int, shape (n_examples,)
        True class indices of those examples.
    bounds : (float, float), default (0.01, 100.0)
        Smallest and largest temperature to consider, 0 < low < high.

    Returns
    -------
    float
        The fitted temperature.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or values. Also ValueError when no temperature
        inside ``bounds`` minimises the NLL: when every label already has the largest logit (the
        NLL keeps falling as T -> 0), when the labels' logits are on average no higher than the
        average logit (it keeps falling as T -> infinity), or when the minimum lies outside
        ``bounds``.

    Examples
    --------
    Four examples with the same logits, three labelled 0 and one 1: the best probability for
    class 0 is 3/4, i.e. sigmoid(2 / T) = 3/4, so T = 2 / log 3.

    >>> T = fit_temperature([[2.0, 0.0]] * 4, [0, 0, 0, 1])
    >>> round(T, 4), round(2 / math.log(3), 4)
    (1.8205, 1.8205)
    """
    from scipy.optimize import minimize_scalar

    logits = _check_scores(logits, "logits")
    labels = _check_labels(labels, *logits.shape)
    try:
        low, high = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise TypeError(f"bounds must be a pair of numbers (low, high), got {bounds!r}") from None
    if not (0 < low < high < math.inf):
        raise ValueError(f"bounds must satisfy 0 < low < high < inf, got ({low}, {high})")

    # NLL(1/beta) is convex in beta = 1/T, so two cases have no finite minimiser at all.
    label_logits = logits[np.arange(labels.shape[0]), labels]
    if np.all(label_logits >= logits.max(axis=1)):
        raise ValueError(
            "every example's label already has the largest logit, so the NLL keeps falling as "
            "T -> 0 and no temperature minimises it. Fit on more (or harder) validation data, "
            "with some mistakes in it."
        )
    if np.mean(label_logits - logits.mean(axis=1)) <= 0:
        raise ValueError(
            "the labels' logits are on average no higher than the average logit, so the NLL keeps "
            "falling as T -> infinity and no temperature minimises it. Check that logits and "
            "labels belong together (same examples, same order)."
        )

    log_low, log_high = math.log(low), math.log(high)
    result = minimize_scalar(
        lambda log_t: _nll_unchecked(logits, labels, math.exp(log_t)),
        bounds=(log_low, log_high),
        method="bounded",
        options={"xatol": 1e-7},
    )
    log_t = float(result.x)
    # Bounded Brent stops within xatol of a bound when the minimum lies beyond it.
    margin = 1e-4 * (log_high - log_low)
    if log_t - log_low < margin or log_high - log_t < margin:
        side = "below" if log_t - log_low < margin else "above"
        raise ValueError(
            f"the best temperature lies {side} bounds=({low:g}, {high:g}); widen bounds"
        )
    return math.exp(log_t)


def reliability_bins(
    probs: ArrayLike, labels: ArrayLike, n_bins: int = 15
) -> dict[str, np.ndarray]:
    """Group predictions by confidence into equal-width bins; per bin, mean confidence and accuracy.

    The confidence of a prediction is its largest probability; it is correct when that class is the
    label. Bin b covers confidences in (b/M, (b+1)/M] (the first bin also takes 0), as in
    Guo et al. (2017). A reliability diagram plots ``accuracy`` against the bins: a calibrated
    model lies on the diagonal.

    Parameters
    ----------
    probs : array_like, shape (n_examples, num_classes)
        Predicted probabilities; each row must sum to 1.
    labels : array_like of int, shape (n_examples,)
        True class indices.
    n_bins : int, default 15
        Number M of equal-width bins on [0, 1].

    Returns
    -------
    dict of numpy.ndarray
        ``edges`` (M + 1,): bin edges; ``confidence`` (M,): mean confidence per bin;
        ``accuracy`` (M,): fraction correct per bin; ``count`` (M,): examples per bin.
        ``confidence`` and ``accuracy`` are NaN in empty bins.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or values (the message names it).

    Examples
    --------
    >>> bins = reliability_bins([[0.9, 0.1], [0.9, 0.1], [0.3, 0.7]], [0, 1, 1], n_bins=5)
    >>> bins["count"]
    array([0, 0, 0, 1, 2])
    >>> bins["confidence"][3:], bins["accuracy"][3:]
    (array([0.7, 0.9]), array([1. , 0.5]))
    """
    probs = _check_probs(probs)
    labels = _check_labels(labels, *probs.shape)
    n_bins = as_int(n_bins, "n_bins", minimum=1)

    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # side="left" on the inner edges puts a confidence equal to an edge into the bin it closes.
    which = np.searchsorted(edges[1:-1], confidence, side="left")
    count = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):  # empty bins become NaN on purpose
        mean_confidence = np.bincount(which, weights=confidence, minlength=n_bins) / count
        accuracy = np.bincount(which, weights=correct, minlength=n_bins) / count
    return {"edges": edges, "confidence": mean_confidence, "accuracy": accuracy, "count": count}


def expected_calibration_error(probs: ArrayLike, labels: ArrayLike, n_bins: int = 15) -> float:
    r"""Expected calibration error: the count-weighted mean gap between confidence and accuracy.

    .. math:: \mathrm{ECE} = \sum_{b=1}^{M} \frac{|B_b|}{n}\,\bigl|\mathrm{acc}(B_b) - \mathrm{conf}(B_b)\bigr|

    over the equal-width confidence bins of :func:`reliability_bins`. It is 0 for a perfectly
    calibrated model and at most 1.

    Parameters
    ----------
    probs : array_like, shape (n_examples, num_classes)
        Predicted probabilities; each row must sum to 1.
    labels : array_like of int, shape (n_examples,)
        True class indices.
    n_bins : int, default 15
        Number M of equal-width bins (15 as in Guo et al., 2017).

    Returns
    -------
    float
        The ECE, in [0, 1].

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or values (the message names it).

    Examples
    --------
    Two predictions at confidence 0.9, one right (gap 0.4), two at 0.7, both right (gap 0.3):

    >>> probs = [[0.9, 0.1], [0.9, 0.1], [0.7, 0.3], [0.7, 0.3]]
    >>> round(expected_calibration_error(probs, [0, 1, 0, 0], n_bins=5), 4)
    0.35
    """
    bins = reliability_bins(probs, labels, n_bins)
    filled = bins["count"] > 0
    weights = bins["count"][filled] / bins["count"].sum()
    gaps = np.abs(bins["accuracy"][filled] - bins["confidence"][filled])
    return float(np.sum(weights * gaps))
