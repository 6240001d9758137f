"""Keras model builders and a quiet training helper for the lab.

TensorFlow is imported inside the functions (through :func:`lab_utils.environment.import_tensorflow`),
never when this module is imported: ``import lab_utils.models`` costs milliseconds, a first model
costs the seconds TensorFlow needs to load.

The two reference models of notebook 04 differ only in their last layer and their loss:

- :func:`build_obvious_model`: ``Dense(num_classes, activation="softmax")`` and
  ``SparseCategoricalCrossentropy()`` (the loss receives probabilities);
- :func:`build_reference_preferred_model`: a linear ``Dense(num_classes)`` and
  ``SparseCategoricalCrossentropy(from_logits=True)`` (the loss receives logits).

(the students once wrote ``build_preferred_model`` in notebook 04, hence the longer name here.)

The number of classes is ``num_classes`` here as everywhere in the lab.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from .environment import import_tensorflow
from .validation import as_class_ids, as_float_array, as_int, as_positive, as_real, check_finite

if TYPE_CHECKING:  # for the annotations only: TensorFlow is imported lazily, inside functions
    import keras

__all__ = [
    "build_obvious_model",
    "build_reference_preferred_model",
    "build_small_cnn",
    "build_softmax_regression",
    "decision_grid",
    "fit_compact",
    "loss_and_gradient",
    "set_seed",
    "train_full_batch",
]


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow's ops deterministic.

    Call it right before building a model: weights, dropout and shuffling then repeat exactly,
    so a re-run prints the same losses.

    Parameters
    ----------
    seed : int
        A non-negative integer.

    Raises
    ------
    TypeError, ValueError
        If ``seed`` is not a non-negative integer.
    """
    seed = as_int(seed, "seed", minimum=0)
    tf = import_tensorflow()
    tf.keras.utils.set_random_seed(seed)
    # Without this, some kernels (e.g. reductions on a GPU) may add numbers in a different order
    # on each run, and the fourth decimal of a loss changes.
    tf.config.experimental.enable_op_determinism()


def _dense_classifier(
    name: str,
    output_activation: str | None,
    from_logits: bool,
    n_features: int,
    num_classes: int,
    hidden_units: Sequence[int],
    learning_rate: float,
):
    n_features = as_int(n_features, "n_features", minimum=1)
    num_classes = as_int(num_classes, "num_classes", minimum=2)
    if isinstance(hidden_units, (str, bytes)) or not isinstance(hidden_units, Sequence):
        raise TypeError(f"hidden_units must be a sequence of layer sizes, got {hidden_units!r}")
    hidden_units = [
        as_int(units, "each entry of hidden_units", minimum=1) for units in hidden_units
    ]
    learning_rate = as_positive(learning_rate, "learning_rate")

    tf = import_tensorflow()
    keras = tf.keras
    layers = [keras.Input(shape=(n_features,), name="features")]
    for i, units in enumerate(hidden_units, start=1):
        layers.append(keras.layers.Dense(units, activation="relu", name=f"hidden_{i}"))
    layers.append(keras.layers.Dense(num_classes, activation=output_activation, name="output"))
    model = keras.Sequential(layers, name=name)
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
        optimizer=keras.optimizers.Adam(learning_rate),
    )
    return model


def build_obvious_model(
    n_features: int = 2,
    num_classes: int = 4,
    hidden_units: Sequence[int] = (25, 15),
    learning_rate: float = 0.001,
) -> keras.Model:
    """The "obvious" classifier: softmax in the last layer, the loss gets probabilities.

    ``Dense(25, relu) -> Dense(15, relu) -> Dense(num_classes, softmax)``, compiled with
    ``SparseCategoricalCrossentropy()`` and ``Adam(learning_rate)``.

    Parameters
    ----------
    n_features : int, default 2
        Number of input features.
    num_classes : int, default 4
        Number of classes (units of the last layer), at least 2.
    hidden_units : sequence of int, default (25, 15)
        Sizes of the ReLU hidden layers.
    learning_rate : float, default 0.001
        Adam's learning rate.

    Returns
    -------
    keras.Sequential
        A compiled model named ``"obvious"`` whose outputs are probabilities.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or is out of range.
    """
    return _dense_classifier(
        "obvious", "softmax", False, n_features, num_classes, hidden_units, learning_rate
    )


def seeded_preferred_model(seed: int = 0) -> keras.Model:
    """:func:`build_reference_preferred_model` built right after :func:`set_seed` ``(seed)``.

    The ``train_with_tape`` exercise of notebook 04 hands this model to the student's training loop
    and to Keras' own ``train_on_batch``: seeding inside the builder gives both the same starting
    weights, whichever process builds it and whenever.
    """
    set_seed(seed)
    return build_reference_preferred_model()


def build_reference_preferred_model(
    n_features: int = 2,
    num_classes: int = 4,
    hidden_units: Sequence[int] = (25, 15),
    learning_rate: float = 0.001,
) -> keras.Model:
    """The "preferred" classifier: a linear last layer, the loss gets logits.

    Same layers as :func:`build_obvious_model` except ``Dense(num_classes)`` without activation,
    compiled with ``SparseCategoricalCrossentropy(from_logits=True)`` and ``Adam(learning_rate)``.
    :func:`seeded_preferred_model` hands it to the ``train_with_tape`` exercise of notebook 04.

    Parameters
    ----------
    n_features, num_classes, hidden_units, learning_rate
        As in :func:`build_obvious_model`.

    Returns
    -------
    keras.Sequential
        A compiled model named ``"preferred"`` whose outputs are logits.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or is out of range.
    """
    return _dense_classifier(
        "preferred", None, True, n_features, num_classes, hidden_units, learning_rate
    )


def build_softmax_regression(
    n_features: int, num_classes: int, learning_rate: float = 0.01
) -> keras.Model:
    """Softmax regression: one linear layer of logits, trained from logits.

    Parameters
    ----------
    n_features : int
        Number of input features.
    num_classes : int
        Number of classes, at least 2.
    learning_rate : float, default 0.01
        Adam's learning rate.

    Returns
    -------
    keras.Sequential
        A compiled model named ``"softmax_regression"``; its one layer, ``"logits"``, outputs logits.
    """
    n_features = as_int(n_features, "n_features", minimum=1)
    num_classes = as_int(num_classes, "num_classes", minimum=2)
    learning_rate = as_positive(learning_rate, "learning_rate")
    tf = import_tensorflow()
    keras = tf.keras
    model = keras.Sequential(
        [
            keras.Input(shape=(n_features,), name="features"),
            keras.layers.Dense(num_classes, name="logits"),
        ],
        name="softmax_regression",
    )
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        optimizer=keras.optimizers.Adam(learning_rate),
    )
    return model


def build_small_cnn(
    input_shape: Sequence[int] = (8, 8, 1),
    num_classes: int = 10,
    filters: int = 16,
    learning_rate: float = 0.003,
) -> keras.Model:
    """A small convolutional classifier for 8x8 digits, trained from logits.

    ``Conv2D(filters, 3x3, same, relu)`` named ``"features"`` (its maps are what a spatial softmax
    looks at), then ``MaxPooling2D(2)``, ``Flatten`` and a linear ``Dense(num_classes)`` named
    ``"logits"``.

    Parameters
    ----------
    input_shape : sequence of 3 ints, default (8, 8, 1)
        Height, width and channels of an image.
    num_classes : int, default 10
        Number of classes, at least 2.
    filters : int, default 16
        Number of feature maps of the ``"features"`` layer.
    learning_rate : float, default 0.003
        Adam's learning rate.

    Returns
    -------
    keras.Sequential
        A compiled model named ``"small_cnn"`` whose outputs are logits.
    """
    if (
        isinstance(input_shape, (str, bytes))
        or not isinstance(input_shape, Sequence)
        or len(input_shape) != 3
    ):
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape!r}")
    input_shape = tuple(as_int(n, "each entry of input_shape", minimum=1) for n in input_shape)
    num_classes = as_int(num_classes, "num_classes", minimum=2)
    filters = as_int(filters, "filters", minimum=1)
    learning_rate = as_positive(learning_rate, "learning_rate")
    tf = import_tensorflow()
    keras = tf.keras
    model = keras.Sequential(
        [
            keras.Input(shape=input_shape, name="image"),
            keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name="features"),
            keras.layers.MaxPooling2D(2, name="pool"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(num_classes, name="logits"),
        ],
        name="small_cnn",
    )
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        optimizer=keras.optimizers.Adam(learning_rate),
    )
    return model


def _live_display():
    """Return an IPython display function if running in a Jupyter kernel, else None."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of the lab
        return None
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return None
    from IPython.display import display

    return display


def _format_loss(value: float) -> str:
    return f"{value:.4f}" if math.isfinite(value) else str(value)


def fit_compact(
    model: keras.Model,
    X: ArrayLike,
    y: ArrayLike,
    epochs: int = 10,
    batch_size: int = 32,
    label: str | None = None,
    **fit_kwargs: Any,
) -> keras.callbacks.History:
    """Train ``model`` quietly: one live progress line while it runs, one summary line at the end.

    Keras' own progress text is turned off (``verbose=0``). In Jupyter a single line (a progress bar
    and the latest loss) updates in place during training and is blanked at the end; then one line
    is printed, e.g. ``obvious model: 10 epochs, loss 0.8123 -> 0.0412``. The printed line contains
    only the first and last epoch's loss (four decimals), so a seeded re-run prints the same text.

    Parameters
    ----------
    model : keras.Model
        A compiled model.
    X, y : array-like
        Inputs and targets, the same number of rows.
    epochs : int, default 10
        Number of passes over the data.
    batch_size : int, default 32
        Examples per gradient step.
    label : str, optional
        Name in the printed line; defaults to ``model.name``.
    **fit_kwargs
        Passed on to ``model.fit`` (not ``verbose``, ``epochs`` or ``batch_size``).

    Returns
    -------
    keras.callbacks.History
        ``history.history["loss"]`` holds one loss per epoch.

    Raises
    ------
    TypeError, ValueError
        If the model is not compiled, ``epochs``/``batch_size`` are not positive integers, or ``X``
        and ``y`` have different numbers of rows.
    """
    if not hasattr(model, "fit") or not hasattr(model, "compile"):
        raise TypeError(f"model must be a Keras model, got {type(model).__name__}")
    if not getattr(model, "compiled", True) or getattr(model, "optimizer", None) is None:
        raise ValueError(
            "model must be compiled first: call model.compile(loss=..., optimizer=...)"
        )
    epochs = as_int(epochs, "epochs", minimum=1)
    batch_size = as_int(batch_size, "batch_size", minimum=1)
    if "verbose" in fit_kwargs:
        raise TypeError("fit_compact is always quiet; do not pass verbose")
    n_x, n_y = len(X), len(y)
    if n_x != n_y:
        raise ValueError(f"X and y must have the same number of rows, got {n_x} and {n_y}")
    label = model.name if label is None else str(label)

    tf = import_tensorflow()
    display = _live_display()
    callbacks = list(fit_kwargs.pop("callbacks", []) or [])
    handle = None
    if display is not None:
        # A display that is updated in place; it ends blank, exactly as it started, so the saved
        # notebook and a re-run (nbval ignores display updates) hold the same output.
        handle = display({"text/plain": ""}, raw=True, display_id=True)
        callbacks.append(_LiveLine(tf, handle, label, epochs))
    try:
        history = model.fit(
            X, y, epochs=epochs, batch_size=batch_size, verbose=0, callbacks=callbacks, **fit_kwargs
        )
    finally:
        if handle is not None:
            handle.update({"text/plain": ""}, raw=True)
    losses = [float(v) for v in history.history.get("loss", [])]
    if losses:
        print(
            f"{label}: {len(losses)} epochs, loss {_format_loss(losses[0])} -> "
            f"{_format_loss(losses[-1])}"
        )
    return history


def _LiveLine(tf, handle, label: str, epochs: int):
    """A Keras callback that rewrites one display line per epoch: a bar and the latest loss."""

    class LiveLine(tf.keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            done = epoch + 1
            loss = (logs or {}).get("loss", float("nan"))
            text = f"{label}: epoch {done}/{epochs}, loss {_format_loss(float(loss))}"
            html = (
                f'<progress value="{done}" max="{epochs}" style="width: 12em"></progress> '
                f"<code>{text}</code>"
            )
            handle.update({"text/plain": text, "text/html": html}, raw=True)

    return LiveLine()


def loss_and_gradient(
    logits: ArrayLike, labels: ArrayLike, from_logits: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Per-example Keras sparse cross-entropy and its gradient with respect to the logits.

    With ``from_logits=False`` the loss is given ``tf.nn.softmax(logits)``: probabilities as a
    plain tensor, which the loss clips to ``[epsilon, 1 - epsilon]`` before taking the log. With
    ``from_logits=True`` it is given the logits themselves.

    Parameters
    ----------
    logits : array-like of shape (n, num_classes)
        Float logits (computed in float32, as in a Keras model).
    labels : array-like of shape (n,)
        Integer class ids.
    from_logits : bool
        Where the loss is computed (see above).

    Returns
    -------
    loss : ndarray of shape (n,)
        ``keras.losses.sparse_categorical_crossentropy`` per example.
    gradient : ndarray of shape (n, num_classes)
        d loss_i / d logits_i for each example.

    Examples
    --------
    >>> loss, grad = loss_and_gradient([[20.0, 0.0, -5.0]], [2], from_logits=False)
    >>> round(float(loss[0]), 4), bool((grad == 0).all())
    (16.1181, True)
    >>> loss, grad = loss_and_gradient([[20.0, 0.0, -5.0]], [2], from_logits=True)
    >>> round(float(loss[0]), 4), grad.round(4).tolist()
    (25.0, [[1.0, 0.0, -1.0]])
    """
    logits = as_float_array(logits, "logits").astype(np.float32)
    if logits.ndim != 2 or logits.shape[1] < 2:
        raise ValueError(
            f"logits must have shape (n, num_classes) with num_classes >= 2, got {logits.shape}"
        )
    check_finite(logits, "logits", logits=True)
    labels = as_class_ids(labels, logits.shape[1], "labels", shape=logits.shape[:1])
    tf = import_tensorflow()
    z = tf.constant(logits)
    with tf.GradientTape() as tape:
        tape.watch(z)
        scores = z if from_logits else tf.nn.softmax(z)
        loss = tf.keras.losses.sparse_categorical_crossentropy(
            tf.constant(labels.astype(np.int64)), scores, from_logits=bool(from_logits)
        )
        # Each loss depends only on its own row: the gradient of the sum holds every row's gradient.
        total = tf.reduce_sum(loss)
    gradient = tape.gradient(total, z)
    return loss.numpy(), gradient.numpy()


def train_full_batch(
    model: keras.Model, X: ArrayLike, y: ArrayLike, steps: int = 150, keras_rescue: bool = True
) -> dict:
    """Train with the model's own compiled loss and optimizer on the whole data set per step.

    Each step computes the loss on all of ``X``, takes one optimizer step, and records what the
    optimizer saw. Used by notebook 04 to compare where the loss is computed.

    Keras 3 on TensorFlow attaches the logits to the output tensor of its softmax activation, and
    ``SparseCategoricalCrossentropy()`` quietly uses them when it is given that very tensor (the
    "rescue"). With ``keras_rescue=False`` the outputs go through ``tf.identity`` first, so the loss
    sees only their values: probabilities are then clipped to ``[epsilon, 1 - epsilon]`` as the
    loss documents, which is what any other route to the probabilities gets.

    Parameters
    ----------
    model : keras.Model
        A compiled model whose compiled loss is a (Sparse)CategoricalCrossentropy object.
    X, y : array-like
        Inputs of shape (n, ...) and integer labels of shape (n,).
    steps : int, default 150
        Number of optimizer steps.
    keras_rescue : bool, default True
        Give the loss the output tensor itself (True) or only its values (False).

    Returns
    -------
    dict of ndarray, each of shape (steps,)
        ``"loss"``: the loss the optimizer minimised at each step, ``"accuracy"``: share of
        correct argmax predictions, ``"confidently_wrong"``: share of examples whose probability
        for the true class is below ``keras.config.epsilon()`` (their clipped loss has zero
        gradient). All measured on the outputs before that step's update.
    """
    if not hasattr(model, "optimizer") or getattr(model, "optimizer", None) is None:
        raise ValueError(
            "model must be compiled first: call model.compile(loss=..., optimizer=...)"
        )
    loss_fn = getattr(model, "loss", None)
    if not hasattr(loss_fn, "get_config"):
        raise ValueError(
            "model must be compiled with a Keras loss object, e.g. "
            "SparseCategoricalCrossentropy(from_logits=True)"
        )
    steps = as_int(steps, "steps", minimum=1)
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same number of rows, got {len(X)} and {len(y)}")

    tf = import_tensorflow()
    inputs = tf.constant(X)
    labels = tf.constant(y.astype(np.int64))
    from_logits = bool(loss_fn.get_config().get("from_logits", False))
    epsilon = tf.keras.config.epsilon()
    optimizer = model.optimizer
    optimizer.build(model.trainable_variables)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            outputs = model(inputs, training=True)
            loss = loss_fn(labels, outputs if keras_rescue else tf.identity(outputs))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        probs = tf.nn.softmax(outputs) if from_logits else outputs
        p_true = tf.gather(probs, labels, axis=1, batch_dims=1)
        correct = tf.equal(tf.argmax(outputs, axis=1), labels)
        return (
            loss,
            tf.reduce_mean(tf.cast(correct, tf.float32)),
            tf.reduce_mean(tf.cast(p_true < epsilon, tf.float32)),
        )

    record = np.array([[float(v) for v in step()] for _ in range(steps)])
    return {"loss": record[:, 0], "accuracy": record[:, 1], "confidently_wrong": record[:, 2]}


def decision_grid(
    predict: Callable[[np.ndarray], ArrayLike] | keras.Model,
    X: ArrayLike,
    resolution: int = 200,
    margin: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Evaluate a classifier on a regular grid that covers the 2-D points ``X``.

    Parameters
    ----------
    predict : callable or keras.Model
        Maps an (n, 2) float32 array to scores of shape (n, num_classes) (probabilities or logits:
        only the argmax is used). A Keras model is called directly, without ``predict``'s batching.
    X : array-like of shape (n, 2)
        The data the grid must cover.
    resolution : int, default 200
        Grid points along each axis.
    margin : float, default 1.0
        Extra room around the data on every side, in data units.

    Returns
    -------
    xx, yy : ndarray of shape (resolution, resolution)
        Grid coordinates (as from ``np.meshgrid``).
    classes : ndarray of shape (resolution, resolution), int
        The predicted class at each grid point.
    """
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (n, 2), got {X.shape}")
    resolution = as_int(resolution, "resolution", minimum=2)
    margin = as_real(margin, "margin", low=0)
    if not callable(predict):
        raise TypeError(f"predict must be a model or a function, got {type(predict).__name__}")
    lo = X.min(axis=0) - margin
    hi = X.max(axis=0) + margin
    xx, yy = np.meshgrid(
        np.linspace(lo[0], hi[0], resolution, dtype=np.float32),
        np.linspace(lo[1], hi[1], resolution, dtype=np.float32),
    )
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    scores = np.asarray(predict(grid))
    if scores.ndim != 2 or scores.shape[0] != grid.shape[0]:
        raise ValueError(
            f"predict must return one row of scores per point, got shape {scores.shape}"
        )
    return xx, yy, scores.argmax(axis=1).reshape(xx.shape)
