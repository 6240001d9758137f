"""Notebook 04's exercise: ``train_with_tape(model, x, y, batch_size)``, a training loop written by hand.

The student writes what ``model.fit`` does for the preferred model: batch by batch, in order, the
logits under ``tf.GradientTape``, the mean sparse cross-entropy *from the logits*, the gradient and one
``model.optimizer`` step, returning the loss of every step. The reference is Keras itself: a fresh copy
of the same seeded model (:func:`lab_utils.models.seeded_preferred_model`), trained on the same batches
with ``train_on_batch`` in the trusted process. So the losses match step for step only if the loss,
its reduction and the update are all the preferred model's; on inputs 1000 times larger (the hidden
part) a loss computed from probabilities is capped at -log(epsilon) and cannot match.

Calling ``fit``, ``train_on_batch`` or ``train_step`` would let Keras do the work: each part first reads
the function's source (never run) for ``tf.GradientTape`` and for those calls.

Examples
--------
>>> [part.name for part in EXERCISE.parts]
['steps', 'last_batch', 'extreme']
>>> source = "def train_with_tape(model, x, y, batch_size): return model.fit(x, y)"
>>> verdict = check(EXERCISE, EXERCISE.part("steps"), SOURCE, Result("ok", source))
>>> verdict.problem                        # read from the source: no model built, nothing run
'train_with_tape calls fit: Keras trains the model, not your loop'
"""

from __future__ import annotations

import ast
import textwrap

import numpy as np

from .base import Case, Exercise, Part, Result, Source, as_numbers, failure, show

NAME = "train_with_tape"
MODEL = Source("__import__('lab_utils.models').models.seeded_preferred_model(0)")
#: Keras calls that would train the model for the student.
KERAS_TRAINING = ("fit", "train_on_batch", "train_step")

PARTS = (
    Part(
        "steps",
        1,
        False,
        "one pass over 600 blob points in batches of 100: the 6 losses of train_on_batch",
        timeout=120.0,
    ),
    Part(
        "last_batch", 1, False, "250 points in batches of 100: a smaller last batch", timeout=120.0
    ),
    Part(
        "extreme",
        1,
        True,
        "inputs 1000 times larger: confidently wrong logits, the loss from logits",
        timeout=120.0,
    ),
)


def _reference(model, x, y, batch_size):
    """Keras' own losses, step by step, on a fresh copy of the seeded preferred model (trusted side)."""
    batch_size = int(batch_size)
    return np.array(
        [
            float(model.train_on_batch(x[i : i + batch_size], y[i : i + batch_size]))
            for i in range(0, len(x), batch_size)
        ]
    )


def _blobs(n: int, scale: float = 1.0):
    from ..datasets import make_blob_data

    x, y = make_blob_data(n_samples=2000, seed=0)
    return (x[:n] * np.float32(scale)).astype(np.float32), y[:n]


def _run(n: int, batch_size: int, scale: float = 1.0, note: str = "") -> Case:
    x, y = _blobs(n, scale)
    return Case(
        (("model", MODEL), ("x", x), ("y", y), ("batch_size", batch_size)),
        _reference,
        rtol=1e-4,
        atol=1e-5,
        note=note,
    )


SOURCE = Case((), kind="source", note="the loop is written with tf.GradientTape")


def build_cases() -> dict[str, tuple[Case, ...]]:
    return {
        "steps": (SOURCE, _run(600, 100)),
        "last_batch": (SOURCE, _run(250, 100, note="the last batch holds 50 points")),
        "extreme": (
            SOURCE,
            _run(300, 100, scale=1000.0, note="inputs x1000: confidently wrong logits"),
        ),
    }


def _source_problem(source: str) -> tuple[str, str] | None:
    """(problem, hint) when the source does not train with a tape, or lets Keras train."""
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return ("the source of train_with_tape does not parse", "run the cell that defines it.")
    names = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    names |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    called = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    used = sorted(called & set(KERAS_TRAINING))
    if used:
        return (
            f"train_with_tape calls {', '.join(used)}: Keras trains the model, not your loop",
            "write the step yourself: with tf.GradientTape() as tape: ..., then tape.gradient and "
            "model.optimizer.apply_gradients.",
        )
    if "GradientTape" not in names:
        return (
            "train_with_tape does not use tf.GradientTape",
            "record the forward pass and the loss under `with tf.GradientTape() as tape:` and take "
            "tape.gradient(loss, model.trainable_variables).",
        )
    return None


def _hint(case: Case, got: np.ndarray) -> str:
    expected = np.asarray(case.expected)
    cap = -np.log(np.float32(1e-7))
    batch_size = int(case.argument("batch_size"))
    if got.shape != expected.shape:
        return (
            f"return one loss per batch, in order: {expected.size} batches of at most {batch_size} "
            "points (x[i:i + batch_size] for i in range(0, len(x), batch_size))."
        )
    if np.all(got <= cap * (1 + 1e-4)) and np.max(expected) > cap:
        return (
            "no loss exceeds -log(1e-7) = 16.1181, the cap of a loss computed from probabilities. "
            "The model outputs logits: use SparseCategoricalCrossentropy(from_logits=True)."
        )
    if np.isclose(
        got[0], expected[0] * min(batch_size, len(np.asarray(case.argument("y")))), rtol=1e-4
    ):
        return "the loss is the mean over the batch (Keras' default reduction), not the sum."
    if np.isclose(got[0], expected[0], rtol=case.rtol, atol=case.atol):
        return (
            "the first loss is right, the later ones are not: after each loss, take "
            "tape.gradient(loss, model.trainable_variables) and apply it once with "
            "model.optimizer.apply_gradients(zip(grads, model.trainable_variables))."
        )
    return (
        "the first batch's loss differs: compute logits = model(x_batch, training=True) and the mean "
        "SparseCategoricalCrossentropy(from_logits=True) against the integer labels, before any update."
    )


def check(exercise: Exercise, part: Part, case: Case, result: Result):
    if case.kind == "source":
        problem = _source_problem(str(result.value or ""))
        if problem is None:
            return None
        return failure(part, case, problem[1], problem[0], expected=None)
    got, problem = as_numbers(result.value)
    if problem is not None:
        return failure(
            part, case, "return the list of the losses of every step, as numbers.", problem
        )
    got = got.reshape(-1) if got.ndim <= 1 else got
    expected = np.asarray(case.expected)
    if (
        got.shape == expected.shape
        and np.all(np.isfinite(got))
        and np.allclose(got, expected, rtol=case.rtol, atol=case.atol)
    ):
        return None
    inputs = tuple((name, value) for name, value in case.args if name != "model")
    verdict = failure(part, case, _hint(case, got), None, show(got))
    return type(verdict)(
        verdict.part,
        verdict.points,
        inputs,
        verdict.returned,
        verdict.expected,
        verdict.problem,
        verdict.hint,
    )


EXERCISE = Exercise(
    NAME, "train_with_tape(model, x, y, batch_size)", PARTS, build_cases, check, numpy_only=False
)
