"""Input checks used by every public function of the lab, with one meaning per rule.

Each check returns the value in the form the caller computes with, or raises an error that names
the argument and says what was expected and what was given ("temperature must be > 0, got -1.0").
The rules, the same in every module:

* **Booleans are not numbers.** ``True`` where a count, a real number or an array of numbers is
  expected raises ``TypeError`` (a mask or a flag passed in the wrong place is the usual cause).
* **Integers** (counts, sizes, axes, seeds) are Python or NumPy integers; ``2.0`` is not one.
  Class ids inside an array are the exception: whole-number floats such as ``2.0`` are accepted,
  because labels often arrive as float arrays from data loaders.
* **Masks** say True (or 1) where an entry takes part, False (or 0) where it is masked out:
  boolean arrays, or integer arrays of only 0 and 1. Anything else is refused, in every module.
* **-inf** is allowed only in logits (scores that go into a softmax), where it means
  "probability exactly 0". NaN and +inf are never allowed; other numbers must be finite.
* Arrays must not be empty, and must not be strings, objects, dates or complex numbers.

Examples
--------
>>> as_int(3, "n", minimum=1)
3
>>> as_int(True, "n")
Traceback (most recent call last):
...
TypeError: n must be an integer, got the boolean True
>>> as_real(-1, "temperature", low=0, low_open=True)
Traceback (most recent call last):
...
ValueError: temperature must be > 0, got -1.0
>>> as_mask([1, 0], "mask", (2,))
array([ True, False])
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

import numpy as np
from numpy.exceptions import AxisError
from numpy.typing import ArrayLike

__all__ = [
    "first_index",
    "as_int",
    "as_real",
    "as_positive",
    "as_float_array",
    "check_no_nan",
    "check_finite",
    "as_mask",
    "as_class_ids",
    "check_axis",
    "check_choice",
    "as_array",
]


def first_index(bad: np.ndarray) -> tuple[int, ...] | int:
    """Index of the first True in ``bad``, as a tuple (or an int for 1-D arrays), for messages."""
    index = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), bad.shape))
    return index[0] if len(index) == 1 else index


def as_int(value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an int, checked to be an integer (not a bool) within the given bounds."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got the boolean {value!r}")
    if not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and maximum is not None and not minimum <= value <= maximum:
        raise ValueError(f"{name} must be between {minimum} and {maximum}, got {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def as_real(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a finite float, checked to lie in the interval from ``low`` to ``high``
    (inclusive unless ``low_open``/``high_open``)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a real number, got the boolean {value!r}")
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    try:
        value = float(value)
    except OverflowError:  # a Python int beyond the float range
        raise ValueError(f"{name} must be finite, got {value!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        if low is not None and high is not None:
            brackets = ("(" if low_open else "[") + f"{low}, {high}" + (")" if high_open else "]")
            raise ValueError(f"{name} must be in {brackets}, got {value!r}")
        bound, sign = (
            (low, ">" if low_open else ">=") if too_low else (high, "<" if high_open else "<=")
        )
        raise ValueError(f"{name} must be {sign} {bound}, got {value!r}")
    return value


def as_positive(value: Any, name: str) -> float:
    """``value`` as a finite float > 0."""
    return as_real(value, name, low=0, low_open=True)


def as_array(x: ArrayLike, name: str, what: str) -> np.ndarray:
    """``np.asarray(x)``, refusing a string and a ragged nested list with an error that says
    ``name`` must be ``what`` (the one place that wording lives)."""
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be {what}, got a string {x!r}")
    try:
        return np.asarray(x)
    except ValueError as err:  # ragged nested lists
        raise ValueError(f"{name} must be a rectangular array of {what} ({err})") from None


def as_float_array(
    x: ArrayLike, name: str, *, min_ndim: int = 1, allow_empty: bool = False
) -> np.ndarray:
    """``x`` as a floating array (float16/32/64 kept, integers become float64).

    Checks the type and the shape only; the values are checked by :func:`check_finite` or
    :func:`check_no_nan` (or, in the softmax family, by the row maxima, which costs no temporary).
    """
    arr = as_array(x, name, "numbers")
    kind = arr.dtype.kind
    if kind == "b":
        raise TypeError(
            f"{name} must be real numbers, got a boolean array; "
            f"convert with .astype(float) if you really mean 0/1 values"
        )
    if kind == "c":
        raise TypeError(f"{name} must be real numbers, got complex values (dtype {arr.dtype})")
    if kind not in "iuf":
        raise TypeError(
            f"{name} must be real numbers, got dtype {arr.dtype} "
            f"(strings, objects and dates are not numbers)"
        )
    if kind in "iu":
        arr = arr.astype(np.float64)
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if arr.ndim < min_ndim:
        if arr.ndim == 0:
            raise ValueError(
                f"{name} must have at least one axis (a vector of values), "
                f"got the scalar {arr.item()!r}"
            )
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got shape {arr.shape}")
    return arr


def check_no_nan(arr: np.ndarray, name: str) -> None:
    """Raise if ``arr`` holds a NaN (infinities pass: for values that are not yet probabilities)."""
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN (first at index {first_index(np.isnan(arr))})")


def check_finite(arr: np.ndarray, name: str, *, logits: bool = False) -> None:
    """Raise if ``arr`` holds NaN or +inf, or -inf unless ``logits`` (where it means p = 0)."""
    bad = ~np.isfinite(arr)
    if logits:
        bad &= ~np.isneginf(arr)
    if bad.any():
        index = first_index(bad)
        value = arr[index].item() if arr.ndim else arr.item()
        hint = " (-inf is allowed in logits only)" if np.isneginf(value) else ""
        raise ValueError(
            f"{name} must be finite{' or -inf' if logits else ''}, got {value!r} "
            f"at index {index}{hint}"
        )


def as_mask(
    mask: ArrayLike, name: str, shape: Sequence[int], *, masks: str = "the masked array"
) -> np.ndarray:
    """``mask`` (True or 1 = keep, False or 0 = masked) as a bool array broadcast to ``shape``,
    the shape of ``masks`` (named in the error)."""
    try:
        arr = np.asarray(mask)
    except ValueError as err:
        raise ValueError(f"{name} must be a rectangular array of booleans ({err})") from None
    if arr.dtype.kind in "iu":
        outside = ~np.isin(arr, (0, 1))
        if outside.any():
            raise ValueError(
                f"{name} must contain only True/False (or 1/0), got values "
                f"{np.unique(arr[outside])[:5].tolist()}"
            )
        arr = arr.astype(bool)
    elif arr.dtype.kind != "b":
        raise TypeError(
            f"{name} must be booleans (True = keep), got dtype {arr.dtype}; an "
            f"additive mask of 0/-inf is added to the logits instead"
        )
    try:
        broadcast = np.broadcast_shapes(arr.shape, tuple(shape))
    except ValueError:
        broadcast = None
    if broadcast != tuple(shape):
        raise ValueError(
            f"{name} has shape {arr.shape}, which does not broadcast to {masks}'s "
            f"shape {tuple(shape)}"
        )
    return np.broadcast_to(arr, tuple(shape))


def as_class_ids(
    labels: ArrayLike, num_classes: int, name: str = "labels", *, shape: Sequence[int] | None = None
) -> np.ndarray:
    """Integer class ids in ``[0, num_classes)`` (whole floats accepted) as an int64 array,
    of the given ``shape`` if one is given."""
    arr = as_array(labels, name, "integer class ids")
    kind = arr.dtype.kind
    if kind == "b":
        raise TypeError(f"{name} must be integer class ids, got booleans; use .astype(int)")
    if kind == "f":
        check_no_nan(arr, name)
        not_integer = ~np.isfinite(arr) | (arr != np.round(arr))
        if not_integer.any():
            raise ValueError(
                f"{name} must be integer class ids, got "
                f"{arr[not_integer].flat[0].item()!r} at index "
                f"{first_index(not_integer)}"
            )
    elif kind not in "iu":
        raise TypeError(f"{name} must be integer class ids, got dtype {arr.dtype}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if shape is not None and arr.shape != tuple(shape):
        raise ValueError(
            f"{name} must have shape {tuple(shape)} (one class id per example), "
            f"got shape {arr.shape}"
        )
    out_of_range = (arr < 0) | (arr >= num_classes)
    if out_of_range.any():
        bad = arr[out_of_range].flat[0]
        bad = int(bad) if kind == "f" else bad
        raise ValueError(
            f"{name} must be class ids in [0, {num_classes}) for {num_classes} "
            f"classes, got {bad} at index {first_index(out_of_range)}"
        )
    return arr.astype(np.int64)


def check_axis(axis: Any, arr: np.ndarray, name: str) -> int:
    """``axis`` as a non-negative int for ``arr``, or an AxisError (a ValueError) naming it."""
    axis = as_int(axis, "axis")
    if not -arr.ndim <= axis < arr.ndim:
        raise AxisError(
            f"axis {axis} is out of range for {name} with {arr.ndim} "
            f"dimension{'s' if arr.ndim != 1 else ''} (shape {arr.shape})"
        )
    return axis % arr.ndim


def check_choice(value: Any, name: str, choices: Sequence) -> Any:
    """``value`` if it is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value
