"""Tests for lab_utils.models: lazy TensorFlow, builders, quiet training, and the numbers notebook 04
states (the clipping cap, the zero gradient, Keras' softmax rescue, the stall on extreme logits)."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
from scipy.special import logsumexp, softmax

import lab_utils.models as models
from lab_utils.datasets import make_blob_data


# --------------------------------------------------------------------- no TensorFlow needed
def test_importing_models_does_not_import_tensorflow():
    code = (
        "import sys, lab_utils, lab_utils.models; "
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: models.set_seed(-1), ValueError, "seed must be >= 0, got -1"),
        (lambda: models.set_seed(1.0), TypeError, "seed must be an integer"),
        (lambda: models.build_obvious_model(num_classes=1), ValueError, "num_classes must be >= 2"),
        (
            lambda: models.build_reference_preferred_model(n_features=0),
            ValueError,
            "n_features must be >= 1",
        ),
        (
            lambda: models.build_reference_preferred_model(hidden_units=25),
            TypeError,
            "hidden_units must be a sequence",
        ),
        (
            lambda: models.build_obvious_model(hidden_units=(25, 0)),
            ValueError,
            "each entry of hidden_units",
        ),
        (
            lambda: models.build_obvious_model(learning_rate=0),
            ValueError,
            "learning_rate must be > 0",
        ),
        (
            lambda: models.build_obvious_model(learning_rate="fast"),
            TypeError,
            "learning_rate must be a real number",
        ),
        (lambda: models.build_softmax_regression(64, 1), ValueError, "num_classes must be >= 2"),
        (lambda: models.build_small_cnn(input_shape=(8, 8)), ValueError, "input_shape must be"),
        (lambda: models.build_small_cnn(filters=0), ValueError, "filters must be >= 1"),
        (
            lambda: models.decision_grid(lambda g: g, np.zeros((5, 3))),
            ValueError,
            r"X must have shape \(n, 2\)",
        ),
        (
            lambda: models.decision_grid(lambda g: g, np.zeros((5, 2)), resolution=1),
            ValueError,
            "resolution",
        ),
        (lambda: models.decision_grid("model", np.zeros((5, 2))), TypeError, "predict must be"),
        (
            lambda: models.loss_and_gradient([[1.0, 2.0]], [2], True),
            ValueError,
            r"class ids in \[0, 2\) for 2 classes",
        ),
        (
            lambda: models.loss_and_gradient([1.0, 2.0], [0], True),
            ValueError,
            "logits must have shape",
        ),
        (
            lambda: models.loss_and_gradient([[1.0, 2.0]], [0.5], True),
            ValueError,
            "integer class ids",
        ),
    ],
)
def test_bad_arguments_get_a_message_naming_them(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_decision_grid_covers_the_data_and_takes_the_argmax():
    X = np.array([[-1.0, -2.0], [3.0, 1.0]], dtype=np.float32)
    # Class 1 where x0 > 1, else class 0.
    xx, yy, classes = models.decision_grid(
        lambda g: np.column_stack([1 - g[:, 0], g[:, 0] - 1]), X, resolution=11, margin=1.0
    )
    assert xx.shape == yy.shape == classes.shape == (11, 11)
    assert xx.min() == -2.0 and xx.max() == 4.0 and yy.min() == -3.0 and yy.max() == 2.0
    np.testing.assert_array_equal(classes, (xx > 1).astype(int))


def test_decision_grid_rejects_scores_of_the_wrong_shape():
    with pytest.raises(ValueError, match="one row of scores per point"):
        models.decision_grid(lambda g: g[:3], np.zeros((4, 2)), resolution=5)


# ----------------------------------------------------------------------- TensorFlow from here
tensorflow = pytest.mark.tensorflow


@pytest.fixture(scope="module")
def tf():
    return models.import_tensorflow()


@pytest.fixture(scope="module")
def blobs():
    return make_blob_data(n_samples=2000, seed=0)


def _dense_layers(model):
    return [layer for layer in model.layers if layer.__class__.__name__ == "Dense"]


@tensorflow
def test_obvious_and_preferred_differ_only_in_last_activation_and_loss(tf):
    obvious = models.build_obvious_model()
    preferred = models.build_reference_preferred_model()
    for model in (obvious, preferred):
        dense = _dense_layers(model)
        assert [layer.units for layer in dense] == [25, 15, 4]
        assert [layer.activation.__name__ for layer in dense[:2]] == ["relu", "relu"]
        assert model.input_shape == (None, 2)
        assert isinstance(model.optimizer, tf.keras.optimizers.Adam)
        assert float(model.optimizer.learning_rate) == pytest.approx(0.001)
        assert isinstance(model.loss, tf.keras.losses.SparseCategoricalCrossentropy)
    assert _dense_layers(obvious)[-1].activation.__name__ == "softmax"
    assert _dense_layers(preferred)[-1].activation.__name__ == "linear"
    assert obvious.loss.get_config()["from_logits"] is False
    assert preferred.loss.get_config()["from_logits"] is True


@tensorflow
def test_seeded_preferred_model_starts_from_the_same_weights(tf):
    first, second = models.seeded_preferred_model(0), models.seeded_preferred_model(0)
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert first.loss.get_config()["from_logits"] is True


@tensorflow
def test_softmax_regression_and_small_cnn(tf):
    regression = models.build_softmax_regression(64, 10)
    (layer,) = regression.layers
    assert layer.name == "logits" and layer.units == 10 and layer.activation.__name__ == "linear"
    assert regression.loss.get_config()["from_logits"] is True

    cnn = models.build_small_cnn()
    features = cnn.get_layer("features")
    assert features.__class__.__name__ == "Conv2D"
    assert tuple(features.output.shape) == (None, 8, 8, 16)
    assert cnn.output_shape == (None, 10)
    assert cnn.layers[-1].activation.__name__ == "linear"
    assert cnn.loss.get_config()["from_logits"] is True


@tensorflow
def test_fit_compact_prints_one_deterministic_line_and_no_keras_progress(tf, blobs, capfd):
    X, y = blobs
    models.set_seed(0)
    model = models.build_reference_preferred_model()
    capfd.readouterr()
    history = models.fit_compact(model, X[:256], y[:256], epochs=2, label="tiny model")
    out, err = capfd.readouterr()
    losses = history.history["loss"]
    assert len(losses) == 2
    assert out == f"tiny model: 2 epochs, loss {losses[0]:.4f} -> {losses[1]:.4f}\n"
    assert err == ""
    assert not re.search(r"Epoch|step|\x1b|ETA", out)


@tensorflow
def test_fit_compact_live_display_updates_in_place_and_ends_blank(tf, blobs, monkeypatch, capsys):
    calls = []

    class Handle:
        def update(self, data, raw=False):
            calls.append(("update", dict(data)))

    def fake_display(data, raw=False, display_id=False):
        calls.append(("display", dict(data)))
        assert raw and display_id is True
        return Handle()

    monkeypatch.setattr(models, "_live_display", lambda: fake_display)
    X, y = blobs
    models.set_seed(0)
    history = models.fit_compact(
        models.build_reference_preferred_model(), X[:128], y[:128], epochs=3, label="live"
    )
    losses = history.history["loss"]
    assert calls[0] == ("display", {"text/plain": ""})
    epoch_lines = [data["text/plain"] for kind, data in calls[1:-1]]
    assert epoch_lines == [
        f"live: epoch {i + 1}/3, loss {loss:.4f}" for i, loss in enumerate(losses)
    ]
    assert all('<progress value="' in data["text/html"] for _, data in calls[1:-1])
    # It ends exactly as it started, so a saved notebook and nbval's re-run hold the same output.
    assert calls[-1] == ("update", {"text/plain": ""})
    assert capsys.readouterr().out.count("\n") == 1


@tensorflow
def test_fit_compact_rejects_bad_input(tf, blobs):
    X, y = blobs
    model = models.build_reference_preferred_model()
    with pytest.raises(ValueError, match="same number of rows, got 10 and 9"):
        models.fit_compact(model, X[:10], y[:9])
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        models.fit_compact(model, X, y, epochs=0)
    with pytest.raises(TypeError, match="do not pass verbose"):
        models.fit_compact(model, X, y, verbose=1)
    uncompiled = tf.keras.Sequential([tf.keras.Input(shape=(2,)), tf.keras.layers.Dense(4)])
    with pytest.raises(ValueError, match="must be compiled"):
        models.fit_compact(uncompiled, X, y)
    with pytest.raises(TypeError, match="must be a Keras model"):
        models.fit_compact("model", X, y)


@tensorflow
def test_seeded_training_is_reproducible(tf, blobs, capsys):
    X, y = blobs

    def run(seed):
        models.set_seed(seed)
        model = models.build_reference_preferred_model()
        history = models.fit_compact(model, X[:256], y[:256], epochs=2)
        return history.history["loss"], model.get_weights()

    losses_a, weights_a = run(0)
    losses_b, weights_b = run(0)
    losses_c, _ = run(1)
    assert losses_a == losses_b
    for wa, wb in zip(weights_a, weights_b, strict=True):
        np.testing.assert_array_equal(wa, wb)
    assert losses_a != losses_c


# ------------------------------------------------------- the numbers notebook 04 states
@tensorflow
def test_probability_loss_is_capped_at_minus_log_epsilon_with_zero_gradient(tf):
    eps = tf.keras.config.epsilon()
    assert eps == 1e-7
    cap = -np.log(np.float32(eps))
    assert cap == pytest.approx(16.118095, abs=1e-6)
    logits = np.array([[20.0, 0.0, -5.0], [40.0, 0.0, 0.0], [1000.0, 0.0, -1000.0]])
    labels = np.array([2, 2, 2])
    loss, grad = models.loss_and_gradient(logits, labels, from_logits=False)
    np.testing.assert_allclose(loss, cap, rtol=1e-6)
    np.testing.assert_array_equal(grad, 0.0)
    # From logits: the true cross-entropy (SciPy oracle) and its gradient softmax(z) - onehot.
    loss, grad = models.loss_and_gradient(logits, labels, from_logits=True)
    np.testing.assert_allclose(loss, logsumexp(logits, axis=1) - logits[:, 2], rtol=1e-6)
    np.testing.assert_allclose(grad, softmax(logits, axis=1) - np.eye(3)[labels], atol=1e-6)
    assert np.all(np.abs(grad).sum(axis=1) > 1.9)


@tensorflow
def test_probability_loss_agrees_with_logits_while_nothing_is_clipped(tf):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 4))
    labels = rng.integers(0, 4, size=50)
    loss_p, grad_p = models.loss_and_gradient(logits, labels, from_logits=False)
    loss_z, grad_z = models.loss_and_gradient(logits, labels, from_logits=True)
    np.testing.assert_allclose(loss_p, loss_z, rtol=1e-5)
    np.testing.assert_allclose(grad_p, grad_z, atol=1e-5)


@tensorflow
def test_keras_rescues_its_own_softmax_output_but_not_a_copy(tf):
    # Notebook 04, section 5.2: the loss uses the logits hidden on Keras' softmax output tensor.
    keras = tf.keras
    z = tf.constant([[20.0, 0.0, -5.0]])
    label = tf.constant([2])
    loss = keras.losses.SparseCategoricalCrossentropy()
    a = keras.activations.softmax(z)
    assert float(loss(label, a)) == pytest.approx(25.0, abs=1e-5)
    assert float(loss(label, tf.identity(a))) == pytest.approx(16.118095, abs=1e-5)


@tensorflow
def test_obvious_and_preferred_models_train_identically_in_keras_fit(tf, blobs, capsys):
    # Notebook 04, section 5: same seed, same data -> the same loss at every epoch.
    X, y = blobs
    histories = []
    for build in (models.build_obvious_model, models.build_reference_preferred_model):
        models.set_seed(0)
        histories.append(models.fit_compact(build(), X[:512], y[:512], epochs=2).history["loss"])
    assert histories[0] == histories[1]


@tensorflow
def test_extreme_logits_stall_the_probability_loss_but_not_the_logit_loss(tf, blobs):
    # Notebook 04, section 5.3, with the notebook's settings.
    X, y = blobs
    runs = {}
    for name, build, rescue in (
        ("probabilities", models.build_obvious_model, False),
        ("rescued", models.build_obvious_model, True),
        ("logits", models.build_reference_preferred_model, True),
    ):
        models.set_seed(0)
        runs[name] = models.train_full_batch(build(), X * 1000, y, steps=150, keras_rescue=rescue)
    cap = -np.log(np.float32(1e-7))
    assert np.all(runs["probabilities"]["loss"] <= cap + 1e-4)
    assert runs["probabilities"]["confidently_wrong"][0] > 0.5
    assert runs["probabilities"]["confidently_wrong"][-1] > 0.3
    assert runs["probabilities"]["accuracy"][-1] < 0.6
    assert runs["logits"]["loss"][0] > 100
    assert runs["logits"]["accuracy"][-1] > 0.9
    assert runs["logits"]["confidently_wrong"][-1] < 0.05
    for key in runs["logits"]:
        np.testing.assert_array_equal(runs["rescued"][key], runs["logits"][key])


@tensorflow
def test_train_full_batch_needs_a_compiled_model_with_a_loss_object(tf, blobs):
    X, y = blobs
    model = tf.keras.Sequential([tf.keras.Input(shape=(2,)), tf.keras.layers.Dense(4)])
    with pytest.raises(ValueError, match="must be compiled"):
        models.train_full_batch(model, X, y, steps=1)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    with pytest.raises(ValueError, match="Keras loss object"):
        models.train_full_batch(model, X, y, steps=1)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        models.train_full_batch(models.build_obvious_model(), X, y, steps=0)


def test_num_classes_is_the_one_name_for_the_number_of_classes():
    """Issue 16: one name for the number of classes; the old keyword is gone and says so."""
    import inspect

    for builder in (
        models.build_obvious_model,
        models.build_reference_preferred_model,
        models.build_softmax_regression,
        models.build_small_cnn,
    ):
        parameters = inspect.signature(builder).parameters
        assert "num_classes" in parameters and "n_classes" not in parameters, builder.__name__
        args = (64,) if builder is models.build_softmax_regression else ()
        with pytest.raises(ValueError, match="num_classes must be >= 2, got 1"):
            builder(*args, num_classes=1)
        with pytest.raises(TypeError, match="n_classes"):
            builder(*args, n_classes=3)
