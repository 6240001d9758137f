"""Softmax Lab helpers: numerics, explorers, datasets, models and exercise checks.

``import lab_utils`` is cheap: it loads only NumPy and the numerics. Explorers (matplotlib, ipywidgets),
datasets (scikit-learn) and models (TensorFlow) load the first time one of their names is used.
"""

from __future__ import annotations

import importlib

from .environment import configure_tensorflow_environment

# Before anything can import TensorFlow: keep its log lines out of notebook outputs.
configure_tensorflow_environment()

from .numerics import (  # noqa: E402  (the environment must be set first)
    blocked_softmax,
    cross_entropy,
    cross_entropy_from_probs,
    cross_entropy_grad,
    entropy,
    entropy_vs_temperature,
    exp_overflow_threshold,
    log_softmax,
    logsumexp,
    masked_softmax,
    naive_softmax,
    neg_log,
    one_hot,
    online_softmax,
    sample,
    sigmoid,
    softmax,
    softmax_jacobian,
    top_k,
)

# Public names that live in heavier modules, loaded on first use (PEP 562).
_LAZY_NAMES = {
    "softmax_explorer": "explorers",
    "temperature_explorer": "explorers",
    "cross_entropy_explorer": "explorers",
    "overflow_explorer": "explorers",
    "training_explorer": "explorers",
    "import_tensorflow": "environment",
}
_SUBMODULES = {
    "numerics", "plots", "style", "explorers", "datasets", "models", "checks", "environment",
    "calibration", "attention", "scaling", "frames", "canvas", "ipympl_canvas", "cells",
    "student", "validation", "regression", "vocabulary",
}

__all__ = [
    "softmax", "naive_softmax", "log_softmax", "logsumexp", "cross_entropy",
    "cross_entropy_from_probs", "softmax_jacobian", "cross_entropy_grad", "sigmoid", "entropy",
    "top_k", "sample", "masked_softmax", "online_softmax", "one_hot", "entropy_vs_temperature",
    "neg_log", "exp_overflow_threshold", "blocked_softmax", *_LAZY_NAMES,
]


def __getattr__(name: str):
    if name in _LAZY_NAMES:
        module = importlib.import_module(f".{_LAZY_NAMES[name]}", __name__)
        return getattr(module, name)
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'lab_utils' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_NAMES) | _SUBMODULES)
