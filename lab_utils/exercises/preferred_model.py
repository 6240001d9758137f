"""Notebook 04's exercise: ``build_preferred_model()``, a Keras model that outputs logits.

The returned model is not plain data, so the case asks a *describer* (lab_utils.runner) to turn it
into plain data where the student's code runs: its last layer and loss settings, or its outputs on
held-out points after a short seeded training. The judge here decides from those facts alone.
"""

from __future__ import annotations

import numpy as np

from .base import Case, Exercise, Part, Result, failure, show

#: Training budget of the ``trains`` part, and the held-out accuracy it must reach. The preferred
#: model reaches about 0.98; the same model compiled without from_logits=True stays near 0.7.
TRAIN_EPOCHS = 5
TRAIN_BATCH_SIZE = 32
MIN_ACCURACY = 0.9

PARTS = (
    Part("output_layer", 1, False, "the last layer outputs 4 logits (linear activation)", timeout=120.0),
    Part("loss", 1, False, "compiled with SparseCategoricalCrossentropy(from_logits=True)", timeout=120.0),
    Part("trains", 1, True, "a short seeded training, as compiled, learns the blobs", timeout=300.0),
)


def blob_split():
    """The lab's four blobs (lab_utils.datasets, 2000 points, seed 0): 1500 to train, 500 held out."""
    from ..datasets import make_blob_data

    features, labels = make_blob_data(n_samples=2000, seed=0)
    return features[:1500], labels[:1500], features[1500:], labels[1500:]


def _held_out_labels():
    return blob_split()[3]


def build_cases() -> dict[str, tuple[Case, ...]]:
    sample = np.zeros((1, 2), dtype=np.float32)
    x_train, y_train, x_test, _ = blob_split()
    describe = Case((), describe="keras_model", extra=(("sample", sample),), seed=0)
    trains = Case((), reference=_held_out_labels, describe="keras_training", seed=0,
                  extra=(("x_train", x_train), ("y_train", y_train), ("x_test", x_test),
                         ("epochs", TRAIN_EPOCHS), ("batch_size", TRAIN_BATCH_SIZE)))
    return {"output_layer": (describe,), "loss": (describe,), "trains": (trains,)}


def _not_a_model(part: Part, case: Case, info) -> object:
    returned = show(info.get("text")) if isinstance(info, dict) else show(info)
    return failure(part, case, "return the compiled model.",
                   f"build_preferred_model() returned {returned}, not a Keras model", expected=None)


def _output_layer(part: Part, case: Case, info: dict):
    if "call_error" in info:
        return failure(part, case, "start with keras.Input(shape=(2,)).",
                       f"the model cannot take a batch of 2 features: {info['call_error']}", expected=None)
    outputs = np.asarray(info.get("outputs"))
    if outputs.shape != (1, 4):
        return failure(part, case, "end with keras.layers.Dense(4): one output per class.",
                       f"the model outputs shape {outputs.shape[1:]} per example; expected (4,), one logit "
                       "per class", expected=None)
    activation = info.get("activation")
    if info.get("last_is_activation_layer") or (activation is not None and activation != "linear"):
        what = activation or info.get("last_layer")
        return failure(part, case, "end with keras.layers.Dense(4) and no activation; the loss applies softmax itself.",
                       f"the last layer ({info.get('last_layer')}) applies '{what}': the model outputs "
                       "probabilities, not logits", expected=None)
    return None


def _loss(part: Part, case: Case, info: dict):
    hint = "compile with loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)."
    if not info.get("compiled"):
        return failure(part, case, "call model.compile(optimizer=..., loss=...) before returning it; " + hint,
                       "the model is not compiled", expected=None)
    name = info.get("loss_name")
    if name not in ("sparse_categorical_crossentropy", "SparseCategoricalCrossentropy"):
        return failure(part, case, "the labels are integer class ids: " + hint,
                       f"the loss is {show(name)}, not sparse categorical cross-entropy", expected=None)
    if not info.get("from_logits"):
        return failure(part, case, hint, "the loss expects probabilities (from_logits is False) but the model "
                       "should output logits", expected=None)
    return None


def _trains(part: Part, case: Case, info: dict):
    if "train_error" in info:
        return failure(part, case, "check the model runs on 2 features and is compiled with a loss for integer labels.",
                       f"training failed: {info['train_error']}", expected=None)
    outputs = np.asarray(info.get("outputs"), dtype=np.float64)
    if outputs.ndim != 2 or not np.all(np.isfinite(outputs)) or outputs.shape[0] != len(case.expected):
        return failure(part, case, "compile with loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True).",
                       "after training the model's outputs are not finite numbers, one row per point", expected=None)
    accuracy = float(np.mean(outputs.argmax(axis=-1) == case.expected))
    if accuracy >= MIN_ACCURACY:
        return None
    return failure(part, case, "a linear last layer with SparseCategoricalCrossentropy(from_logits=True) and "
                   "Adam(0.001) learns the blobs.",
                   f"after {TRAIN_EPOCHS} epochs on the blobs the held-out accuracy is {accuracy:.2f}; "
                   f"expected at least {MIN_ACCURACY:.2f}", expected=None)


def check(exercise: Exercise, part: Part, case: Case, result: Result):
    info = result.value
    if not isinstance(info, dict) or not info.get("is_model"):
        return _not_a_model(part, case, info)
    judge = {"output_layer": _output_layer, "loss": _loss, "trains": _trains}[part.name]
    return judge(part, case, info)


EXERCISE = Exercise("build_preferred_model", "build_preferred_model()", PARTS, build_cases, check, numpy_only=False)
