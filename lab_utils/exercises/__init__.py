"""The lab's graded exercises, one module per notebook topic, collected in :data:`EXERCISES`.

Each module defines ``EXERCISE`` (one exercise) or ``EXERCISES`` (a list); see
:mod:`lab_utils.exercises.base` for what an exercise is made of.

Examples
--------
>>> "my_softmax" in EXERCISES and "extreme" in [part.name for part in EXERCISES["my_softmax"].parts]
True
"""

from __future__ import annotations

import importlib

from .base import Case, Exercise, Failure, Opaque, Part, Result, Source

__all__ = [
    "EXERCISES",
    "Case",
    "Exercise",
    "Failure",
    "Opaque",
    "Part",
    "Result",
    "Source",
    "cases",
]

#: Modules holding exercises, in notebook order.
_MODULES = (
    "softmax",
    "temperature",
    "cross_entropy",
    "label_smoothing",
    "tape_training",
    "softmax_regression",
    "softmax_training",
    "masked_softmax",
)


def _collect() -> dict[str, Exercise]:
    found: dict[str, Exercise] = {}
    for name in _MODULES:
        module = importlib.import_module(f".{name}", __name__)
        for exercise in getattr(module, "EXERCISES", None) or [module.EXERCISE]:
            found[exercise.name] = exercise
    return found


#: Every graded exercise by name: ``EXERCISES["my_softmax"].parts``.
EXERCISES: dict[str, Exercise] = _collect()

_CASES: dict[str, dict[str, tuple[Case, ...]]] = {}


def cases(name: str) -> dict[str, tuple[Case, ...]]:
    """The cases of exercise ``name`` by part, built once (inputs only; answers are computed lazily)."""
    if name not in _CASES:
        _CASES[name] = EXERCISES[name].build_cases()
    return _CASES[name]
