"""lab_utils.regression: the trusted references of notebook 05, against SciPy and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
import scipy.special

from lab_utils import regression


def problem(n=7, d=5, c=4, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    return (
        scale * rng.standard_normal((d, c)),
        rng.standard_normal((n, d)),
        rng.integers(0, c, size=n),
    )


def scipy_loss(W, X, y, reg):
    log_p = scipy.special.log_softmax(X @ W, axis=1)
    return -np.mean(log_p[np.arange(len(y)), y]) + reg * np.sum(W * W)


@pytest.mark.parametrize("shape", [(7, 5, 4), (1, 3, 2), (20, 65, 10), (3, 2, 6)])
@pytest.mark.parametrize("reg", [0.0, 0.1, 2.0])
def test_loss_equals_scipy_log_softmax(shape, reg):
    W, X, y = problem(*shape)
    loss, dW = regression.softmax_loss(W, X, y, reg)
    assert loss == pytest.approx(scipy_loss(W, X, y, reg), rel=1e-12)
    assert dW.shape == W.shape


@pytest.mark.parametrize("reg", [0.0, 0.3])
def test_gradient_matches_scipy_finite_differences(reg):
    W, X, y = problem(6, 4, 3, seed=1)
    flat = lambda w: scipy_loss(w.reshape(W.shape), X, y, reg)  # noqa: E731
    numeric = scipy.optimize.approx_fprime(W.ravel(), flat, 1e-7).reshape(W.shape)
    _, dW = regression.softmax_loss(W, X, y, reg)
    np.testing.assert_allclose(dW, numeric, rtol=1e-5, atol=1e-7)
    # The penalty's gradient is 2 * reg * W (the loss has reg * sum(W**2), not half of it).
    _, dW0 = regression.softmax_loss(W, X, y, 0.0)
    np.testing.assert_allclose(dW - dW0, 2 * reg * W, atol=1e-15)


def test_small_weights_give_log_c():
    W, X, y = problem(50, 8, 6, seed=2, scale=1e-6)
    assert regression.softmax_loss(W, X, y, 0.0)[0] == pytest.approx(np.log(6), rel=1e-5)


def test_loss_is_finite_where_minus_log_p_is_inf():
    # Correct class 1000 below the maximum: p_y = exp(-1000) = 0 in float64, -log p_y = inf;
    # the log-space loss is 1000 (plus log 2, for the two top scores).
    W = np.eye(3)
    X = np.array([[0.0, 1000.0, 1000.0]])
    loss, dW = regression.softmax_loss(W, X, np.array([0]), 0.0)
    assert loss == pytest.approx(1000 + np.log(2), rel=1e-12)
    with np.errstate(divide="ignore"):
        assert -np.log(scipy.special.softmax(X @ W, axis=1)[0, 0]) == np.inf
    # dW = x^T (p - onehot): p = (0, 1/2, 1/2), so rows 1 and 2 of dW are 1000 * (-1, 1/2, 1/2).
    np.testing.assert_allclose(dW, [[0, 0, 0], [-1000, 500, 500], [-1000, 500, 500]])


def test_rows_offset_by_thousands():
    W = np.vstack([np.eye(3), np.ones((1, 3))])
    X = np.array([[1.0, 0.0, 0.5, 3000.0], [0.0, 2.0, 0.0, -2500.0]])
    loss, dW = regression.softmax_loss(W, X, np.array([0, 1]), 0.0)
    assert loss == pytest.approx(scipy_loss(W, X, np.array([0, 1]), 0.0), rel=1e-12)
    assert np.all(np.isfinite(dW))


def test_inputs_are_not_modified():
    W, X, y = problem()
    copies = W.copy(), X.copy(), y.copy()
    regression.softmax_loss(W, X, y, 0.1)
    regression.numerical_gradient(lambda w: float(np.sum(w**2)), W)
    for before, after in zip(copies, (W, X, y)):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((np.ones(3), np.ones((2, 3)), np.array([0, 1]), 0.0), ValueError, "W must be a 2-D"),
        (
            (np.ones((3, 2)), np.ones((2, 4)), np.array([0, 1]), 0.0),
            ValueError,
            "X must be a 2-D array of shape",
        ),
        ((np.ones((3, 2)), np.ones((2, 3)), np.array([0]), 0.0), ValueError, "y must have shape"),
        (
            (np.ones((3, 2)), np.ones((2, 3)), np.array([0, 2]), 0.0),
            ValueError,
            r"y must be class ids in \[0, 2\) for 2 classes, got 2 at index 1",
        ),
        (
            (np.ones((3, 2)), np.ones((2, 3)), np.array([0.5, 1.0]), 0.0),
            ValueError,
            "y must be integer class ids, got 0.5",
        ),
        (
            (np.ones((3, 2)), np.ones((2, 3)), np.array([True, False]), 0.0),
            TypeError,
            "y must be integer class ids, got booleans",
        ),
        ((np.ones((3, 2)), np.ones((2, 3)), np.array([0, 1]), -1.0), ValueError, "reg must be"),
        (
            (np.ones((3, 2)), np.ones((2, 3)), np.array([0, 1]), "0"),
            TypeError,
            "reg must be a real number",
        ),
    ],
)
def test_bad_input_names_the_argument(args, error, match):
    with pytest.raises(error, match=match):
        regression.softmax_loss(*args)


def test_numerical_gradient_is_centred_and_uses_h():
    W = np.array([[0.5, -1.0], [2.0, 0.25]])
    cube = lambda w: float(np.sum(w**3))  # noqa: E731
    # Centred differences of x^3 are 3x^2 + h^2 exactly (up to rounding).
    for h in (1e-2, 1e-3):
        np.testing.assert_allclose(
            regression.numerical_gradient(cube, W, h), 3 * W**2 + h**2, rtol=1e-9
        )
    with pytest.raises(ValueError, match="h must be"):
        regression.numerical_gradient(cube, W, 0.0)
    with pytest.raises(TypeError, match="f must be a function"):
        regression.numerical_gradient(3.0, W)


def test_numerical_gradient_agrees_with_softmax_loss():
    W, X, y = problem(9, 4, 3, seed=3)
    numeric = regression.numerical_gradient(lambda w: regression.softmax_loss(w, X, y, 0.1)[0], W)
    assert regression.relative_error(numeric, regression.softmax_loss(W, X, y, 0.1)[1]) < 1e-7


def test_relative_error():
    assert regression.relative_error([1.0, 0.0], [1.0, 0.0]) == 0.0
    assert regression.relative_error([1.0], [3.0]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="same shape"):
        regression.relative_error([1.0], [1.0, 2.0])


def test_accuracy():
    W = np.eye(2)
    X = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0]])
    assert regression.accuracy(W, X, np.array([0, 1, 1])) == pytest.approx(2 / 3)


def blobs(seed=0, n=300, c=3, d=4):
    rng = np.random.default_rng(seed)
    centres = 3 * rng.standard_normal((c, d))
    y = rng.integers(0, c, size=n)
    return np.hstack([centres[y] + rng.standard_normal((n, d)), np.ones((n, 1))]), y


def test_training_is_seeded_and_learns():
    X, y = blobs()
    W1, history1 = regression.train_softmax(X, y, 0.1, 1e-3, 10, 32, seed=4)
    W2, history2 = regression.train_softmax(X, y, 0.1, 1e-3, 10, 32, seed=4)
    np.testing.assert_array_equal(W1, W2)
    assert history1 == history2
    assert len(history1) == 10 * int(np.ceil(300 / 32))
    assert history1[0] == pytest.approx(np.log(3), rel=0.02)  # small weights: about log C
    assert np.mean(history1[-10:]) < 0.5 * history1[0]
    assert regression.accuracy(W1, X, y) > 0.9
    W3, _ = regression.train_softmax(X, y, 0.1, 1e-3, 10, 32, seed=5)
    assert not np.array_equal(W1, W3)


def test_training_keeps_the_weights_of_every_epoch():
    X, y = blobs(1)
    W, history, weights = regression.train_softmax(
        X, y, 0.1, 0.0, 3, 100, seed=0, keep_weights=True
    )
    assert len(weights) == 4 and len(history) == 9
    np.testing.assert_array_equal(weights[-1], W)
    np.testing.assert_array_equal(
        weights[0], regression.init_weights(5, 3, np.random.default_rng(0))
    )
    W_two, _ = regression.train_softmax(X, y, 0.1, 0.0, 2, 100, seed=0)
    np.testing.assert_array_equal(weights[2], W_two)  # epoch k of a long run = a run of k epochs


def test_training_validates_its_arguments():
    X, y = blobs()
    with pytest.raises(ValueError, match="lr must be"):
        regression.train_softmax(X, y, 0.0, 0.0, 1, 10, 0)
    with pytest.raises(TypeError, match="lr must be a real number, got 'fast'"):
        regression.train_softmax(X, y, "fast", 0.0, 1, 10, 0)
    with pytest.raises(ValueError, match="epochs must be"):
        regression.train_softmax(X, y, 0.1, 0.0, 0, 10, 0)
    with pytest.raises(TypeError, match="batch_size must be an integer"):
        regression.train_softmax(X, y, 0.1, 0.0, 1, 2.5, 0)
    with pytest.raises(ValueError, match=r"y must be class ids in \[0, 2\) for 2 classes, got 2"):
        regression.train_softmax(X, y, 0.1, 0.0, 1, 10, 0, num_classes=2)
    with pytest.raises(ValueError, match="y must be class ids in .* got -1 at index 0"):
        regression.train_softmax(X, np.r_[-1, y[1:]], 0.1, 0.0, 1, 10, 0)


def test_training_takes_num_classes_for_classes_missing_from_y():
    X, y = blobs()
    W, _ = regression.train_softmax(X, y, 0.1, 0.0, 1, 100, 0, num_classes=5)
    assert W.shape == (5, 5)
    assert regression.train_softmax(X, y, 0.1, 0.0, 1, 100, 0)[0].shape == (5, 3)


def test_search_returns_the_best_pair_of_the_grid():
    X, y = blobs(2)
    lrs, regs = [1e-4, 0.1], [0.0, 10.0]
    best_lr, best_reg, grid = regression.search_hyperparameters(
        X[:200], y[:200], X[200:], y[200:], lrs, regs, epochs=5, batch_size=32
    )
    assert grid.shape == (2, 2)
    assert (best_lr, best_reg) == (0.1, 0.0)
    assert grid[1, 0] == grid.max()
    W, _ = regression.train_softmax(X[:200], y[:200], 0.1, 0.0, 5, 32, 0)
    assert grid[1, 0] == regression.accuracy(W, X[200:], y[200:])


def test_digits_problem_splits_the_training_rows_and_keeps_the_test_rows():
    from lab_utils.datasets import digits_split

    problem, digits = regression.digits_problem(0), digits_split(0.25, 0)
    assert problem.X_train.shape == (1010, 65) and problem.X_val.shape == (337, 65)
    np.testing.assert_array_equal(problem.X_train[:, -1], 1.0)
    np.testing.assert_array_equal(problem.X_test[:, :-1], digits.X_test)
    np.testing.assert_array_equal(problem.y_test, digits.y_test)
    # Training and validation rows together are digits_split's training rows, each once.
    both = np.vstack([problem.X_train, problem.X_val])[:, :-1]
    assert sorted(map(bytes, both.astype(np.float32))) == sorted(map(bytes, digits.X_train))
    np.testing.assert_array_equal(problem.images_val.reshape(337, 64), problem.X_val[:, :-1])
    assert set(np.bincount(problem.y_val)) <= {33, 34, 35}  # stratified: every class
