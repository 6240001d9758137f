"""Self-checks for the lab's exercises, shared with the nbgrader autograder.

Every exercise has graded *parts*, and every part has *cases*. The cases are defined once, in
:data:`CASES`, with reference answers computed by :mod:`lab_utils.numerics` (never typed in), and two
functions read them:

- ``check_<exercise>(fn)``, e.g. ``check_my_softmax(my_softmax)``: runs every case of every part and
  prints a short verdict (which part failed, on which input, what came back against what was expected,
  and a hint). It never raises, whatever ``fn`` does.
- ``grade(exercise, fn, part)``: runs one part's cases, as the autograder cells of the notebooks do, and
  raises ``AssertionError`` with the same message when a case fails.

So a student who sees every part pass in the self-check will get full marks from the autograder.

This is the only module of ``lab_utils`` that prints. It imports TensorFlow only inside
``check_build_preferred_model`` and the ``build_preferred_model`` parts.
"""

from __future__ import annotations

import re
import textwrap
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from . import numerics

__all__ = [
    "CASES",
    "EXERCISES",
    "check_my_softmax",
    "check_softmax_with_temperature",
    "check_my_cross_entropy",
    "check_build_preferred_model",
    "check_my_masked_softmax",
    "grade",
    "score",
]


# --------------------------------------------------------------------------------------------------
# The exercises, their parts and points (the table in TEAM.md; the notebooks' autograder cells carry
# the same points in their nbgrader metadata, and tests/test_classroom.py checks the two agree).


@dataclass(frozen=True)
class Part:
    """One graded part of an exercise: a name, its points, and what its cases probe."""

    name: str
    points: int
    hidden: bool
    about: str


@dataclass(frozen=True)
class Exercise:
    name: str
    signature: str
    parts: tuple[Part, ...]

    @property
    def points(self) -> int:
        return sum(part.points for part in self.parts)

    def part(self, name: str) -> Part:
        for part in self.parts:
            if part.name == name:
                return part
        known = ", ".join(repr(p.name) for p in self.parts)
        raise ValueError(f"part must be one of {known} for exercise {self.name!r}, got {name!r}")


EXERCISES: dict[str, Exercise] = {
    exercise.name: exercise
    for exercise in [
        Exercise("my_softmax", "my_softmax(z)", (
            Part("values", 1, False, "1-D vectors of ordinary logits"),
            Part("batch", 1, False, "2-D and 3-D batches, softmax along the last axis"),
            Part("extreme", 2, True, "very large and very small logits, float64 and float32"),
        )),
        Exercise("softmax_with_temperature", "softmax_with_temperature(z, T)", (
            Part("values", 1, False, "ordinary logits at temperatures around 1"),
            Part("limits", 1, True, "T = 0.001 and T = 1e6 with extreme logits"),
        )),
        Exercise("my_cross_entropy", "my_cross_entropy(logits, y)", (
            Part("values", 1, False, "mean loss of small batches with integer labels"),
            Part("confident_mistakes", 2, True, "confidently wrong logits such as [1000, 0, -1000]"),
        )),
        Exercise("build_preferred_model", "build_preferred_model()", (
            Part("output_layer", 1, False, "the last layer outputs 4 logits (linear activation)"),
            Part("loss", 1, False, "compiled with SparseCategoricalCrossentropy(from_logits=True)"),
            Part("trains", 1, True, "a short seeded training, as compiled, learns the blobs"),
        )),
        Exercise("my_masked_softmax", "my_masked_softmax(z, mask)", (
            Part("values", 1, False, "partly masked rows: masked positions exactly 0"),
            Part("fully_masked", 1, True, "a row with every position masked is all zeros, not NaN"),
        )),
    ]
}


# --------------------------------------------------------------------------------------------------
# Cases. Inputs are written here; expected answers come from lab_utils.numerics when a case is built.


@dataclass(frozen=True)
class Case:
    """One call of the student's function and the answer it should give.

    ``inputs`` maps argument names to values, passed positionally in this order (a fresh copy per
    call, so a function that modifies its input in place cannot spoil later cases).
    """

    inputs: tuple[tuple[str, Any], ...]
    expected: Any
    rtol: float = 1e-6
    atol: float = 1e-9


def _f32(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def _f64(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def _softmax_case(z: np.ndarray) -> Case:
    rtol, atol = (1e-5, 1e-7) if z.dtype == np.float32 else (1e-6, 1e-9)
    return Case((("z", z),), numerics.softmax(z, axis=-1), rtol, atol)


def _temperature_case(z: np.ndarray, temperature: float) -> Case:
    return Case((("z", z), ("T", temperature)), numerics.softmax(z, axis=-1, temperature=temperature))


def _cross_entropy_case(logits: np.ndarray, labels: np.ndarray) -> Case:
    rtol = 1e-5 if logits.dtype == np.float32 else 1e-6
    expected = float(numerics.cross_entropy(labels, logits, reduction="mean"))
    # atol 1e-6: log(p + eps) with a tiny eps is a harmless difference on ordinary logits; the
    # confident-mistakes part, not this tolerance, is where that shortcut is caught.
    return Case((("logits", logits), ("y", labels)), expected, rtol, 1e-6)


def _masked_case(z: np.ndarray, mask: np.ndarray) -> Case:
    return Case((("z", z), ("mask", mask)), numerics.masked_softmax(z, mask, axis=-1))


def _build_array_cases() -> dict[str, dict[str, tuple[Case, ...]]]:
    causal = np.tril(np.ones((3, 3), dtype=bool))
    return {
        "my_softmax": {
            "values": (
                _softmax_case(_f64([2.0, 1.0, 0.1])),
                _softmax_case(_f64([0.0, 0.0, 0.0, 0.0])),
                _softmax_case(_f64([-1.0, 0.5, 3.0, 0.5, -2.0])),
                _softmax_case(_f64([7.0])),
            ),
            "batch": (
                _softmax_case(_f64([[2.0, 1.0, 0.1], [1.0, 2.0, 3.0]])),
                _softmax_case(_f64([[0.5, -0.5], [3.0, 1.0], [0.0, 0.0], [-2.0, 4.0]])),
                _softmax_case(_f64([[[1.0, 2.0, 3.0], [0.0, 0.0, 1.0]], [[4.0, 1.0, 1.0], [2.0, -2.0, 0.5]]])),
            ),
            "extreme": (
                _softmax_case(_f64([1000.0, 1000.0, 1000.0])),
                _softmax_case(_f64([1000.0, 999.0, 998.0])),
                _softmax_case(_f64([-1000.0, -1001.0, -1002.0])),
                _softmax_case(_f64([800.0, 0.0, -800.0, 799.0])),
                _softmax_case(_f32([100.0, 99.0, 98.0])),
                _softmax_case(_f32([-200.0, -200.0])),
            ),
        },
        "softmax_with_temperature": {
            "values": (
                _temperature_case(_f64([2.0, 1.0, 0.1]), 1.0),
                _temperature_case(_f64([2.0, 1.0, 0.1]), 0.5),
                _temperature_case(_f64([2.0, 1.0, 0.1]), 4.0),
                _temperature_case(_f64([[1.0, 3.0, 0.0], [0.5, 0.5, 2.0]]), 2.0),
            ),
            "limits": (
                _temperature_case(_f64([1.0, 2.0, 3.0]), 1e-3),
                _temperature_case(_f64([2.0, 2.0, 1.0]), 1e-3),
                _temperature_case(_f64([1000.0, 0.0, -1000.0]), 1e6),
                _temperature_case(_f64([3e9, 1e9, -1e9]), 1e6),
                _temperature_case(_f64([[0.5, 0.25, 0.0], [-0.5, -1.0, -2.0]]), 1e-3),
            ),
        },
        "my_cross_entropy": {
            "values": (
                _cross_entropy_case(_f64([[2.0, 1.0, 0.1]]), np.array([0])),
                _cross_entropy_case(_f64([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3], [1.2, 0.2, 3.1]]), np.array([0, 1, 2])),
                _cross_entropy_case(_f64([[0.0, 0.0, 0.0, 0.0], [1.0, -1.0, 0.5, 2.0]]), np.array([3, 2])),
                _cross_entropy_case(_f64([[0.3, -0.2], [1.5, 0.5], [-1.0, 1.0], [0.0, 0.1]]), np.array([1, 0, 1, 0])),
            ),
            "confident_mistakes": (
                _cross_entropy_case(_f64([[1000.0, 0.0, -1000.0]]), np.array([2])),
                _cross_entropy_case(_f64([[0.0, 800.0], [3.0, 3.0]]), np.array([0, 1])),
                _cross_entropy_case(_f64([[50.0, 0.0, 0.0], [1.0, 2.0, 3.0]]), np.array([1, 2])),
                _cross_entropy_case(_f32([[100.0, 0.0, -100.0]]), np.array([2])),
            ),
        },
        "my_masked_softmax": {
            "values": (
                _masked_case(_f64([1.0, 2.0, 3.0, 4.0]), np.array([True, True, False, True])),
                _masked_case(_f64([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]), np.array([[True, True, False], [True, False, False]])),
                _masked_case(_f64([[0.5, 1.0, 1.5], [2.0, 0.0, -1.0], [1.0, 1.0, 1.0]]), causal),
                _masked_case(_f64([1000.0, 999.0, 2000.0]), np.array([True, True, False])),
            ),
            "fully_masked": (
                _masked_case(_f64([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), np.array([[True, True, True], [False, False, False]])),
                _masked_case(_f64([0.5, -0.5, 2.0]), np.array([False, False, False])),
                _masked_case(_f64([[2.0, 1.0], [0.0, 0.0], [1.0, 3.0]]), np.array([[False, False], [True, False], [False, False]])),
            ),
        },
    }


#: The cases of every array exercise and part: ``CASES["my_softmax"]["extreme"]``. The model exercise
#: (``build_preferred_model``) is checked by inspecting and training the returned model instead.
CASES: dict[str, dict[str, tuple[Case, ...]]] = _build_array_cases()


# --------------------------------------------------------------------------------------------------
# Running a student's function safely.


class _NotWritten(Exception):
    """The student's function still raises NotImplementedError (the nbgrader stub)."""


@dataclass(frozen=True)
class Failure:
    """Why a part failed: on which input, what came back against what was expected, and a hint."""

    part: str
    points: int
    inputs: tuple[tuple[str, Any], ...] = ()
    returned: str | None = None
    expected: str | None = None
    problem: str | None = None
    hint: str = ""

    def describe(self, exercise: str) -> str:
        lines = [f"{exercise}: part '{self.part}' ({_points(self.points)}) fails"]
        for name, value in self.inputs:
            label = "input:" if name == self.inputs[0][0] else ""
            lines.append(_field(label, _show(value, prefix=f"{name} = ")))
        if self.problem is not None:
            lines.append(_field("problem:", self.problem))
        if self.returned is not None:
            lines.append(_field("returned:", self.returned))
        if self.expected is not None:
            lines.append(_field("expected:", self.expected))
        lines.append(_field("hint:", self.hint))
        return "\n".join(lines)


_LABEL_WIDTH = 12


def _field(label: str, text: str) -> str:
    """'  label:    text', with text's own line breaks kept and long prose wrapped, all aligned."""
    width = 88 - _LABEL_WIDTH
    out = []
    for line in text.splitlines() or [""]:
        if len(line) <= width or line.lstrip().startswith("["):
            out.append(line)  # short, or an array already laid out by NumPy
            continue
        # Keep code such as "log(p + eps)" on one line: protect the spaces inside brackets.
        protected = re.sub(r"\([^()]*\)", lambda m: m.group(0).replace(" ", "\x00"), line)
        out.extend(part.replace("\x00", " ") for part in textwrap.wrap(protected, width))
    first = f"  {label:<{_LABEL_WIDTH - 2}}{out[0]}"
    return "\n".join([first] + [" " * _LABEL_WIDTH + line for line in out[1:]])


def _points(n: int) -> str:
    return f"{n} point" if n == 1 else f"{n} points"


def _show(value, prefix: str = "") -> str:
    """A short, stable text form of an array or number: 4 decimals, long arrays elided.

    ``prefix`` (e.g. ``"z = "``) is written before the value, with continuation lines aligned to it.
    """
    if value is None or isinstance(value, (bool, np.bool_)):
        return prefix + repr(value if value is None else bool(value))
    array = np.asarray(value) if isinstance(value, (np.ndarray, np.generic, list, tuple, float, int)) else None
    if array is None or array.dtype.kind not in "biuf":
        text = repr(value)
        return prefix + (text if len(text) <= 80 else text[:77] + "...")
    if array.ndim == 0:
        return prefix + (_number(float(array)) if array.dtype.kind == "f" else str(array))
    text = np.array2string(
        array, precision=4, separator=", ", threshold=16, edgeitems=3, suppress_small=True,
        floatmode="maxprec_equal", max_line_width=76, prefix=prefix,
        formatter={"float_kind": _number} if array.dtype.kind == "f" and _needs_sci(array) else None,
    )
    return prefix + text + (" (float32)" if array.dtype == np.float32 else "")


def _needs_sci(array: np.ndarray) -> bool:
    finite = np.abs(array[np.isfinite(array)])
    return finite.size > 0 and float(finite.max()) >= 1e6


def _number(x: float) -> str:
    """4 significant decimals without trailing noise: 2000.0, 0.3333, 1e+06, 2.061e-09."""
    if not np.isfinite(x):
        return str(x)
    if x != 0 and (abs(x) >= 1e6 or abs(x) < 1e-4):
        return f"{x:.4g}"
    if x == int(x):
        return f"{x:.1f}"
    return f"{x:.4f}".rstrip("0")


def _call(fn: Callable, case: Case):
    """Call fn on fresh copies of the case's inputs, with NumPy's warnings silenced.

    Returns ``(result, None)`` or ``(None, problem)`` when fn raised. NotImplementedError becomes
    _NotWritten, so the verdict can say "not written yet" once instead of once per case.
    """
    arguments = [np.copy(value) if isinstance(value, np.ndarray) else value for _, value in case.inputs]
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            # An overflowing exp is exactly the mistake being diagnosed; its RuntimeWarning would
            # only add noise (and a stderr cell output) to the verdict.
            warnings.simplefilter("ignore")
            return fn(*arguments), None
    except NotImplementedError as error:
        raise _NotWritten from error
    except Exception as error:  # a student's bug of any kind becomes a verdict, never a traceback
        return None, f"raised {type(error).__name__}: {_first_line(error)}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    message = text[0] if text else "(no message)"
    return message if len(message) <= 100 else message[:97] + "..."


def _as_numbers(result) -> tuple[np.ndarray | None, str | None]:
    if result is None:
        return None, "returned None: did you forget the `return` line?"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            array = np.asarray(result, dtype=np.float64)
    except (TypeError, ValueError):
        return None, f"returned {_show(result)} (a {type(result).__name__}), not an array of numbers"
    return array, None


# --------------------------------------------------------------------------------------------------
# Hints: what most likely went wrong, judged from what came back.


def _softmax_hint(case: Case, got: np.ndarray, part: str) -> str:
    z = np.asarray(case.inputs[0][1])
    if not np.all(np.isfinite(got)):
        return ("exp overflowed (or 0/0 happened): subtract the largest logit of each row before "
                "exp; softmax(z - max(z)) equals softmax(z) exactly.")
    if got.shape != case.expected.shape:
        return ("return an array of the input's shape: reduce along the last axis with "
                "axis=-1, keepdims=True so the division broadcasts row by row.")
    row_sums = got.sum(axis=-1)
    if z.ndim >= 2 and not np.allclose(row_sums, 1.0, rtol=1e-4) and (
        np.isclose(got.sum(), 1.0, rtol=1e-4) or np.allclose(got.sum(axis=0), 1.0, rtol=1e-4)
    ):
        return ("normalise along the last axis: each row should sum to 1; use "
                "np.sum(..., axis=-1, keepdims=True), not axis=0 or the whole array.")
    if not np.allclose(row_sums, 1.0, rtol=1e-4):
        return "divide the exponentials by their sum so that each row sums to 1."
    if part == "extreme":
        return ("large logits lose precision in exp: subtract the row's max first, and keep the "
                "array's own dtype.")
    return "softmax(z)_i = exp(z_i) / sum_j exp(z_j), computed along the last axis."


def _temperature_hint(case: Case, got: np.ndarray, part: str) -> str:
    if not np.all(np.isfinite(got)):
        return ("z / T is huge when T is small (or z is huge): subtract the row's max of z / T "
                "before exp.")
    if got.shape != case.expected.shape:
        return "return an array of the input's shape (reduce with axis=-1, keepdims=True)."
    if not np.allclose(got.sum(axis=-1), 1.0, rtol=1e-4):
        return "divide the exponentials by their sum so that each row sums to 1."
    return "divide the logits by T (not multiply), then take a stable softmax along the last axis."


def _cross_entropy_hint(case: Case, got: float, part: str) -> str:
    if not np.isfinite(got):
        return ("log(softmax(z)) hits log(0) for a confident mistake: use log-softmax, "
                "z_y - logsumexp(z), with the max subtracted inside logsumexp.")
    expected = float(case.expected)
    if part == "confident_mistakes" and got < expected:
        return ("the loss of a confident mistake came back too small, as if capped: log(p + eps) "
                "or clipping p caps it; compute -log softmax(z)_y from the logits: "
                "logsumexp(z) - z_y.")
    return ("loss = mean over the examples i of logsumexp(z_i) - z_i[y_i]; pick each row's "
            "true-class logit with z[np.arange(n), y].")


def _masked_hint(case: Case, got: np.ndarray, part: str) -> str:
    mask = np.asarray(case.inputs[1][1], dtype=bool)
    if not np.all(np.isfinite(got)):
        return ("a row with every position masked has nothing to normalise: 0/0 gives NaN. "
                "Return zeros for such rows (divide only where the row's sum is > 0).")
    if got.shape != case.expected.shape:
        return "return an array of the input's shape (reduce with axis=-1, keepdims=True)."
    if np.any(got[~mask] != 0):
        if part == "fully_masked":
            return ("a fully masked row must be all zeros: masked positions get no weight, even "
                    "when nothing in the row is left (a large negative fill spreads it evenly).")
        return ("masked positions (mask False) must be exactly 0: give them no weight, e.g. "
                "exp(...) * mask or logits set to -inf before exp.")
    return ("softmax over the unmasked positions only (mask True), stable: subtract the max of "
            "the unmasked logits before exp.")


_HINTS = {
    "my_softmax": _softmax_hint,
    "softmax_with_temperature": _temperature_hint,
    "my_cross_entropy": _cross_entropy_hint,
    "my_masked_softmax": _masked_hint,
}


def _check_array_case(exercise: str, part: Part, case: Case, fn: Callable) -> Failure | None:
    def failure(hint: str, problem: str | None = None, returned: str | None = None) -> Failure:
        return Failure(part.name, part.points, case.inputs, returned, _show(case.expected), problem, hint)

    result, problem = _call(fn, case)
    if problem is not None:
        return failure("call your function on this input yourself and read the error.", problem)
    got, problem = _as_numbers(result)
    if problem is not None:
        return failure("return a NumPy array of numbers.", problem)
    expected = case.expected
    if exercise == "my_cross_entropy":
        if got.size != 1:
            return failure("return the mean loss over the examples, e.g. np.mean(per_example_losses).",
                           f"returned {got.size} numbers, expected one (the mean loss)", _show(got))
        value = float(got.reshape(-1)[0])
        if np.isfinite(value) and np.isclose(value, expected, rtol=case.rtol, atol=case.atol):
            return None
        return failure(_cross_entropy_hint(case, value, part.name), None, _show(value))
    if got.shape != expected.shape:
        problem = f"returned shape {got.shape}, expected shape {expected.shape}"
    elif np.all(np.isfinite(got)) and np.allclose(got, expected, rtol=case.rtol, atol=case.atol):
        if exercise != "my_masked_softmax" or not np.any(got[~np.asarray(case.inputs[1][1], bool)] != 0):
            return None
        problem = "masked positions are not exactly 0"
    return failure(_HINTS[exercise](case, got, part.name), problem, _show(got))


# --------------------------------------------------------------------------------------------------
# build_preferred_model: inspected, then trained briefly on the blobs (seeded, about a second).

#: Training budget of the ``trains`` part, and the held-out accuracy it must reach. The preferred
#: model reaches about 0.98; the same model compiled without from_logits=True stays near 0.7.
TRAIN_EPOCHS = 5
TRAIN_BATCH_SIZE = 32
MIN_ACCURACY = 0.9


def _blob_split():
    """The lab's four blobs (lab_utils.datasets, 2000 points, seed 0): 1500 to train, 500 held out."""
    from .datasets import make_blob_data

    features, labels = make_blob_data(n_samples=2000, seed=0)
    return features[:1500], labels[:1500], features[1500:], labels[1500:]


def _tensorflow():
    from .environment import import_tensorflow

    return import_tensorflow()


def _build_model(fn: Callable) -> tuple[Any, str | None]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = fn()
    except NotImplementedError as error:
        raise _NotWritten from error
    except Exception as error:
        return None, f"build_preferred_model() raised {type(error).__name__}: {_first_line(error)}"
    keras = _tensorflow().keras
    if not isinstance(model, keras.Model):
        return None, f"build_preferred_model() returned {_show(model)}, not a Keras model"
    return model, None


def _model_output_layer(model) -> tuple[str | None, str]:
    keras = _tensorflow().keras
    try:
        outputs = np.asarray(model(np.zeros((1, 2), dtype=np.float32)))
    except Exception as error:
        return (f"the model cannot take a batch of 2 features: {type(error).__name__}: "
                f"{_first_line(error)}", "start with keras.Input(shape=(2,)).")
    if outputs.shape != (1, 4):
        return (f"the model outputs shape {outputs.shape[1:]} per example; expected (4,), one logit "
                "per class", "end with keras.layers.Dense(4): one output per class.")
    last = model.layers[-1]
    activation = getattr(last, "activation", None)
    name = getattr(activation, "__name__", None)
    if isinstance(last, (keras.layers.Softmax, keras.layers.Activation)) or (
        activation is not None and name != "linear"
    ):
        what = name or type(last).__name__
        return (f"the last layer ({type(last).__name__}) applies '{what}': the model outputs "
                "probabilities, not logits",
                "end with keras.layers.Dense(4) and no activation; the loss applies softmax itself.")
    return None, ""


def _model_loss(model) -> tuple[str | None, str]:
    hint = "compile with loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)."
    if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", True):
        return "the model is not compiled", "call model.compile(optimizer=..., loss=...) before returning it; " + hint
    loss = getattr(model, "loss", None)
    config = loss.get_config() if hasattr(loss, "get_config") else {}
    name = config.get("name") if config else getattr(loss, "__name__", loss)
    if name not in ("sparse_categorical_crossentropy", "SparseCategoricalCrossentropy"):
        return f"the loss is {_show(name)}, not sparse categorical cross-entropy", (
            "the labels are integer class ids: " + hint)
    if not config.get("from_logits", False):
        return ("the loss expects probabilities (from_logits is False) but the model should output "
                "logits", hint)
    return None, ""


def _model_trains(fn: Callable) -> tuple[str | None, str]:
    from .models import set_seed

    set_seed(0)
    model, problem = _build_model(fn)
    if problem is not None:
        return problem, "return the compiled model."
    x_train, y_train, x_test, y_test = _blob_split()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(x_train, y_train, epochs=TRAIN_EPOCHS, batch_size=TRAIN_BATCH_SIZE, verbose=0)
            outputs = np.asarray(model.predict(x_test, verbose=0))
    except Exception as error:
        return (f"training failed: {type(error).__name__}: {_first_line(error)}",
                "check the model runs on 2 features and is compiled with a loss for integer labels.")
    if outputs.ndim != 2 or not np.all(np.isfinite(outputs)):
        return "after training the model's outputs are not finite numbers", (
            "compile with loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True).")
    accuracy = float(np.mean(outputs.argmax(axis=-1) == y_test))
    if accuracy >= MIN_ACCURACY:
        return None, ""
    return (f"after {TRAIN_EPOCHS} epochs on the blobs the held-out accuracy is {accuracy:.2f}; "
            f"expected at least {MIN_ACCURACY:.2f}",
            "a linear last layer with SparseCategoricalCrossentropy(from_logits=True) and "
            "Adam(0.001) learns the blobs.")


def _check_model_part(part: Part, fn: Callable) -> Failure | None:
    if part.name == "trains":
        problem, hint = _model_trains(fn)
    else:
        model, problem = _build_model(fn)
        hint = "return the compiled model."
        if model is not None:
            check = _model_output_layer if part.name == "output_layer" else _model_loss
            problem, hint = check(model)
    if problem is None:
        return None
    return Failure(part.name, part.points, problem=problem, hint=hint)


# --------------------------------------------------------------------------------------------------
# The two entry points: grade (autograder cells) and check_* (self-check cells).


def _run_part(exercise: Exercise, part: Part, fn: Callable) -> Failure | None:
    """The first failing case of a part, or None when all pass. Raises _NotWritten."""
    if exercise.name == "build_preferred_model":
        return _check_model_part(part, fn)
    for case in CASES[exercise.name][part.name]:
        failure = _check_array_case(exercise.name, part, case, fn)
        if failure is not None:
            return failure
    return None


def _not_written(exercise: Exercise) -> str:
    return (f"{exercise.name} is not written yet: replace `raise NotImplementedError()` in "
            f"{exercise.signature} with your code.")


def _exercise(name: str) -> Exercise:
    if name not in EXERCISES:
        known = ", ".join(repr(n) for n in EXERCISES)
        raise ValueError(f"exercise must be one of {known}, got {name!r}")
    return EXERCISES[name]


def _require_callable(exercise: Exercise, fn) -> None:
    if not callable(fn):
        raise TypeError(f"fn must be the function {exercise.signature}, got {_show(fn)}")


def grade(exercise: str, fn: Callable, part: str) -> None:
    """Run one graded part of an exercise; raise AssertionError with a friendly message if it fails.

    Used by the notebooks' nbgrader autograder cells: a cell that raises earns 0 points.

    Parameters
    ----------
    exercise : str
        One of ``EXERCISES``, e.g. ``"my_softmax"``.
    fn : callable
        The student's function.
    part : str
        One of the exercise's parts, e.g. ``"extreme"``.

    Raises
    ------
    AssertionError
        When any case of the part fails, or fn is not written yet; the message says which input,
        what came back, what was expected, and a hint.
    ValueError
        When exercise or part is unknown (a broken autograder cell).

    Examples
    --------
    >>> import numpy as np
    >>> def naive(z):
    ...     return np.exp(z) / np.sum(np.exp(z), axis=-1, keepdims=True)
    >>> grade("my_softmax", naive, "values")  # passes: returns None
    >>> grade("my_softmax", naive, "extreme")
    Traceback (most recent call last):
    AssertionError: my_softmax: part 'extreme' (2 points) fails
      input:    z = [1000., 1000., 1000.]
      returned: [nan, nan, nan]
      expected: [0.3333, 0.3333, 0.3333]
      hint:     exp overflowed (or 0/0 happened): subtract the largest logit of each row
                before exp; softmax(z - max(z)) equals softmax(z) exactly.
    """
    spec = _exercise(exercise)
    chosen = spec.part(part)
    if not callable(fn):
        raise AssertionError(f"{spec.name} should be a function {spec.signature}, got {_show(fn)}")
    try:
        failure = _run_part(spec, chosen, fn)
    except _NotWritten:
        raise AssertionError(_not_written(spec)) from None
    if failure is not None:
        raise AssertionError(failure.describe(spec.name))


def score(exercise: str, fn: Callable) -> dict[str, int]:
    """Points per part that fn earns, as the autograder would give them (no printing)."""
    spec = _exercise(exercise)
    _require_callable(spec, fn)
    points = {}
    for part in spec.parts:
        try:
            points[part.name] = part.points if _run_part(spec, part, fn) is None else 0
        except _NotWritten:
            points[part.name] = 0
    return points


def _check(exercise: str, fn) -> None:
    spec = _exercise(exercise)
    try:
        _print_verdict(spec, fn)
    except Exception as error:  # the self-check itself must never end in a traceback
        print(f"{spec.name}: the self-check could not run: {type(error).__name__}: {_first_line(error)}")


def _print_verdict(spec: Exercise, fn) -> None:
    if not callable(fn):
        print(f"{spec.name}: expected the function {spec.signature}, got {_show(fn)}.")
        return
    failures: list[Failure] = []
    lines = []
    try:
        for part in spec.parts:
            failure = _run_part(spec, part, fn)
            mark = "ok  " if failure is None else "FAIL"
            hidden = ", hidden in the graded version" if part.hidden else ""
            lines.append(f"  {mark} {part.name} ({_points(part.points)}{hidden}): {part.about}")
            if failure is not None:
                failures.append(failure)
    except _NotWritten:
        print(f"{spec.name}: 0/{spec.points} points. {_not_written(spec)}")
        return
    earned = spec.points - sum(f.points for f in failures)
    verdict = "all parts pass." if not failures else "some parts fail; details below."
    print(f"{spec.name}: {earned}/{spec.points} points, {verdict}")
    print("\n".join(lines))
    for failure in failures:
        print()
        print(failure.describe(spec.name))


def check_my_softmax(fn: Callable) -> None:
    """Self-check ``my_softmax(z)``: values, batches along the last axis, extreme logits.

    Prints a verdict per graded part and, for each failing part, the input, what came back against
    what was expected, and a hint. Never raises.

    Examples
    --------
    >>> def my_softmax(z):
    ...     raise NotImplementedError()
    >>> check_my_softmax(my_softmax)
    my_softmax: 0/4 points. my_softmax is not written yet: replace `raise NotImplementedError()` in my_softmax(z) with your code.
    """
    _check("my_softmax", fn)


def check_softmax_with_temperature(fn: Callable) -> None:
    """Self-check ``softmax_with_temperature(z, T)``: values, and T = 0.001 and 1e6. Never raises."""
    _check("softmax_with_temperature", fn)


def check_my_cross_entropy(fn: Callable) -> None:
    """Self-check ``my_cross_entropy(logits, y)`` (integer labels, mean loss). Never raises."""
    _check("my_cross_entropy", fn)


def check_build_preferred_model(fn: Callable) -> None:
    """Self-check ``build_preferred_model()``: last layer, loss, and a short seeded training.

    Training takes about a second (5 epochs on 1500 blob points) and resets the random seeds to 0.
    Never raises.
    """
    _check("build_preferred_model", fn)


def check_my_masked_softmax(fn: Callable) -> None:
    """Self-check ``my_masked_softmax(z, mask)`` (mask True = keep). Never raises."""
    _check("my_masked_softmax", fn)
