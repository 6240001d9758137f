"""Exact softmax in decimal arithmetic: the oracle of the ulp-level tests of lab_utils.numerics."""

from __future__ import annotations

from decimal import Decimal, localcontext

import numpy as np


def exact_softmax(values) -> list[Decimal]:
    """Softmax of the given values in 50-digit decimal arithmetic.

    Decimal's exp is correctly rounded and its exponent range reaches far below float64's, so this
    is exact to far more digits than any float result needs. (Shifting by the max here is exact.)
    """
    with localcontext() as ctx:
        ctx.prec = 50
        values = [Decimal(float(v)) for v in values]
        top = max(values)
        exps = [(v - top).exp() for v in values]
        total = sum(exps)
        return [e / total for e in exps]


def ulp_errors(result, exact: list[Decimal], dtype) -> np.ndarray:
    """|result - exact| in units of the spacing of ``dtype`` at the exact value."""
    errors = []
    for got, want in zip(np.ravel(result), exact, strict=True):
        spacing = Decimal(float(np.spacing(dtype(float(want)))))
        errors.append(float(abs(Decimal(float(got)) - want) / spacing))
    return np.array(errors)


def worst_ulp_error(result, z, axis: int = -1, *, shifted: bool = False) -> float:
    """Largest ulp error of ``result`` against the exact softmax of ``z`` along ``axis``.

    With ``shifted=True`` the reference is the exact softmax of ``z - max(z)`` as rounded in
    ``z``'s dtype: the values that a method shifting by the max exponentiates.
    """
    z, result = np.moveaxis(np.asarray(z), axis, -1), np.moveaxis(np.asarray(result), axis, -1)
    worst = 0.0
    for row, got in zip(z.reshape(-1, z.shape[-1]), result.reshape(-1, z.shape[-1]), strict=True):
        values = row - row.max() if shifted else row
        worst = max(worst, ulp_errors(got, exact_softmax(values), result.dtype.type).max())
    return worst
