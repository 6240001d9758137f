"""Call a student's function on one case and return what happened as plain data.

This module is the one runner behind every call of student code: the explorers (through
:mod:`lab_utils.student`, which explains what came back), the self-checks (:mod:`lab_utils.checks`)
and the autograder. The autograder sends this file's *source* into the sandboxed kernel and runs it
there in a fresh namespace (never as an importable module the student's code could patch by name),
so the same lines call the function in the student's own process and in the sandbox.

It depends on the standard library and NumPy only, keeps no state, and returns results that are
plain data: JSON made of numbers, text, lists and base64 array bytes (never pickle), so a trusted
process can read them without running anything the student wrote.

A call is watched for calls into library softmax, log-softmax, logsumexp or cross-entropy code
(lab_utils itself, SciPy's ``special`` family, scikit-learn's, TensorFlow/Keras, PyTorch, JAX):
NumPy exercises ask students to write these themselves.

Examples
--------
>>> outcome = call(lambda z: 2 * z, [np.array([1.0, 0.5])])
>>> outcome["status"], decode(outcome["value"])
('ok', array([2., 1.]))
>>> decode(encode(np.arange(3)))        # arrays travel as base64 bytes with dtype and shape
array([0, 1, 2])
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import sys
import time
import warnings
from typing import Any, Callable, Sequence

import numpy as np

#: Libraries whose softmax-family functions are shortcuts in a NumPy exercise (and lab_utils itself).
LIBRARY_PATHS = tuple(
    os.sep.join(("site-packages", name, ""))
    for name in ("scipy", "sklearn", "tensorflow", "keras", "tf_keras", "torch", "jax", "jaxlib")
)
#: Compiled functions whose module starts with one of these are checked by name too.
FORBIDDEN_MODULES = ("torch", "jax", "jaxlib", "tensorflow", "keras")
#: What a shortcut is called: softmax, log_softmax, logsumexp, cross-entropy and its aliases, and
#: label smoothing (notebook 03 asks for smooth_labels too).
SHORTCUT_NAME = re.compile(
    r"softmax|logsumexp|cross_?entropy|crossentropy|log_loss|nll|smooth", re.IGNORECASE
)

_LAB_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_MAX_DEPTH = 8


# --------------------------------------------------------------------------------------------------
# Plain data: encode what a call returned, decode it on the other side.


def encode(value: Any, depth: int = 0) -> Any:
    """A JSON-ready form of ``value``: arrays as base64 bytes with dtype and shape, never pickle."""
    if depth > _MAX_DEPTH:
        return {"__opaque__": type(value).__name__, "text": "(nested too deeply)"}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value if abs(value) < 2**53 else {"__float__": repr(float(value))}
    if isinstance(value, float):
        value = float(value)
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, np.generic) and value.dtype.kind in "biufc":
        value = np.asarray(value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf" and value.dtype.itemsize <= 8:
        data = value.copy(order="C")  # (ascontiguousarray would make a 0-d array 1-d)
        return {
            "__ndarray__": base64.b64encode(data.tobytes()).decode("ascii"),
            "dtype": data.dtype.str,
            "shape": list(data.shape),
        }
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, depth + 1) for v in value]}
    if isinstance(value, list):
        return [encode(v, depth + 1) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__dict__": {k: encode(v, depth + 1) for k, v in value.items()}}
    try:
        text = repr(value)
    except Exception:  # a student's __repr__ may itself be broken
        text = "(no repr)"
    return {
        "__opaque__": type(value).__name__,
        "text": text if len(text) <= 80 else text[:77] + "...",
    }


def decode(data: Any, opaque: Callable[[str, str], Any] | None = None) -> Any:
    """The value :func:`encode` wrote, rebuilt from JSON (``opaque(type_name, text)`` for the rest)."""
    if isinstance(data, list):
        return [decode(v, opaque) for v in data]
    if not isinstance(data, dict):
        return data
    if "__ndarray__" in data:
        dtype = np.dtype(data["dtype"])
        if dtype.kind not in "biuf":
            raise ValueError(f"refusing array data of dtype {dtype}")
        raw = base64.b64decode(data["__ndarray__"])
        return np.frombuffer(raw, dtype=dtype).reshape(tuple(data["shape"])).copy()
    if "__float__" in data:
        return float(data["__float__"])
    if "__tuple__" in data:
        return tuple(decode(v, opaque) for v in data["__tuple__"])
    if "__dict__" in data:
        return {k: decode(v, opaque) for k, v in data["__dict__"].items()}
    if "__opaque__" in data:
        return (opaque or (lambda t, s: (t, s)))(str(data["__opaque__"]), str(data.get("text", "")))
    raise ValueError("not plain data")


# --------------------------------------------------------------------------------------------------
# Watching a call for library shortcuts.


class CallMonitor:
    """A profile hook that names every library softmax-family function a call reaches.

    A shortcut is a function whose name says softmax, logsumexp, cross-entropy (or log_loss, nll)
    in lab_utils, SciPy, scikit-learn, TensorFlow/Keras, PyTorch or JAX. Only the outermost one is
    named (``scipy.special._logsumexp.softmax``, not what it calls). ``allowed`` lists lab_utils
    modules (``"lab_utils.datasets"``) the exercise lets students call; nothing they call counts.
    Importing a module is not a call.
    """

    def __init__(self, allowed=()):
        self.found = []
        self._allowed = tuple(
            os.path.join(_LAB_DIR, *name.split(".")[1:]) + ".py" for name in allowed
        )
        self._open = set()
        self.switched_off = False

    def _kind(self, code) -> str | None:
        """ "allowed", "forbidden" or None for the code of a Python function."""
        filename = code.co_filename
        in_lab = filename.startswith(_LAB_DIR)
        if in_lab and self._allowed and filename.startswith(self._allowed):
            return "allowed"
        if (in_lab or any(part in filename for part in LIBRARY_PATHS)) and SHORTCUT_NAME.search(
            code.co_name
        ):
            return "forbidden"
        return None

    def __call__(self, frame, event, arg):
        try:
            self._watch(frame, event, arg)
        except Exception:  # a profile hook that raises is removed by Python: never let that happen
            pass

    def _watch(self, frame, event, arg):
        if event == "return":
            self._open.discard(id(frame))
        elif event == "call":
            code = frame.f_code
            if code.co_name == "<module>":
                return
            kind = self._kind(code)
            if kind is None:
                return
            if kind == "forbidden" and not self._open:
                module = frame.f_globals.get("__name__", "?")
                self._note(f"{module}.{getattr(code, 'co_qualname', code.co_name)}")
            self._open.add(id(frame))
        elif event == "c_call" and not self._open:
            module = getattr(arg, "__module__", None)
            name = getattr(arg, "__name__", None)
            if (
                isinstance(module, str)
                and isinstance(name, str)
                and module.split(".")[0] in FORBIDDEN_MODULES
                and SHORTCUT_NAME.search(name)
            ):
                self._note(f"{module}.{name}")

    def _note(self, name: str) -> None:
        if name not in self.found:
            self.found.append(name)


# --------------------------------------------------------------------------------------------------
# One call.


def _fresh(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, tuple):
        return tuple(_fresh(v) for v in value)
    if isinstance(value, list):
        return [_fresh(v) for v in value]
    return value


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    message = text[0] if text else "(no message)"
    return message if len(message) <= 100 else message[:97] + "..."


# Budget: 55 lines; the one place a student function is called, kept whole so that every
# guard (fresh copies, errstate, warnings, the monitor on and off, each outcome) is seen at once.
def invoke(
    fn: Callable,
    args: Sequence,
    watch: bool = False,
    allowed: Sequence[str] = (),
    then: Callable[[Any], Any] | None = None,
    record_warnings: bool = False,
) -> dict:
    """Call ``fn(*args)`` on fresh copies of ``args``; return what happened, the value as it is.

    The one place where a student's function is called, for the explorers (which draw the value),
    the self-checks and the autograder (which encode it, :func:`call`). Returns a dict: ``status``
    ("ok", "error", "not_written" or "forbidden"), ``value`` (the returned object, for "ok"),
    ``error`` (what it raised, one line), ``seconds``, ``forbidden`` (library functions reached,
    when ``watch`` is true) and ``warnings`` (the distinct warning messages, when
    ``record_warnings`` is true; otherwise NumPy's warnings are silenced: an overflowing exp is
    exactly the mistake a verdict diagnoses, and its RuntimeWarning is noise there). ``then`` is
    applied to the value after the monitor is off, its errors counted as the student's.
    Any exception becomes a status (SystemExit too); KeyboardInterrupt passes through (it is how a
    time limit stops a call).
    """
    arguments = [_fresh(value) for value in args]
    monitor = CallMonitor(allowed) if watch else None
    previous = sys.getprofile()
    recorded = None  # the warnings caught, when they are recorded
    start = time.perf_counter()
    try:
        with (
            np.errstate(all="warn" if record_warnings else "ignore"),
            warnings.catch_warnings(record=record_warnings) as recorded,
        ):
            warnings.simplefilter("always" if record_warnings else "ignore")
            if monitor is not None:
                sys.setprofile(monitor)
            try:
                value = fn(*arguments)
            finally:
                if monitor is not None:
                    if sys.getprofile() is not monitor:
                        monitor.switched_off = True
                    sys.setprofile(previous)
            if then is not None:
                value = then(value)
    except NotImplementedError:
        outcome = {"status": "not_written"}
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # a student's bug of any kind (SystemExit too) becomes a status
        outcome = {
            "status": "error",
            "error": f"raised {type(error).__name__}: {_first_line(error)}",
        }
    else:
        outcome = {"status": "ok", "value": value}
    outcome["seconds"] = time.perf_counter() - start
    if record_warnings:
        outcome["warnings"] = sorted({str(w.message) for w in recorded or ()})
    if monitor is not None:
        if monitor.switched_off:
            monitor.found.append("(the grader's call monitor was switched off during the call)")
        if monitor.found:
            outcome = {
                "status": "forbidden",
                "forbidden": list(monitor.found),
                "seconds": outcome["seconds"],
            }
    return outcome


def call(
    fn: Callable,
    args: Sequence,
    watch: bool = False,
    allowed: Sequence[str] = (),
    describe: str | None = None,
    extra: Sequence = (),
) -> dict:
    """:func:`invoke`, with the value encoded as plain data (and described first, for a model).

    ``describe`` names one of :data:`DESCRIBERS`, which turns an object that is not plain data (a
    Keras model) into what the exercise judges, given the ``extra`` arguments.
    """
    then = None
    if describe is not None:

        def then(value):
            return DESCRIBERS[describe](value, *[_fresh(v) for v in extra])

    outcome = invoke(fn, args, watch=watch, allowed=allowed, then=then)
    if outcome["status"] == "ok":
        outcome["value"] = encode(outcome["value"])
    return outcome


# --------------------------------------------------------------------------------------------------
# Describers: plain data about objects that are not plain data (a Keras model).


def _describe_keras_model(model, sample):
    """What the model exercise judges about a returned model, as plain data."""
    import keras

    if not isinstance(model, keras.Model):
        return {
            "is_model": False,
            "text": model if isinstance(model, (int, float, str, type(None))) else repr(model)[:80],
        }
    info = {"is_model": True}
    try:
        info["outputs"] = np.asarray(model(sample))
    except Exception as error:
        info["call_error"] = f"{type(error).__name__}: {_first_line(error)}"
    last = model.layers[-1] if model.layers else None
    activation = getattr(last, "activation", None)
    info["last_layer"] = type(last).__name__ if last is not None else None
    info["last_is_activation_layer"] = isinstance(
        last, (keras.layers.Softmax, keras.layers.Activation)
    )
    info["activation"] = getattr(activation, "__name__", None) if activation is not None else None
    info["compiled"] = getattr(model, "optimizer", None) is not None and bool(
        getattr(model, "compiled", True)
    )
    loss = getattr(model, "loss", None)
    config = loss.get_config() if hasattr(loss, "get_config") else {}
    info["loss_name"] = (
        config.get("name")
        if config
        else getattr(loss, "__name__", None if loss is None else str(loss))
    )
    info["from_logits"] = bool(config.get("from_logits", False)) if config else False
    return info


def _describe_keras_training(model, x_train, y_train, x_test, epochs, batch_size):
    """Train the returned model as compiled (seeded) and return its outputs on held-out points."""
    import keras

    if not isinstance(model, keras.Model):
        return {
            "is_model": False,
            "text": model if isinstance(model, (int, float, str, type(None))) else repr(model)[:80],
        }
    try:
        model.fit(x_train, y_train, epochs=int(epochs), batch_size=int(batch_size), verbose=0)
        outputs = np.asarray(model.predict(x_test, verbose=0))
    except Exception as error:
        return {"is_model": True, "train_error": f"{type(error).__name__}: {_first_line(error)}"}
    return {"is_model": True, "outputs": outputs}


DESCRIBERS = {"keras_model": _describe_keras_model, "keras_training": _describe_keras_training}


# --------------------------------------------------------------------------------------------------
# The autograder's side inside the sandbox: answer one request, write the answer to a file.


def serve(namespace: dict, request_text: str, answer_path: str) -> None:
    """Run the calls of one graded part (a JSON request) in ``namespace``; write the answers as JSON.

    Each call names a function (or variable) of the student's notebook and carries its encoded
    arguments. The answers are written to ``answer_path`` (a file the judge outside the sandbox
    reads); nothing is printed.
    """
    request = json.loads(request_text)
    answers = []
    try:
        for item in request["calls"]:
            answers.append(_serve_one(namespace, item, request))
            _write(answer_path, answers, done=False)
    finally:
        _write(answer_path, answers, done=len(answers) == len(request["calls"]))


def _serve_one(namespace, item, request):
    name = item["function"]
    if name not in namespace:
        return {"status": "missing", "error": f"{name} is not defined"}
    target = namespace[name]
    if item["kind"] == "value":
        return {"status": "ok", "value": encode(target), "seconds": 0.0}
    if item.get("seed") is not None:
        _seed(int(item["seed"]), tensorflow=str(item.get("describe") or "").startswith("keras"))
    args = [
        _build(a) if isinstance(a, dict) and set(a) == {"__source__"} else decode(a)
        for a in item["args"]
    ]
    extra = [decode(a) for a in item.get("extra", [])]
    if not callable(target):
        return {"status": "error", "error": f"{name} is {encode(target)!r}, not a function"}
    return call(
        target,
        args,
        watch=request.get("watch", False),
        allowed=request.get("allowed", ()),
        describe=item.get("describe"),
        extra=extra,
    )


def _build(value):
    """A callable argument (``lab_utils.exercises.base.Source``), evaluated here with ``np`` bound."""
    return eval(compile(value["__source__"], "<case argument>", "eval"), {"np": np})


def _seed(seed: int, tensorflow: bool) -> None:
    """Seed Python and NumPy, and for a Keras call TensorFlow too, with deterministic ops."""
    import random

    random.seed(seed)
    np.random.seed(seed)
    if tensorflow:
        import tensorflow as tf

        tf.keras.utils.set_random_seed(seed)
        tf.config.experimental.enable_op_determinism()


def _write(path: str, answers, done: bool) -> None:
    text = json.dumps({"answers": answers, "done": done})
    temporary = path + ".part"
    with open(temporary, "w") as handle:
        handle.write(text)
    os.replace(temporary, path)
