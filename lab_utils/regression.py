"""Softmax regression in plain NumPy: the trusted references of notebook 05's exercises.

The notebook's students write these functions themselves (``softmax_loss_naive``,
``softmax_loss_vectorized``, ``numerical_gradient``, ``train_softmax``, a hyperparameter search).
This module is what the grader compares them with, and what later notebooks use when they need a
trained softmax regression. The signatures and conventions are CS231n's, so that code written for
that course fits; the letters are the lab's (README's notation card: CS231n's N rows and C classes
are m and N here): ``W`` is (D, N), ``X`` is (m, D), ``y`` holds m integer class ids, the logits
(CS231n's scores) are ``X @ W`` (no separate bias: append a column of ones to ``X`` for one), and
the loss is

.. math:: L(W) = -\\frac{1}{m}\\sum_i \\log \\operatorname{softmax}(x_i W)_{y_i} + \\lambda \\sum_{d,j} W_{dj}^2,

with gradient :math:`\\nabla_W L = \\frac{1}{m} X^\\top (P - Y) + 2\\lambda W`.

Every loss is computed in log space (``lab_utils.numerics.log_softmax``), so it is finite for any
finite logits, even when the correct class's logit sits thousands below its row's maximum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike

from . import numerics, validation

__all__ = [
    "softmax_loss",
    "numerical_gradient",
    "relative_error",
    "accuracy",
    "init_weights",
    "train_softmax",
    "search_hyperparameters",
    "DigitsProblem",
    "digits_problem",
]


def _check_problem(W, X, y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    W = np.asarray(W, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    if W.ndim != 2:
        raise ValueError(f"W must be a 2-D array of shape (D, N), got shape {W.shape}")
    if X.ndim != 2 or X.shape[1] != W.shape[0]:
        raise ValueError(
            f"X must be a 2-D array of shape (m, D) with D = {W.shape[0]} (rows of W), "
            f"got shape {X.shape}"
        )
    y = validation.as_class_ids(y, W.shape[1], "y", shape=(len(X),))
    return W, X, y


def _check_reg(reg) -> float:
    return validation.as_real(reg, "reg", low=0.0)


def softmax_loss(W: ArrayLike, X: ArrayLike, y: ArrayLike, reg: float) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of ``softmax(X @ W)`` plus ``reg * sum(W**2)``, and its gradient.

    Parameters
    ----------
    W : array of shape (D, N)
        Weights, one column per class (N classes).
    X : array of shape (m, D)
        One example per row.
    y : array of shape (m,)
        Integer class ids in ``0 .. N-1``.
    reg : float
        L2 strength :math:`\\lambda \\ge 0` (the penalty is ``reg * sum(W**2)``, not half of it).

    Returns
    -------
    loss : float
    dW : ndarray of shape (D, N)

    Raises
    ------
    ValueError, TypeError
        If the shapes do not fit together, ``y`` holds anything but class ids, or ``reg < 0``.

    Notes
    -----
    The data term is ``-log_softmax(logits)[i, y_i]``: ``z_y - max - log sum exp(z - max)`` never
    forms ``p_y``, so it stays finite where ``-log(p_y)`` would be ``-log(0) = inf`` (a correct
    logit more than about 745 below its row's maximum in float64).

    Examples
    --------
    >>> loss, dW = softmax_loss(np.zeros((2, 3)), np.ones((4, 2)), np.array([0, 1, 2, 0]), 0.1)
    >>> round(loss, 6) == round(float(np.log(3)), 6), dW.shape
    (True, (2, 3))
    """
    W, X, y = _check_problem(W, X, y)
    reg = _check_reg(reg)
    n = len(X)
    if n == 0:
        raise ValueError("X must have at least one row")
    logits = X @ W  # (m, N)
    log_probs = numerics.log_softmax(logits, axis=1)  # (m, N), finite for finite logits
    rows = np.arange(n)
    loss = -log_probs[rows, y].mean() + reg * np.sum(W * W)
    delta = np.exp(log_probs)  # P
    delta[rows, y] -= 1.0  # P - Y
    dW = X.T @ delta / n + 2.0 * reg * W
    return float(loss), dW


def numerical_gradient(
    f: Callable[[np.ndarray], float], W: ArrayLike, h: float = 1e-5
) -> np.ndarray:
    """Centred finite differences ``(f(W + h e) - f(W - h e)) / (2h)``, one entry at a time.

    ``W`` is left unchanged (it is copied); ``f`` is called ``2 * W.size`` times on arrays of
    ``W``'s shape.

    Examples
    --------
    >>> g = numerical_gradient(lambda W: float(np.sum(W ** 2)), np.array([[1.0, -2.0]]))
    >>> np.round(g, 6)
    array([[ 2., -4.]])
    """
    if not callable(f):
        raise TypeError(f"f must be a function of W, got {type(f).__name__}")
    W = np.array(W, dtype=np.float64)  # a copy, nudged in place below
    if not np.isfinite(h) or h <= 0:
        raise ValueError(f"h must be a finite number > 0, got {h}")
    grad = np.zeros_like(W)
    for index in np.ndindex(W.shape):
        old = W[index]
        W[index] = old + h
        plus = float(f(W))
        W[index] = old - h
        minus = float(f(W))
        W[index] = old
        grad[index] = (plus - minus) / (2 * h)
    return grad


def relative_error(a: ArrayLike, b: ArrayLike) -> float:
    """Largest entrywise ``|a - b| / max(|a| + |b|, 1e-8)``: CS231n's gradient-check measure.

    Around 1e-7 or less means the two agree (the difference is finite-difference error); 1e-2 or
    more means a bug. The floor 1e-8 keeps entries where both are zero from dividing by zero.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)))) if a.size else 0.0


def accuracy(W: ArrayLike, X: ArrayLike, y: ArrayLike) -> float:
    """Fraction of rows of ``X`` whose largest logit ``X @ W`` is at the class in ``y``."""
    W, X, y = _check_problem(W, X, y)
    return float(np.mean(np.argmax(X @ W, axis=1) == y))


def init_weights(n_features: int, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    """Small random weights, ``0.001 * standard normal`` of shape (D, N) (CS231n's start)."""
    return 0.001 * rng.standard_normal((n_features, num_classes))


def train_softmax(
    X: ArrayLike,
    y: ArrayLike,
    lr: float,
    reg: float,
    epochs: int,
    batch_size: int,
    seed: int,
    *,
    num_classes: int | None = None,
    keep_weights: bool = False,
) -> tuple[np.ndarray, list] | tuple[np.ndarray, list, list]:
    """Minibatch stochastic gradient descent on :func:`softmax_loss`.

    Starts from :func:`init_weights` with ``np.random.default_rng(seed)``, then for each epoch
    draws a new permutation of the rows from the same generator and steps
    ``W -= lr * dW`` on consecutive batches of ``batch_size`` rows (the last one may be smaller).

    Parameters
    ----------
    X, y : the training data, (m, D) and (m,)
    lr : float
        Learning rate, > 0.
    reg : float
        L2 strength, >= 0.
    epochs, batch_size : int
        Passes over the data (>= 1) and rows per step (>= 1).
    seed : int
        Seeds the start and every shuffle: the same seed gives the same weights.
    num_classes : int, optional
        Number of classes N; default ``max(y) + 1``.
    keep_weights : bool
        Also return the weights after each epoch (for the notebook's epoch slider).

    Returns
    -------
    W : ndarray of shape (D, N)
    loss_history : list of float
        The minibatch loss of every step, ``epochs * ceil(m / batch_size)`` entries.
    weights : list of ndarray, only if ``keep_weights``
        ``epochs + 1`` arrays: the start, then the weights after each epoch.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or len(X) == 0:
        raise ValueError(f"X must be a non-empty 2-D array of shape (m, D), got shape {X.shape}")
    if num_classes is None:
        num_classes = int(np.max(validation.as_class_ids(y, np.inf, "y"))) + 1
    y = validation.as_class_ids(
        y, validation.as_int(num_classes, "num_classes", minimum=1), "y", shape=(len(X),)
    )
    lr = validation.as_positive(lr, "lr")
    reg = _check_reg(reg)
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        validation.as_int(value, name, minimum=1)
    rng = np.random.default_rng(seed)
    W = init_weights(X.shape[1], num_classes, rng)
    history, weights = [], [W.copy()]
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch_size):
            batch = order[start : start + batch_size]
            loss, dW = softmax_loss(W, X[batch], y[batch], reg)
            history.append(loss)
            W -= lr * dW
        weights.append(W.copy())
    return (W, history, weights) if keep_weights else (W, history)


def search_hyperparameters(
    X_train: ArrayLike,
    y_train: ArrayLike,
    X_val: ArrayLike,
    y_val: ArrayLike,
    learning_rates: Sequence[float],
    regs: Sequence[float],
    epochs: int,
    batch_size: int = 64,
    seed: int = 0,
    trainer: Callable | None = None,
) -> tuple[float, float, np.ndarray]:
    """Train once per (learning rate, reg) pair; return the pair best on the validation set.

    Returns
    -------
    best_lr, best_reg : float
        The pair with the highest validation accuracy (the first one in grid order on a tie).
    val_accuracy : ndarray of shape (len(learning_rates), len(regs))
        Row i, column j: validation accuracy after training with ``learning_rates[i]``, ``regs[j]``.
    """
    trainer = train_softmax if trainer is None else trainer
    learning_rates, regs = list(learning_rates), list(regs)
    if not learning_rates or not regs:
        raise ValueError("learning_rates and regs must each hold at least one value")
    grid = np.zeros((len(learning_rates), len(regs)))
    for i, lr in enumerate(learning_rates):
        for j, reg in enumerate(regs):
            W, _ = trainer(X_train, y_train, lr, reg, epochs, batch_size, seed)
            grid[i, j] = accuracy(W, X_val, y_val)
    i, j = np.unravel_index(np.argmax(grid), grid.shape)
    return float(learning_rates[i]), float(regs[j]), grid


@dataclass(frozen=True, repr=False)
class DigitsProblem:
    """Notebook 05's data: digits split into training, validation and test rows, with a bias column.

    ``X_*`` are float64 of shape (n, 65): the 64 pixels in [0, 1], then a 1 (so the last row of
    ``W`` acts as the biases, CS231n's "bias trick"). ``images_*`` are the same digits as 8x8
    pictures, row for row.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    images_train: np.ndarray
    images_val: np.ndarray
    images_test: np.ndarray

    def __repr__(self) -> str:
        return (
            f"DigitsProblem(train={len(self.y_train)}, validation={len(self.y_val)}, "
            f"test={len(self.y_test)}, features={self.X_train.shape[1]} (64 pixels + bias), "
            f"classes={int(self.y_train.max()) + 1})"
        )


def digits_problem(seed: int = 0) -> DigitsProblem:
    """scikit-learn's digits: ``digits_split(0.25, seed)``, its training rows split again 75/25.

    The second split is stratified and seeded too, so the validation rows are the same on every
    run; the test rows are ``digits_split``'s.

    Examples
    --------
    >>> digits_problem()
    DigitsProblem(train=1010, validation=337, test=450, features=65 (64 pixels + bias), classes=10)
    """
    from sklearn.model_selection import train_test_split

    from .datasets import digits_split

    digits = digits_split(test_size=0.25, seed=seed)
    rows = np.arange(len(digits.y_train))
    train, val = train_test_split(rows, test_size=0.25, random_state=seed, stratify=digits.y_train)
    with_bias = lambda X: np.hstack([np.asarray(X, dtype=np.float64), np.ones((len(X), 1))])  # noqa: E731
    return DigitsProblem(
        X_train=with_bias(digits.X_train[train]),
        y_train=digits.y_train[train],
        X_val=with_bias(digits.X_train[val]),
        y_val=digits.y_train[val],
        X_test=with_bias(digits.X_test),
        y_test=digits.y_test,
        images_train=digits.images_train[train],
        images_val=digits.images_train[val],
        images_test=digits.images_test,
    )
