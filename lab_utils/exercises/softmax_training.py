"""Notebook 05's training exercises: ``train_softmax`` and ``search_hyperparameters``, graded by outcome.

``train_softmax(X, y, lr, reg, epochs, batch_size, seed) -> (W, loss_history)`` is the student's
minibatch SGD; ``search_hyperparameters(...)`` their search over learning rate and regularisation
on a validation split. Both are graded by what they achieve: validation accuracy against a
threshold set from the reference trainer (:func:`lab_utils.regression.train_softmax`, run in the
trusted process only), the loss going down, weights kept small by a strong ``reg``; never by
matching one particular random order. The loss exercises of the same notebook are in
:mod:`lab_utils.exercises.softmax_regression`.

Examples
--------
>>> [part.name for part in TRAIN_SOFTMAX.parts]
['learns', 'loss_decreases', 'other_data']
"""

from __future__ import annotations

import numpy as np

from .. import regression
from .base import Case, Exercise, Failure, Part, Result, as_numbers, failure, rejected, show

__all__ = ["EXERCISES"]


def _f64(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


# --------------------------------------------------------------------------------------------------
# train_softmax and search_hyperparameters: graded by outcome


#: How far below the reference trainer's validation accuracy a student's may land (other random
#: orders and starts give a spread of about a percent on these problems).
ACCURACY_MARGIN = 0.03


def digits_problem(seed: int = 0):
    """The notebook's digits as ``(X_train, y_train, X_val, y_val, X_test, y_test)``, bias column included."""
    d = regression.digits_problem(seed)
    return d.X_train, d.y_train, d.X_val, d.y_val, d.X_test, d.y_test


def _blobs_problem(num_classes: int, n_features: int, seed: int):
    rng = np.random.default_rng(seed)
    centres = 3.0 * rng.standard_normal((num_classes, n_features))
    y = rng.integers(0, num_classes, size=240)
    X = centres[y] + rng.standard_normal((240, n_features))
    X = np.hstack([X, np.ones((240, 1))])
    return X[:160], y[:160], X[160:], y[160:]


def _train_case(X, y, X_val, y_val, lr, reg, epochs, batch_size, seed, note) -> Case:
    def reference(X, y, lr, reg, epochs, batch_size, seed):
        W, history = regression.train_softmax(X, y, lr, reg, epochs, batch_size, seed)
        # The held-out rows travel with the expected answer: trusted side only, never to the student.
        return {
            "accuracy": regression.accuracy(W, X_val, y_val),
            "X_val": X_val,
            "y_val": y_val,
            "objective": regression.softmax_loss(W, X, y, reg)[0],
            "steps": len(history),
        }

    return Case(
        (
            ("X", _f64(X)),
            ("y", np.asarray(y, dtype=np.int64)),
            ("lr", float(lr)),
            ("reg", float(reg)),
            ("epochs", int(epochs)),
            ("batch_size", int(batch_size)),
            ("seed", int(seed)),
        ),
        reference=reference,
        note=note,
    )


def build_train_cases() -> dict[str, tuple[Case, ...]]:
    X_train, y_train, X_val, y_val, _, _ = digits_problem()
    digits = _train_case(
        X_train,
        y_train,
        X_val,
        y_val,
        0.5,
        1e-3,
        15,
        64,
        0,
        "the notebook's digits, lr = 0.5, reg = 1e-3, 15 epochs",
    )
    slower = _train_case(
        X_train,
        y_train,
        X_val,
        y_val,
        0.1,
        0.0,
        10,
        32,
        4,
        "the notebook's digits, lr = 0.1, batch_size 32, 10 epochs",
    )
    small = _blobs_problem(3, 5, seed=6)
    pair = _blobs_problem(2, 3, seed=7)
    return {
        "learns": (digits, slower),
        "loss_decreases": (digits, slower),
        "other_data": (
            _train_case(
                *small, 0.1, 1e-3, 20, 16, 1, "N = 3 classes, D = 6 features, batch_size 16"
            ),
            _train_case(
                *pair, 0.1, 0.0, 10, 50, 2, "N = 2 classes, D = 4, a last batch of 10 rows"
            ),
            _train_case(
                *small,
                0.1,
                0.5,
                30,
                32,
                3,
                "strong regularisation, reg = 0.5: the weights must stay small",
            ),
        ),
    }


def _trained_weights(part: Part, case: Case, result: Result):
    value = result.value
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        return rejected(
            part,
            case,
            "end with `return W, loss_history`.",
            f"returned {show(value)}, not a pair (W, loss_history)",
            expected=None,
        )
    W, problem = as_numbers(value[0])
    X, y = case.argument("X"), case.argument("y")
    shape = (X.shape[1], int(y.max()) + 1)
    if problem is None and W.shape != shape:
        problem = f"W has shape {W.shape}, expected {shape} (D features, N = y.max() + 1 classes)"
    if problem is None and not np.all(np.isfinite(W)):
        problem = "W holds inf or NaN: the training diverged"
    if problem is not None:
        return rejected(
            part,
            case,
            "start from small random weights of shape (D, N) and step W -= lr * dW.",
            problem,
            expected=None,
        )
    history, problem = as_numbers(value[1])
    if problem is None and history.ndim != 1:
        problem = f"loss_history has shape {history.shape}, expected a flat list of numbers"
    if problem is not None:
        return rejected(
            part,
            case,
            "append each step's loss to a list and return it.",
            problem,
            expected=None,
        )
    return W, history, None


# Budget: 60 lines; the rubric of train_softmax (the weights it returned, one finite loss per step
# and falling, validation accuracy, the objective under a strong reg) in the order of its feedback.
def check_train(exercise: Exercise, part: Part, case: Case, result: Result) -> Failure | None:
    W, history, problem = _trained_weights(part, case, result)
    if problem is not None:
        return problem
    expected = case.expected
    X, y, reg = case.argument("X"), case.argument("y"), case.argument("reg")
    X_val, y_val = expected["X_val"], expected["y_val"]
    epochs = case.argument("epochs")
    if part.name == "loss_decreases":
        steps = expected["steps"]
        if len(history) < epochs or not np.all(np.isfinite(history)):
            return failure(
                part,
                case,
                "record the minibatch loss of every step (one per batch, every "
                "epoch): finite numbers.",
                f"loss_history has {len(history)} entries, finite: "
                f"{bool(np.all(np.isfinite(history)))}; {steps} steps were taken",
                returned=show(history),
                expected=None,
            )
        k = max(1, len(history) // epochs)
        first, last = float(np.mean(history[:k])), float(np.mean(history[-k:]))
        if not last < 0.75 * first:
            return failure(
                part,
                case,
                "the loss should fall: check the sign of the step (W -= lr * dW) "
                "and that every batch is used.",
                f"mean loss of the first epoch's steps {first:.4f}, of the last {last:.4f}",
                returned=show(history),
                expected=None,
            )
        return None
    got = regression.accuracy(W, X_val, y_val)
    needed = expected["accuracy"] - ACCURACY_MARGIN
    if got < needed:
        return failure(
            part,
            case,
            "shuffle every epoch, walk through all the rows in batches of "
            "batch_size, step W -= lr * dW with the gradient of "
            "softmax_loss_vectorized (including its reg term).",
            f"validation accuracy {got:.4f}, at least {needed:.4f} needed "
            f"(the reference reaches {expected['accuracy']:.4f}; {case.note})",
            expected=None,
        )
    if reg >= 0.1:
        objective = regression.softmax_loss(W, X, y, reg)[0]
        limit = expected["objective"] * 1.1 + 0.02
        if objective > limit:
            return failure(
                part,
                case,
                "use reg: the gradient includes 2 * reg * W, which keeps W small.",
                f"training objective (loss + reg * sum(W**2)) {objective:.4f} at the returned W, "
                f"the reference reaches {expected['objective']:.4f} ({case.note})",
                expected=None,
            )
    return None


TRAIN_SOFTMAX = Exercise(
    name="train_softmax",
    signature="train_softmax(X, y, lr, reg, epochs, batch_size, seed)",
    parts=(
        Part(
            "learns",
            1,
            False,
            "on the digits, validation accuracy close to the reference trainer's",
            timeout=60.0,
        ),
        Part(
            "loss_decreases",
            1,
            False,
            "one finite loss per step, falling from the first epoch to the last",
            timeout=60.0,
        ),
        Part(
            "other_data",
            1,
            True,
            "N = 2 and 3 classes, other D and batch sizes, strong reg",
            timeout=60.0,
        ),
    ),
    build_cases=build_train_cases,
    check=check_train,
)


# The notebook's grid: the best pair is interior in lr, and lr = 10 with a penalty diverges.
SEARCH_LEARNING_RATES = (0.01, 0.1, 1.0, 10.0)
SEARCH_REGS = (0.0, 1e-4, 1e-3, 1e-2)
SEARCH_EPOCHS = 20


def build_search_cases() -> dict[str, tuple[Case, ...]]:
    X_train, y_train, X_val, y_val, _, _ = digits_problem()

    def reference(X_train, y_train, X_val, y_val, learning_rates, regs, epochs):
        return regression.search_hyperparameters(
            X_train, y_train, X_val, y_val, learning_rates, regs, epochs, batch_size=64, seed=0
        )

    case = Case(
        (
            ("X_train", X_train),
            ("y_train", np.asarray(y_train, dtype=np.int64)),
            ("X_val", X_val),
            ("y_val", np.asarray(y_val, dtype=np.int64)),
            ("learning_rates", SEARCH_LEARNING_RATES),
            ("regs", SEARCH_REGS),
            ("epochs", SEARCH_EPOCHS),
        ),
        reference=reference,
        note="the notebook's digits, a 4 x 4 grid",
    )
    small = _blobs_problem(3, 5, seed=8)
    other = Case(
        (
            ("X_train", small[0]),
            ("y_train", small[1]),
            ("X_val", small[2]),
            ("y_val", small[3]),
            ("learning_rates", (1e-4, 0.1)),
            ("regs", (0.0, 1e-2, 10.0)),
            ("epochs", 5),
        ),
        reference=reference,
        note="blobs of N = 3 classes, a 2 x 3 grid",
    )
    return {"grid": (case, other), "chosen": (case, other)}


# Budget: 69 lines; the rubric of the search (three values returned, a grid of accuracies of the
# right shape, a pair taken from the grid and its best, the accuracy it reaches) in feedback order.
def check_search(exercise: Exercise, part: Part, case: Case, result: Result) -> Failure | None:
    value = result.value
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        return failure(
            part,
            case,
            "end with `return best_lr, best_reg, val_accuracy`.",
            f"returned {show(value)}, not three values",
            expected=None,
        )
    lrs, regs = case.argument("learning_rates"), case.argument("regs")
    best_lr, best_reg, grid = value
    grid, problem = as_numbers(grid)
    shape = (len(lrs), len(regs))
    if problem is None and grid.shape != shape:
        problem = (
            f"val_accuracy has shape {grid.shape}, expected {shape} (one row per learning rate)"
        )
    if problem is None and not (np.all(np.isfinite(grid)) and np.all((grid >= 0) & (grid <= 1))):
        problem = "val_accuracy must hold accuracies between 0 and 1"
    if problem is not None:
        return failure(
            part,
            case,
            "fill val_accuracy[i, j] with the validation accuracy of the model "
            "trained with learning_rates[i] and regs[j].",
            problem,
            returned=show(value[2]),
            expected=None,
        )
    if best_lr not in lrs or best_reg not in regs:
        return failure(
            part,
            case,
            "return the chosen pair itself, taken from learning_rates and regs.",
            f"best_lr = {show(best_lr)}, best_reg = {show(best_reg)} are not in the grid",
            expected=None,
        )
    i, j = list(lrs).index(best_lr), list(regs).index(best_reg)
    if part.name == "grid":
        if grid[i, j] < grid.max():
            return failure(
                part,
                case,
                "choose the pair with the HIGHEST validation accuracy "
                "(np.unravel_index(np.argmax(val_accuracy), val_accuracy.shape)).",
                f"the chosen pair has validation accuracy {grid[i, j]:.4f}, the best in your "
                f"grid {grid.max():.4f}",
                returned=show(grid),
                expected=None,
            )
        return None
    # chosen: retrain the chosen pair with the reference trainer (trusted), compare with the best.
    X_train, y_train, X_val, y_val, epochs = (
        case.argument(k) for k in ("X_train", "y_train", "X_val", "y_val", "epochs")
    )
    W, _ = regression.train_softmax(X_train, y_train, best_lr, best_reg, epochs, 64, 0)
    got = regression.accuracy(W, X_val, y_val)
    best = float(np.max(case.expected[2]))
    if got < best - ACCURACY_MARGIN:
        return failure(
            part,
            case,
            "train every pair on the training rows and score it on the "
            "validation rows (never the test rows), then keep the best.",
            f"the reference trainer reaches {got:.4f} on validation with lr = {best_lr}, "
            f"reg = {best_reg}; the best pair of the grid reaches {best:.4f}",
            expected=None,
        )
    return None


SEARCH_HYPERPARAMETERS = Exercise(
    name="search_hyperparameters",
    signature="search_hyperparameters(X_train, y_train, X_val, y_val, learning_rates, regs, epochs)",
    parts=(
        Part(
            "grid",
            1,
            False,
            "a validation-accuracy grid of the right shape, and its best pair chosen",
            timeout=120.0,
        ),
        Part(
            "chosen",
            1,
            False,
            "the chosen pair, retrained by the reference, is as good as the grid's best",
            timeout=120.0,
        ),
    ),
    build_cases=build_search_cases,
    check=check_search,
)


EXERCISES = [TRAIN_SOFTMAX, SEARCH_HYPERPARAMETERS]
