"""Softmax Lab helpers: numerics, explorers, datasets, models and exercise checks.

``import lab_utils`` is cheap: it loads only NumPy and the numerics. Explorers (matplotlib, ipywidgets),
datasets (scikit-learn) and models (TensorFlow) load the first time one of their names is used.

Architecture
------------
One job per module; the file name says which::

    validation     the input checks every public function uses, one meaning per rule
    numerics       pure NumPy: the softmax family, losses, gradients, sampling (one blocked softmax)
    attention      attention as softmax over scores (scaled dot-product, additive, blockwise)
    scaling        what softmax costs at scale: time and memory of its variants
    calibration    temperature scaling, NLL, reliability bins, expected calibration error
    vocabulary     a vocabulary-sized softmax per token, and sampled softmax (notebook 06)
    regression     the digits problem and the trusted softmax regression of notebook 05
    datasets       seeded data makers (blobs, digits, a small text corpus); no downloads
    models         Keras builders and training helpers; TensorFlow imported inside functions
    environment    TensorFlow's quiet start-up and its lazy import
    style          palette (colour roles), fonts, figure defaults
    plots          everything that draws on a given Axes and returns the artists it made
    runner         the one way a student's function is called; plain-data results (stdlib + NumPy)
    student        says, in words, what a student's softmax returned (for the explorers)
    canvas         how a changed figure reaches the screen: blitting, frame choice, fallback
    ipympl_canvas  the ipympl canvas subclass (ipympl's internals, named in canvas)
    frames         changed rectangles and the browser-side bridge that paints them
    cells          which notebook cell made an explorer, so a re-run closes the old one
    explorer_base  what every explorer shares: layout, redraw, caught errors, static fallbacks
    explorers      the five explorers: ipywidgets controls wired to numerics and plots' artists
    exercises/     one module per graded exercise: its parts, cases, references and judges
    checks         the notebooks' self-checks: ``check_<exercise>``, ``grade``, ``score``
    grading/       the instructor's side: nbgrader's Execute step sandboxed (bubblewrap), the
                   kernel probe, verdicts decided outside, parallel autograding
    kernel_memory  an IPython extension that hands freed memory back after each cell (Binder, hub)
    kernel_zygote  a process that imports TensorFlow and the rest once and forks every kernel
    kernel_provisioner  the Jupyter kernel provisioner that asks the zygote for kernels (Binder, hub)
    run_notebooks  ``make notebooks``: re-executes notebooks in fresh kernels

Imports run one way, from the top of this list to the bottom: ``validation`` imports nothing of
the lab; ``numerics`` only ``validation``; ``attention``, ``scaling`` and ``calibration`` build on
``numerics``; ``plots`` uses ``style``; ``runner`` imports nothing of the lab (its source runs
alone in the grading sandbox); ``student`` uses ``runner`` and ``plots``; ``canvas`` uses
``frames``; ``explorer_base`` uses ``canvas``, ``cells`` and ``frames``; ``explorers`` uses
``explorer_base``, ``numerics``, ``plots`` and ``student``; ``exercises`` use ``numerics``,
``runner`` and the data and model modules; ``checks`` uses ``exercises``; ``grading`` uses
``exercises`` and ``runner`` (never imported by a notebook); ``kernel_provisioner`` uses
``kernel_zygote``, and neither is imported by a notebook (the Jupyter server loads them). Nothing imports ``explorers`` or
``checks``.

Examples
--------
>>> import lab_utils
>>> lab_utils.softmax([0.0, 0.0])
array([0.5, 0.5])
>>> lab_utils.cross_entropy([[0.0, 0.0]], [1])   # logits first, then labels, everywhere
0.6931471805599453
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
    smooth_labels,
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
    "numerics",
    "plots",
    "style",
    "explorers",
    "datasets",
    "models",
    "checks",
    "environment",
    "calibration",
    "attention",
    "scaling",
    "frames",
    "canvas",
    "ipympl_canvas",
    "cells",
    "student",
    "validation",
    "regression",
    "vocabulary",
}

__all__ = [
    "softmax",
    "naive_softmax",
    "log_softmax",
    "logsumexp",
    "cross_entropy",
    "cross_entropy_from_probs",
    "softmax_jacobian",
    "cross_entropy_grad",
    "sigmoid",
    "entropy",
    "top_k",
    "sample",
    "masked_softmax",
    "online_softmax",
    "one_hot",
    "entropy_vs_temperature",
    "neg_log",
    "exp_overflow_threshold",
    "blocked_softmax",
    "smooth_labels",
    *_LAZY_NAMES,
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
