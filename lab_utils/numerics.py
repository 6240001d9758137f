"""The softmax family in plain NumPy: stable, accurate to a few ulp, with errors a student can act on.

Every function here is pure (no plotting, no widgets, no TensorFlow) and checks its inputs first.
Conventions used throughout:

* ``z`` / ``logits`` are real numbers along ``axis`` (the class axis, last by default); any leading
  axes are a batch. Integers and lists become float64; float16/32/64 keep their dtype.
* A logit of ``-inf`` is allowed and means "probability exactly 0" (this is how masking works).
  ``+inf`` and NaN are rejected: they carry no usable probability.
* ``labels`` are either integer class ids (one fewer axis than the logits) or rows of probabilities
  (one-hot or soft labels, the same shape as the logits).
* A ``mask`` is True where an entry takes part ("keep") and False where it is masked out.
* Booleans are not accepted as logits (a mask passed in the wrong place is the usual cause), nor
  complex numbers, strings or objects; every check raises an error that names the argument.
* Nothing here warns. Where NumPy would, about a value that is provably right (an overflow to
  -inf whose exp is 0 either way) or never returned (a row about to be rejected), the warning is
  silenced at that one place, with the reason next to it.
"""

from __future__ import annotations

import math
import numbers
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .validation import (
    as_array,
    as_class_ids,
    as_float_array,
    as_int,
    as_mask,
    as_positive,
    as_real,
    check_axis,
    check_finite,
    check_no_nan,
    first_index,
)

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
    "smooth_labels",
    "entropy_vs_temperature",
    "neg_log",
    "exp_overflow_threshold",
    "blocked_softmax",
]

Reduction = Literal["mean", "sum", "none"]
_REDUCTIONS = ("mean", "sum", "none")


# ----------------------------------------------------------------------------------------------
# Validation helpers: every public function goes through these before doing any arithmetic.
# ----------------------------------------------------------------------------------------------


def _row_phrase(bad: np.ndarray, name: str) -> str:
    """Name the first flagged row for a message ('the row at index 2'), or the array if 1-D."""
    return name if bad.ndim == 0 else f"the row at index {first_index(bad)}"


def _check_reduction(reduction: str) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    return reduction


def _work_dtype(arr: np.ndarray) -> np.dtype:
    """float16 is computed in float32 (its sums lose digits fast) and rounded once at the end."""
    return np.dtype(np.float32) if arr.dtype == np.float16 else arr.dtype


def _row_max(z: np.ndarray, axis: int, name: str, *, allow_empty_rows: bool = False) -> np.ndarray:
    """Max along ``axis`` (keepdims), which also validates the values for free.

    The maximum propagates NaN and exposes +inf and all -inf rows, so checking the small result
    replaces a full-size ``isnan(z)`` temporary.
    """
    m = z.max(axis=axis, keepdims=True)
    _check_row_max(m, z, axis, name, allow_empty_rows=allow_empty_rows)
    return m


def _check_row_max(
    m: np.ndarray, z: np.ndarray, axis: int, name: str, *, allow_empty_rows: bool = False
) -> None:
    """Raise if the row maxima ``m`` (keepdims) show a NaN, a +inf, or a row of only -inf in ``z``."""
    if np.isnan(m).any():
        raise ValueError(f"{name} contains NaN (first at index {first_index(np.isnan(z))})")
    if np.isposinf(m).any():
        raise ValueError(
            f"{name} contains +inf (first at index {first_index(np.isposinf(z))}); "
            f"logits must be finite (-inf is allowed and means probability 0)"
        )
    if not allow_empty_rows and np.isneginf(m).any():
        raise ValueError(_all_neg_inf_message(np.isneginf(m), axis, name))


def _all_neg_inf_message(empty_rows: np.ndarray, axis: int, name: str) -> str:
    """Error text for rows (flags with keepdims along ``axis``) whose every entry is -inf."""
    where = f"{name} is all -inf"
    if empty_rows.ndim > 1:
        where = (
            f"{name} has a row of only -inf (at index "
            f"{first_index(empty_rows.squeeze(axis=axis))} along the other axes)"
        )
    return (
        f"{where}: its softmax is undefined; use masked_softmax, which returns zeros for "
        f"fully masked rows"
    )


def _shifted(
    z: np.ndarray, m: np.ndarray, temperature: float, dtype: np.dtype, out: np.ndarray | None = None
) -> np.ndarray:
    """Return ``(z - m) / temperature`` (all <= 0, the max is exactly 0), into ``out`` if given."""
    # Subtracting the row max is what makes exp safe: every exponent is <= 0, so exp cannot
    # overflow, and the largest term is exp(0) = 1, so the sum cannot underflow to 0.
    # The subtraction (and a small temperature) can overflow only towards -inf, when the true
    # value is below -max_float; exp of it is 0 either way, so that overflow is harmless and its
    # warning is silenced here and nowhere else.
    # For T > 1 the division comes first (z/T - m/T), because it cannot overflow and a
    # huge T could otherwise bring an overflowed -inf back into range; for T < 1 it comes last,
    # where it can only push already-negative values further down.
    with np.errstate(over="ignore"):
        if temperature > 1.0:
            out = np.divide(z, temperature, out=out, dtype=dtype)
            np.subtract(out, np.divide(m, temperature, dtype=dtype), out=out)
        else:
            out = np.subtract(z, m, out=out, dtype=dtype)
            if temperature != 1.0:
                np.divide(out, temperature, out=out)
    return out


# ----------------------------------------------------------------------------------------------
# The softmax family
# ----------------------------------------------------------------------------------------------


def softmax(z: ArrayLike, axis: int = -1, temperature: float = 1.0) -> np.ndarray:
    r"""Softmax of ``z`` along ``axis``: :math:`\mathrm{softmax}(z)_i = e^{z_i/T} / \sum_j e^{z_j/T}`.

    Stable for every finite input (float32 up to about 3.4e38, float64 up to about 1.8e308) and
    temperatures from tiny to huge; it never warns, overflows or returns NaN.

    Parameters
    ----------
    z : array_like
        Logits, any shape with at least one axis. float16/32/64 keep their dtype; integers and
        lists become float64. ``-inf`` entries get probability exactly 0.
    axis : int, default -1
        The class axis; the probabilities along it sum to 1.
    temperature : float, default 1.0
        ``T > 0``; the logits are divided by it. Small T sharpens towards the argmax, large T
        flattens towards uniform.

    Returns
    -------
    numpy.ndarray
        Probabilities, same shape (and floating dtype) as ``z``.

    Raises
    ------
    TypeError
        If ``z`` is not real numbers (strings, booleans, complex) or ``temperature``/``axis`` has
        the wrong type.
    ValueError
        If ``z`` is empty, contains NaN or +inf, has a row of only -inf, ``axis`` is out of range,
        or ``temperature`` is not a finite number > 0.

    Notes
    -----
    Two paths, chosen row by row. A row whose sum :math:`s = \sum_j e^{z_j/T}` lies in
    :math:`[1, 2^{64}]` (nearly always: its max is then between :math:`-\log n` and 44.4) is
    computed as it stands, :math:`e^{z_i/T} \cdot (1/s)`, with no shift by the max: why those
    bounds make that safe is in ``_safe_sum_bound``. Any other row (its sum overflows, or is
    below 1 because all its logits are very negative, or the temperature is tiny) is shifted by
    its max first, :math:`e^{(z_i - \max z)/T}`, as SciPy and TensorFlow do for every row.

    Accuracy: at T = 1 the unshifted path rounds nothing before ``exp``, so each probability is
    within a few ulp of the exact result (the roundings of exp, of the sum, of 1/s and of the
    product; tested at 4 ulp on short rows; on float32 1024 x 32000 logits of scale 4, median 0.71
    and at most 10.3 float32 ulp against float64; the previous version, which shifted every row,
    gave 3.99 and 35.8).
    On the shifted path the subtraction can lose up to half an ulp of :math:`|z_i - \max z|`,
    which exp turns into a relative error of up to :math:`|z_i - \max z| \cdot \epsilon / 2`;
    given the shifted values, the result is again within a few ulp. For T != 1 the division by T
    rounds too: half an ulp of :math:`z_i/T` on the unshifted path (a relative error of up to
    :math:`|z_i/T| \cdot \epsilon / 2`, at most 22 eps at the top of the range), of
    :math:`(z_i - \max z)/T` on the shifted one. On the array above: T = 2, median 0.57 and at
    most 4.8 ulp (2.04 and 20.1 shifting every row); T = 0.7, median 3.2 and at most 44 (7.4
    and 91): most logits are far nearer 0 than to their row's max.

    Along the last axis of a C-contiguous array, the rows are processed a cache-sized block at a
    time (see :func:`blocked_softmax`). Along another axis, the whole array is exponentiated
    unshifted first and, if some rows are not safe, computed again with a shift that is 0 for
    the safe rows (which therefore keep the same bits) and the max for the others. Either way a
    row's result is the same bit for bit whatever the rows around it.

    Examples
    --------
    >>> softmax([1.0, 2.0, 3.0]).round(4)
    array([0.09  , 0.2447, 0.6652])
    >>> softmax([1000.0, 0.0])          # naive exp(1000) would overflow
    array([1., 0.])
    >>> softmax([[2, 1, 0.1], [1, 2, 3]], axis=0).round(4)
    array([[0.7311, 0.2689, 0.0522],
           [0.2689, 0.7311, 0.9478]])
    >>> softmax([1.0, 2.0], temperature=1e-3)
    array([0., 1.])
    """
    z = as_float_array(z, "z")
    axis = check_axis(axis, z, "z")
    temperature = as_positive(temperature, "temperature")
    dtype = _work_dtype(z)
    # The output array is the only full-size allocation: every step below works in place in it.
    out = np.empty(z.shape, dtype=dtype)
    if axis == z.ndim - 1 and z.flags.c_contiguous:
        # Rows next to each other in memory: a few rows at a time, so the exp, sum and scale find
        # their data still in the CPU cache instead of streaming the whole array from memory
        # again for each step (see benchmarks/bench_softmax.py).
        m = _softmax_blocks(z, out, temperature, dtype)
        _check_row_max(m, z, axis, "z")
    else:
        # The same decision per row as the blocked path, on the whole array: first unshifted,
        # then, if any row's sum is unsafe, all over again shifted by a max that is 0 for the safe
        # rows (so they get the same bits as the first time) and the real one for the others.
        _unblocked(z, out, axis, temperature, dtype)
    return out.astype(z.dtype, copy=False)


def _unblocked(
    z: np.ndarray, out: np.ndarray, axis: int, temperature: float, dtype: np.dtype
) -> None:
    """Softmax of ``z`` along any ``axis`` into ``out`` (a new C-contiguous array), whole-array."""
    # Into out first, then exp in place: the retry below exponentiates the same contiguous values
    # with the same loop, so a safe row's terms and sum are the same both times. Overflows (of
    # z/T, exp or the sum) and inf - inf make a row unsafe, and unsafe rows are redone below.
    with np.errstate(over="ignore", invalid="ignore"):
        if temperature == 1.0:
            np.copyto(out, z)
        else:
            np.divide(z, temperature, out=out, dtype=dtype)
        np.exp(out, out=out)
        sums = out.sum(axis=axis, keepdims=True)
    safe = (sums >= 1) & (sums <= _safe_sum_bound(dtype))
    if not safe.all():
        m = _row_max(z, axis, "z")
        m[safe] = 0  # z - 0 and z/T - 0/T are z and z/T exactly: the first attempt's values
        _shifted(z, m, temperature, dtype, out=out)
        np.exp(out, out=out)
        sums = out.sum(axis=axis, keepdims=True)
    _normalise(out, sums)


# Bytes of output per block of rows. Measured on float32 1024 x 32000 (the array of
# benchmarks/bench_softmax.py), each size in turn against one in-place exp in the same repeat,
# median of 25, two runs, on a shared 2-core AMD EPYC (1 MiB of L2 per core, 32 MiB of L3) with a
# load average of 2: 512 KiB 2.19-2.21x, 1 MiB 2.08-2.10x, 2 MiB 2.07-2.08x, 4 MiB 2.08-2.10x,
# 8 MiB 2.15-2.17x (in a quieter moment 1 MiB 2.01-2.05x and 2 MiB 1.99-2.02x). Fewer blocks mean
# less of Python's per-block overhead (about a dozen NumPy calls, some 7 us) until a block and its
# logits no longer stay in the caches.
_CACHE_BLOCK_BYTES = 2 * 1024 * 1024
# With out=z (or any out that overlaps z), a block's terms go into a scratch buffer of at most
# this many bytes (at least one row), so that writing into z in place still needs no array of
# z's size: such blocks are smaller, and slower by their per-block overhead.
_SCRATCH_BYTES = 32 * 1024
# Most entries per partial sum in _row_sums.
_SUM_CHUNK = 1024
# Largest row sum s = sum(exp(z/T)) with which a row skips the shift (see _safe_sum_bound).
_SAFE_SUM = 2.0**64


def _safe_sum_bound(dtype: np.dtype) -> float:
    """Largest row sum with which exp(z/T) * (1/sum) needs no shift by the row max, in ``dtype``.

    A row takes that unshifted path when its sum s is in [1, bound] (a NaN sum fails the test):

    * s <= bound (finite): no term overflowed, and 1/s >= 1/bound is a normal number (the bound
      is 2**64, or 1/tiny = 2**14 when the work is done in float16), so the scaling rounds once,
      relatively, as a division would.
    * s >= 1: each probability p = exp(z/T) / s is at most its term exp(z/T). Every p that is a
      normal number therefore comes from a normal term, with all its digits, and a term that
      underflowed to a subnormal (or to 0) belongs to a p below the normal range, which is
      subnormal (or 0) in any method, the shifted one included. A row of only very negative
      logits (s < 1) would lose digits in subnormal terms before the division by a small sum:
      such rows take the shifted path, as do rows whose sum is too large, inf or NaN.
    * Together the bounds keep the row max of z/T between -log(n) and 44.4 (log 2**64), so for
      T != 1 the rounding of z/T ahead of exp costs a relative error of at most 22 eps in the
      largest terms (see :func:`softmax`'s Notes).
    """
    return min(_SAFE_SUM, 1 / float(np.finfo(dtype).tiny))


def _softmax_blocks(
    z: np.ndarray,
    out: np.ndarray,
    temperature: float,
    dtype: np.dtype,
    block_rows: int | None = None,
) -> np.ndarray:
    """Softmax along the last axis of C-contiguous ``z`` into ``out`` (which may be ``z``), a block
    of rows at a time; return row maxima (keepdims) for the caller to check.

    The one blocked implementation: :func:`softmax` and :func:`blocked_softmax` (hence
    ``scaling.chunked_softmax``) use it. A block's terms exp(z/T) are written unshifted, straight
    into ``out`` (into a small scratch buffer when ``out`` overlaps ``z``, whose block must stay
    intact until its result is written), and summed; the rows whose sum is safe
    (:func:`_safe_sum_bound`), normally all of them, are scaled by 1/sum, and only the others are
    computed again from their logits, shifted by their max (:func:`_shifted_rows`). The returned
    maxima are the real ones for the shifted rows and 0 for the others, which a safe sum proves
    finite, free of NaN and not all -inf: the caller's check raises exactly as if every max were
    real. A row's result depends on its own values only, never on its block or its neighbours.

    One thread: sharing the blocks between two threads was measured slower on a loaded 2-core
    machine (41 ms against 36 ms for float32 1024 x 32000).
    """
    n = z.shape[-1]
    z2, out2 = z.reshape(-1, n), out.reshape(-1, n)
    total = z2.shape[0]
    rows = min(total, block_rows or max(1, _CACHE_BLOCK_BYTES // (n * out.itemsize)))
    m = np.zeros((total, 1), dtype=z.dtype)
    sums = np.empty((total, 1), dtype=dtype)
    # The terms go straight into out, unless out is (or overlaps) z, whose block must stay intact
    # until its result is written: then into a small scratch buffer. Same values either way.
    scratch = None
    if np.may_share_memory(z, out):
        rows = min(rows, max(1, _SCRATCH_BYTES // (n * np.dtype(dtype).itemsize)))
        scratch = np.empty((rows, n), dtype=dtype)
    bound = _safe_sum_bound(dtype)
    # Rows whose terms overflow, or that hold NaN, +inf or only -inf, compute inf or NaN here:
    # those results are never returned (the row is recomputed shifted, or the caller raises after
    # checking the maxima), so the warnings are silenced for the loop.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for start in range(0, total, rows):
            block = slice(start, start + rows)
            z_b, out_b, s_b = z2[block], out2[block], sums[block]  # (rows, n), (rows, n), (rows, 1)
            terms = out_b if scratch is None else scratch[: len(z_b)]  # (rows, n)
            if temperature == 1.0:
                np.exp(z_b, out=terms, dtype=dtype)
            else:
                np.exp(np.divide(z_b, temperature, out=terms, dtype=dtype), out=terms)
            _row_sums(terms, out=s_b)
            if s_b.min() >= 1 and s_b.max() <= bound:  # the common case: two tiny calls
                np.multiply(terms, np.reciprocal(s_b, out=s_b), out=out_b)
                continue
            unsafe = np.flatnonzero(~((s_b >= 1) & (s_b <= bound)))
            # A copy of those rows, taken before out_b (which may be z_b) is written.
            redo = z_b[unsafe].astype(dtype, copy=False)
            redo_max = np.empty((len(unsafe), 1), dtype=z.dtype)
            _shifted_rows(redo, redo_max, temperature, dtype, redo, s_b[unsafe])
            np.multiply(terms, np.reciprocal(s_b, out=s_b), out=out_b)
            out_b[unsafe] = redo
            m[start + unsafe] = redo_max
    return m.reshape(z.shape[:-1] + (1,))


def _shifted_rows(
    z: np.ndarray,
    m: np.ndarray,
    temperature: float,
    dtype: np.dtype,
    out: np.ndarray,
    sums: np.ndarray,
) -> None:
    """Softmax of the rows of 2-D ``z`` into ``out`` (may be ``z``), shifted by their maxima, which
    are written into ``m`` (shape ``(rows, 1)``; ``sums`` the same, as scratch)."""
    np.max(z, axis=-1, keepdims=True, out=m)
    _shifted(z, m, temperature, dtype, out=out)
    np.exp(out, out=out)
    _normalise(out, _row_sums(out, out=sums))


def _normalise(terms: np.ndarray, sums: np.ndarray) -> None:
    """Divide ``terms`` in place by their row ``sums`` (keepdims; overwritten with 1 / sums).

    Every caller's sums are >= 1: the shifted paths' because the row max contributed exp(0) = 1,
    the unshifted path's by its test (:func:`_safe_sum_bound`). So 1/sum is a normal number in
    (0, 1]. Multiplying by it rounds twice (about 1 ulp per entry at most, against half an ulp for
    a division) and takes half a division's time or less in cache.
    """
    np.multiply(terms, np.reciprocal(sums, out=sums), out=terms)


def _row_sums(block: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Sums of the rows of 2-D ``block`` into ``out`` (shape ``(rows, 1)``), nearly as accurate as
    NumPy's pairwise sum and several times faster.

    ``np.add.reduce`` along a row is a pairwise sum (error growing like log n) but does not use
    SIMD; ``einsum`` does, but adds sequentially within each SIMD lane (over a row of 32000
    float32 terms, 6e-7 relative error against 5e-8). Summing chunks of ``_SUM_CHUNK`` entries
    with ``einsum`` and the chunk sums pairwise keeps most of both. In softmax on float32
    1024 x 32000 (same run, median of 21): 2.02x one in-place exp against 2.28x with
    ``np.add.reduce``, and a worst error of 10.3 float32 ulp against 7.3 (median 0.71 against
    0.65) relative to float64. (Chunks of 256 entries took 2.05x against 1.98x for chunks of
    1024 in one run, 2.07x against 2.05x in another; the worst error moves between 7 and 12 ulp
    with the chunk size, the median stays between 0.7 and 0.9.)
    """
    rows, n = block.shape
    # As few chunks of at most _SUM_CHUNK entries as will do, all of one size, so that a row of
    # n = chunks * size entries (32000 = 32 * 1000) leaves no ragged tail to sum apart.
    chunks = -(-n // _SUM_CHUNK)
    size = n // chunks
    full = chunks * size
    partial = np.einsum("ijk->ij", block[:, :full].reshape(rows, chunks, size))
    np.add.reduce(partial, axis=-1, keepdims=True, out=out)
    if full < n:
        out += np.einsum("ij->i", block[:, full:])[:, None]
    return out


def blocked_softmax(
    z: ArrayLike,
    out: np.ndarray | None = None,
    *,
    block_rows: int | None = None,
    temperature: float = 1.0,
) -> np.ndarray:
    """Softmax along the last axis, a block of rows at a time, written into one buffer.

    Each block is exponentiated and normalised inside ``out`` while it is in the CPU cache, with
    the same choice per row as :func:`softmax` (unshifted when the row's sum is safe, shifted by
    its max otherwise), so apart from the output the only extra memory is two numbers per row (a
    max and a sum), the block's partial sums (about 1/1000 of a block) and copies of the block's
    rows that must be shifted. ``out=z`` overwrites the logits and needs no full-size array at
    all: the terms then go through a scratch buffer of at most 32 KiB (or one row), and blocks
    are that small.

    Parameters
    ----------
    z : array_like
        Logits along the last axis, a floating dtype (``-inf`` allowed, as in :func:`softmax`).
    out : numpy.ndarray, optional
        C-contiguous destination of ``z``'s shape and a floating dtype; may be ``z`` itself.
        Default: a new array (float16 logits are computed in float32, as in :func:`softmax`).
    block_rows : int, optional
        Rows per block (after flattening the leading axes); default: a block of about 2 MiB
        (with ``out`` overlapping ``z``, at most 32 KiB). The result does not depend on it.
    temperature : float, default 1.0
        ``T > 0``, as in :func:`softmax`.

    Returns
    -------
    numpy.ndarray
        The probabilities (``out`` if given).

    Raises
    ------
    TypeError
        If ``z`` or ``out`` is not floating, or ``block_rows`` is not an int.
    ValueError
        As for :func:`softmax`; also if ``out`` does not fit or is not C-contiguous, or
        ``block_rows < 1``. The values are checked through the row maxima, after the pass: with
        ``out=z``, logits that are rejected have been overwritten already.

    Examples
    --------
    >>> z = np.array([[2.0, 1.0, 0.1], [1000.0, 1000.0, 0.0]])
    >>> blocked_softmax(z, block_rows=1).round(4)
    array([[0.659 , 0.2424, 0.0986],
           [0.5   , 0.5   , 0.    ]])
    >>> blocked_softmax(z, out=z) is z
    True
    """
    arr = np.asarray(z)
    if arr.dtype.kind != "f":
        raise TypeError(f"z must be a floating-point array, got dtype {arr.dtype}")
    if arr.ndim == 0 or arr.shape[-1] == 0:
        raise ValueError(f"z must have a non-empty last axis, got shape {arr.shape}")
    arr = np.ascontiguousarray(arr)
    temperature = as_positive(temperature, "temperature")
    if block_rows is not None:
        block_rows = as_int(block_rows, "block_rows", minimum=1)
    given = out is not None
    if not given:
        out = np.empty(arr.shape, dtype=_work_dtype(arr))
    elif not isinstance(out, np.ndarray) or out.shape != arr.shape:
        raise ValueError(
            f"out must be an ndarray of shape {arr.shape}, got "
            f"{getattr(out, 'shape', type(out).__name__)}"
        )
    elif out.dtype.kind != "f":
        raise TypeError(f"out must have a floating dtype, got {out.dtype}")
    elif not out.flags.c_contiguous:
        raise ValueError("out must be C-contiguous so that it can be filled in place")
    m = _softmax_blocks(arr, out, temperature, out.dtype, block_rows)
    _check_row_max(m, arr, arr.ndim - 1, "z")
    return out if given else out.astype(arr.dtype, copy=False)


def naive_softmax(z: ArrayLike, axis: int = -1) -> np.ndarray:
    r"""The textbook formula :math:`e^{z_i} / \sum_j e^{z_j}`, kept on purpose to show it overflows.

    No max is subtracted, so ``exp`` overflows to ``inf`` past about 709.78 (float64) or 88.72
    (float32) and the result becomes NaN; very negative logits underflow to ``0/0 = NaN``. NumPy's
    overflow warnings are silenced so a notebook shows the broken numbers themselves, cleanly.
    Use :func:`softmax` for real work.

    Parameters
    ----------
    z : array_like
        Logits (``-inf`` and ``+inf`` are passed straight to ``exp``).
    axis : int, default -1
        The class axis.

    Returns
    -------
    numpy.ndarray
        ``exp(z) / sum(exp(z))``, possibly containing ``nan``.

    Raises
    ------
    TypeError
        If ``z`` is not real numbers.
    ValueError
        If ``z`` is empty, contains NaN, or ``axis`` is out of range.

    Examples
    --------
    >>> naive_softmax([1.0, 2.0, 3.0]).round(4)
    array([0.09  , 0.2447, 0.6652])
    >>> naive_softmax([1000.0, 0.0])
    array([nan,  0.])
    >>> naive_softmax(np.array([89.0, 0.0], dtype=np.float32))
    array([nan,  0.], dtype=float32)
    """
    z = as_float_array(z, "z")
    axis = check_axis(axis, z, "z")
    check_no_nan(z, "z")
    # Silenced on purpose: the point of this function is to *show* inf/inf = nan, not to warn.
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        e = np.exp(z)
        return e / e.sum(axis=axis, keepdims=True)


def log_softmax(z: ArrayLike, axis: int = -1, temperature: float = 1.0) -> np.ndarray:
    r"""Log of the softmax, computed directly: :math:`z_i/T - \log\sum_j e^{z_j/T}`.

    Never ``log(softmax(z))``: that turns tiny probabilities into ``log(0) = -inf``. Here
    ``log_softmax([1000, 0, -1000])[2]`` is exactly ``-2000``.

    Parameters
    ----------
    z : array_like
        Logits (``-inf`` allowed: its log-probability is ``-inf``).
    axis : int, default -1
        The class axis.
    temperature : float, default 1.0
        ``T > 0``, as in :func:`softmax`.

    Returns
    -------
    numpy.ndarray
        Log-probabilities, same shape and floating dtype as ``z``; all <= 0.

    Raises
    ------
    TypeError, ValueError
        As for :func:`softmax`.

    Examples
    --------
    >>> log_softmax([1000.0, 0.0, -1000.0])
    array([    0., -1000., -2000.])
    >>> np.exp(log_softmax([1.0, 2.0, 3.0])).round(4)
    array([0.09  , 0.2447, 0.6652])
    """
    z = as_float_array(z, "z")
    axis = check_axis(axis, z, "z")
    temperature = as_positive(temperature, "temperature")
    dtype = _work_dtype(z)
    m = _row_max(z, axis, "z")
    out = _shifted(z, m, temperature, dtype)
    np.subtract(out, _log1p_rest(out, axis), out=out)
    # float16 input was computed in float32; a log-probability below float16's range rounds to -inf
    # in the cast, which is its correctly rounded value, so that overflow is not an error.
    with np.errstate(over="ignore"):
        return out.astype(z.dtype, copy=False)


def logsumexp(z: ArrayLike, axis: int = -1) -> np.ndarray | float:
    r"""Stable :math:`\log\sum_i e^{z_i}` along ``axis``: :math:`m + \log\sum_i e^{z_i - m}`, m = max z.

    Parameters
    ----------
    z : array_like
        Values (``-inf`` allowed; a row of only ``-inf`` gives ``-inf``, the log of 0).
    axis : int, default -1
        The axis to reduce.

    Returns
    -------
    numpy.ndarray or float
        ``z``'s shape without ``axis``, in ``z``'s floating dtype; a Python float for 1-D input.

    Raises
    ------
    TypeError, ValueError
        As for :func:`softmax` (except that rows of only ``-inf`` are allowed).

    Examples
    --------
    >>> logsumexp([1000.0, 1000.0])       # 1000 + log 2, no overflow
    1000.6931471805599
    >>> logsumexp([[0.0, 0.0], [1.0, -np.inf]])
    array([0.69314718, 1.        ])
    """
    z = as_float_array(z, "z")
    axis = check_axis(axis, z, "z")
    dtype = _work_dtype(z)
    m = _row_max(z, axis, "z", allow_empty_rows=True)
    # A row of only -inf has max -inf; shifting by 0 instead avoids -inf - (-inf) = NaN and gives
    # log(sum(exp(-inf))) = log(0) = -inf, the right answer.
    empty_rows = np.isneginf(m)
    m = np.where(empty_rows, 0, m).astype(dtype)
    result = np.where(empty_rows, -np.inf, m + _log1p_rest(_shifted(z, m, 1.0, dtype), axis))
    result = result.squeeze(axis=axis).astype(z.dtype, copy=False)
    return float(result) if result.ndim == 0 else result


def _log1p_rest(shifted: np.ndarray, axis: int, overwrite: bool = False) -> np.ndarray:
    """``log(sum(exp(shifted)))`` (keepdims) for rows whose max is exactly 0, to the last bit;
    ``overwrite`` computes the exponentials in ``shifted`` itself (no temporary).

    The max contributes exp(0) = 1 exactly; the other terms sum to ``s``, and the result is
    ``log1p(s)``. Summing 1 + s first would round away an ``s`` below half an ulp of 1
    (``logsumexp([0, -40])`` would be 0.0 instead of 4.25e-18). SciPy's ``logsumexp`` also
    takes ``log1p`` of the non-maximal terms.
    """
    terms = np.exp(shifted, out=shifted if overwrite else None)
    # Drop one term equal to exp(0) = 1 from each row (the first largest: exp is monotonic).
    np.put_along_axis(terms, np.argmax(terms, axis=axis, keepdims=True), 0, axis=axis)
    return np.log1p(terms.sum(axis=axis, keepdims=True))


def sigmoid(z: ArrayLike) -> np.ndarray | float:
    r"""The logistic function :math:`\sigma(z) = 1 / (1 + e^{-z})`, stable for every input.

    It is the two-class softmax: :math:`\sigma(z) = \mathrm{softmax}([z, 0])_0`.

    Parameters
    ----------
    z : array_like
        Any shape, scalars included; ``-inf`` gives 0 and ``+inf`` gives 1.

    Returns
    -------
    numpy.ndarray or float
        Same shape and floating dtype as ``z``; a Python float for a scalar.

    Raises
    ------
    TypeError
        If ``z`` is not real numbers.
    ValueError
        If ``z`` is empty or contains NaN.

    Examples
    --------
    >>> sigmoid(0.0)
    0.5
    >>> sigmoid([-1000.0, 1000.0])
    array([0., 1.])
    >>> bool(np.isclose(sigmoid(2.0), softmax([2.0, 0.0])[0]))
    True
    """
    z = as_float_array(z, "z", min_ndim=0)
    check_no_nan(z, "z")
    # exp(-|z|) is in (0, 1], so it never overflows; each sign then uses the form without
    # cancellation: 1 / (1 + e^{-z}) for z >= 0 and e^{z} / (1 + e^{z}) for z < 0.
    e = np.exp(-np.abs(z))
    result = np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype, copy=False)
    return float(result) if result.ndim == 0 else result


def masked_softmax(z: ArrayLike, mask: ArrayLike, axis: int = -1) -> np.ndarray:
    r"""Softmax over the entries where ``mask`` is True; masked entries get probability exactly 0.

    The convention is **True = keep** (take part in the softmax), as in Keras' ``attention_mask``
    and the 1/0 padding masks of tokenisers. A row with nothing kept (fully masked, or every kept
    logit ``-inf``) is all zeros, never NaN: in attention it is a padding query that attends to
    nothing. Every row is shifted by the max of its kept entries (what :func:`softmax` does only
    for rows it cannot take unshifted), so the two can differ by that shift's rounding, a relative
    error of up to :math:`|z_i - \max z| \cdot \epsilon / 2` (see :func:`softmax`'s Notes).

    Parameters
    ----------
    z : array_like
        Logits. Values at masked positions are ignored entirely (they may even be NaN or +inf,
        like the garbage often left in padding); kept values follow :func:`softmax`'s rules.
    mask : array_like of bool (or of 0/1 integers)
        Same shape as ``z`` or broadcastable to it (e.g. ``(n,)`` for every row of ``(b, n)``).
    axis : int, default -1
        The class axis.

    Returns
    -------
    numpy.ndarray
        Same shape and floating dtype as ``z``; each row sums to 1, or to 0 if fully masked.

    Raises
    ------
    TypeError
        If ``z`` is not real numbers, or ``mask`` is not boolean/0-1 integers (a float mask is
        likely an additive ``-inf`` mask: add it to ``z`` and call :func:`softmax` instead).
    ValueError
        As for :func:`softmax`, or if ``mask`` does not broadcast to ``z``'s shape or has values
        other than 0/1.

    Examples
    --------
    >>> masked_softmax([1.0, 2.0, 3.0], [True, True, False]).round(4)
    array([0.2689, 0.7311, 0.    ])
    >>> masked_softmax([[1.0, 2.0], [3.0, 4.0]], [[True, True], [False, False]]).round(4)
    array([[0.2689, 0.7311],
           [0.    , 0.    ]])
    """
    z = as_float_array(z, "z")
    axis = check_axis(axis, z, "z")
    keep = as_mask(mask, "mask", z.shape, masks="z")
    dtype = _work_dtype(z)
    # Masked logits become -inf, so exp gives them exactly 0 in the same pass as the rest.
    masked = np.where(keep, z.astype(dtype, copy=False), -np.inf).astype(dtype, copy=False)
    m = _row_max(masked, axis, "z", allow_empty_rows=True)
    empty_rows = np.isneginf(m)
    # Shift empty rows by 0 (not -inf) so their entries stay -inf - 0 = -inf and exp gives 0.
    m[empty_rows] = 0
    out = _shifted(masked, m, 1.0, dtype, out=masked)
    np.exp(out, out=out)
    sums = out.sum(axis=axis, keepdims=True)
    sums[empty_rows] = 1  # their entries are all 0 already; 0 / 1 keeps them 0 without a 0/0
    _normalise(out, sums)
    return out.astype(z.dtype, copy=False)


def online_softmax(z: ArrayLike, axis: int = -1, block: int = 1024) -> np.ndarray:
    """Softmax with a single streaming pass over blocks (Milakov & Gimelshein, 2018).

    Pass 1 walks the class axis in blocks of ``block`` entries, keeping a running max ``m`` and a
    running sum ``s`` of ``exp(z - m)``; when a block raises the max, the old sum is rescaled by
    ``exp(m_old - m_new)``. Pass 2 writes ``exp(z - m) / s`` into the output. Nothing of the
    input's size is allocated besides the output, but pass 1 still writes every block's
    exponentials into the output (its scratch space) and pass 2 overwrites them: with the whole
    array in memory this saves no memory over a chunked softmax that shifts and divides a block
    of rows in place. What the running max and sum save is the *row*: the max need not be known
    before the sum starts, so a row can be summed block by block in one pass, as blockwise
    attention and FlashAttention do with the keys (Rabe & Staats, 2021). Each rescaling rounds
    once more, so the result is within a few ulp of the exact softmax of the shifted values
    ``z - max(z)``; it can differ from :func:`softmax` also by that shift's rounding, which
    :func:`softmax` avoids on the rows it takes unshifted (see its Notes).

    Parameters
    ----------
    z : array_like
        Logits, as for :func:`softmax`.
    axis : int, default -1
        The class axis.
    block : int, default 1024
        Number of entries along ``axis`` read per step in pass 1 (>= 1).

    Returns
    -------
    numpy.ndarray
        ``softmax(z, axis)``, to within a few ulp and the rounding of the shift.

    Raises
    ------
    TypeError, ValueError
        As for :func:`softmax`, or if ``block`` is not a positive integer.

    References
    ----------
    M. Milakov and N. Gimelshein, "Online normalizer calculation for softmax", arXiv:1805.02867, 2018.
    M. N. Rabe and C. Staats, "Self-attention Does Not Need O(n^2) Memory", arXiv:2112.05682, 2021.

    Examples
    --------
    >>> online_softmax([1.0, 2.0, 3.0, 1000.0], block=2).round(4)
    array([0., 0., 0., 1.])
    >>> bool(np.allclose(online_softmax(np.arange(10.0), block=3), softmax(np.arange(10.0))))
    True
    """
    z = as_float_array(z, "z")
    axis = check_axis(axis, z, "z")
    block = as_int(block, "block", minimum=1)
    dtype = _work_dtype(z)
    out = np.empty(z.shape, dtype=dtype)
    # Work along the last axis of views: blocks are then slices [..., start:stop] of both arrays.
    zt, out_t = np.moveaxis(z, axis, -1), np.moveaxis(out, axis, -1)
    running_max = np.full(zt.shape[:-1] + (1,), -np.inf, dtype=dtype)
    running_sum = np.zeros(zt.shape[:-1] + (1,), dtype=dtype)
    # Pass 1: one read of each block. Its exp terms are written into the output's own memory
    # (overwritten in pass 2), so no temporary array is needed at all, whatever the block size.
    for start in range(0, zt.shape[-1], block):
        chunk, scratch = zt[..., start : start + block], out_t[..., start : start + block]
        chunk_max = chunk.max(axis=-1, keepdims=True)
        if np.isnan(chunk_max).any() or np.isposinf(chunk_max).any():
            _row_max(z, axis, "z")  # error path only: finds the culprit and raises
        new_max = np.maximum(running_max, chunk_max)
        # Rows whose values so far are all -inf shift by 0, so -inf - (-inf) = NaN never happens.
        shift = np.where(np.isneginf(new_max), 0, new_max).astype(dtype, copy=False)
        # Rescale the old sum to the new max (exp(old - new) <= 1), then add this block's terms.
        # Both exponents are <= 0; an overflow to -inf there means a term below the float range,
        # whose exp is 0 either way.
        with np.errstate(over="ignore"):
            running_sum *= np.exp(running_max - shift)
            np.subtract(chunk, shift, out=scratch, dtype=dtype)
        running_sum += np.exp(scratch, out=scratch).sum(axis=-1, keepdims=True)
        running_max = new_max
    if np.isneginf(running_max).any():
        raise ValueError(
            _all_neg_inf_message(np.moveaxis(np.isneginf(running_max), -1, axis), axis, "z")
        )
    # Pass 2: normalise with the final max and sum, writing straight into the output.
    _shifted(zt, running_max, 1.0, dtype, out=out_t)
    np.exp(out_t, out=out_t)
    np.divide(out_t, running_sum, out=out_t)
    return out.astype(z.dtype, copy=False)


# ----------------------------------------------------------------------------------------------
# Labels, losses and gradients
# ----------------------------------------------------------------------------------------------


def one_hot(labels: ArrayLike, num_classes: int) -> np.ndarray:
    """One-hot rows for integer class ids: ``labels.shape + (num_classes,)``, float64.

    Parameters
    ----------
    labels : array_like of int
        Class ids in ``[0, num_classes)``; any shape (a scalar gives one row). Whole-number
        floats such as ``2.0`` are accepted.
    num_classes : int
        Number of classes (>= 1).

    Returns
    -------
    numpy.ndarray
        float64 array with a single 1.0 per row, at the label.

    Raises
    ------
    TypeError
        If ``labels`` is not integers, or ``num_classes`` is not an int.
    ValueError
        If a label is out of range or fractional, ``labels`` is empty, or ``num_classes`` < 1.

    Examples
    --------
    >>> one_hot([0, 2], 3)
    array([[1., 0., 0.],
           [0., 0., 1.]])
    """
    num_classes = as_int(num_classes, "num_classes", minimum=1)
    ids = as_class_ids(labels, num_classes)
    # Comparing with 0..C-1 broadcasts to the one-hot rows directly.
    return (ids[..., None] == np.arange(num_classes)).astype(np.float64)


def smooth_labels(labels: ArrayLike, num_classes: int, alpha: float) -> np.ndarray:
    r"""Label-smoothed targets :math:`(1 - \alpha)\,\mathbf e_y + \alpha / N`, one row per label.

    The true class keeps :math:`1 - \alpha + \alpha/N` and every other class gets :math:`\alpha/N`,
    so each row still sums to 1. This is the rule of Keras' ``CategoricalCrossentropy(label_smoothing=alpha)``
    (the mass :math:`\alpha` is spread over all :math:`N` classes, the true one included), which
    tests/test_exercises_label_smoothing.py checks.

    Parameters
    ----------
    labels : array_like of int
        Class ids in ``[0, num_classes)``, any shape.
    num_classes : int
        Number of classes :math:`N` (>= 1).
    alpha : float
        Smoothing in ``[0, 1]``: 0 gives the one-hot rows, 1 the uniform rows.

    Returns
    -------
    numpy.ndarray
        float64, shape ``labels.shape + (num_classes,)``.

    Raises
    ------
    TypeError, ValueError
        As for :func:`one_hot`; also if ``alpha`` is not a number in [0, 1].

    Examples
    --------
    >>> smooth_labels([0, 2], 3, 0.3)
    array([[0.8, 0.1, 0.1],
           [0.1, 0.1, 0.8]])
    """
    alpha = as_real(alpha, "alpha", low=0.0, high=1.0)
    return (1.0 - alpha) * one_hot(labels, num_classes) + alpha / num_classes


def _split_labels(labels: ArrayLike, values: np.ndarray, axis: int, values_name: str):
    """Decide whether ``labels`` are sparse ids or dense rows by shape; return (kind, array)."""
    arr = as_array(labels, "labels", "class ids or probability rows")
    batch_shape = values.shape[:axis] + values.shape[axis + 1 :]
    num_classes = values.shape[axis]
    if arr.shape == batch_shape:
        return "sparse", as_class_ids(arr, num_classes)
    if arr.shape == values.shape:
        dense = as_float_array(arr, "labels")
        check_finite(dense, "labels")
        if (dense < 0).any():
            raise ValueError(
                f"labels given as rows must be probabilities >= 0, got "
                f"{dense[dense < 0].flat[0].item()!r} at index {first_index(dense < 0)}"
            )
        sums = dense.sum(axis=axis, dtype=np.float64)
        tolerance = math.sqrt(np.finfo(dense.dtype).eps)
        bad = np.abs(sums - 1) > tolerance
        if bad.any():
            hint = ""
            if arr.dtype.kind in "iu":
                hint = (
                    f"; integer labels shaped like {values_name} are read as one-hot rows, "
                    f"class ids have shape {batch_shape}"
                )
            raise ValueError(
                f"labels given as rows must each sum to 1 (one-hot or probabilities), "
                f"but {_row_phrase(bad, 'labels')} sums to {sums[bad].flat[0]:.6g}"
                f"{hint}"
            )
        return "dense", dense
    hint = ""
    if arr.shape == batch_shape + (1,):
        hint = " (a column of ids: flatten it with labels.reshape(-1))"
    raise ValueError(
        f"labels has shape {arr.shape} but {values_name} has shape {values.shape}: "
        f"give integer class ids of shape {batch_shape} or probability rows of "
        f"shape {values.shape}{hint}"
    )


def _check_order(scores: ArrayLike, labels: ArrayLike, scores_name: str) -> None:
    """Raise if the call looks like the lab's old order ``(labels, scores)``.

    Class ids have one axis fewer than the scores, probability rows as many: labels with one axis
    more than the scores can only be the two arguments swapped.
    """
    try:
        swapped = np.ndim(labels) == np.ndim(scores) + 1
    except ValueError:  # a ragged list: the checks that follow name it
        return
    if swapped:
        raise ValueError(
            f"labels has {np.ndim(labels)} axes and {scores_name} {np.ndim(scores)}: "
            f"the {scores_name} come first, then the labels "
            f"(were the two swapped?)"
        )


def _reduce(losses: np.ndarray, reduction: str) -> np.ndarray | float:
    if reduction == "none":
        return losses
    return float(losses.mean() if reduction == "mean" else losses.sum())


def cross_entropy(
    logits: ArrayLike, labels: ArrayLike, axis: int = -1, reduction: Reduction = "mean"
) -> np.ndarray | float:
    r"""Cross-entropy :math:`-\sum_i y_i \log \mathrm{softmax}(z)_i`, computed from the logits.

    Works in log space (via the log-sum-exp), so a confident mistake costs what it should:
    ``cross_entropy([1000, 0, -1000], 2)`` is exactly 2000, where ``-log(softmax + eps)`` caps the
    loss. This is what Keras does with ``from_logits=True``.

    Parameters
    ----------
    logits : array_like
        Raw scores; ``-inf`` is allowed (a true class at ``-inf`` costs ``inf``).
    labels : array_like
        Either integer class ids with the logits' shape minus ``axis`` (sparse), or rows of
        one-hot/probabilities with the logits' shape (dense; each row sums to 1).
    axis : int, default -1
        The class axis of ``logits``.
    reduction : {"mean", "sum", "none"}, default "mean"
        Average or sum over the examples (returned as a Python float), or return the per-example
        losses (an array of the batch shape).

    Returns
    -------
    float or numpy.ndarray
        The loss in nats (natural log).

    Raises
    ------
    TypeError
        If inputs are not numbers or labels are booleans.
    ValueError
        For bad logits (as in :func:`softmax`), labels out of range, fractional or mismatched in
        shape, dense rows that are negative or do not sum to 1, or an unknown ``reduction``.

    Examples
    --------
    >>> cross_entropy([1000.0, 0.0, -1000.0], 2)
    2000.0
    >>> round(cross_entropy([[2.0, 0.0], [0.0, 2.0]], [0, 1]), 6)
    0.126928
    >>> cross_entropy([[0.0, 0.0], [0.0, 0.0]], [[0.0, 1.0], [0.5, 0.5]], reduction="none").round(4)
    array([0.6931, 0.6931])
    """
    _check_order(logits, labels, "logits")
    logits = as_float_array(logits, "logits")
    axis = check_axis(axis, logits, "logits")
    reduction = _check_reduction(reduction)
    kind, y = _split_labels(labels, logits, axis, "logits")
    dtype = _work_dtype(logits)
    m = _row_max(logits, axis, "logits")
    if kind == "sparse":
        log_sum = _log1p_rest(_shifted(logits, m, 1.0, dtype), axis, overwrite=True).squeeze(axis)
        # loss = log(sum exp(z - m)) - (z_y - m); z_y - m is exact-ish and never positive.
        picked = np.take_along_axis(logits, np.expand_dims(y, axis), axis=axis)
        picked_shifted = _shifted(picked, m, 1.0, dtype).squeeze(axis=axis)
        losses = log_sum - picked_shifted
    else:
        log_probs = log_softmax(logits, axis=axis).astype(dtype, copy=False)
        # 0 * log(0) counts as 0: a zero label never meets a -inf log-probability.
        terms = np.multiply(y.astype(dtype), log_probs, out=np.zeros_like(log_probs), where=y != 0)
        losses = -terms.sum(axis=axis)
    return _reduce(losses.astype(logits.dtype, copy=False), reduction)


def cross_entropy_from_probs(
    probs: ArrayLike,
    labels: ArrayLike,
    eps: float = 1e-7,
    axis: int = -1,
    reduction: Reduction = "mean",
) -> np.ndarray | float:
    r"""Cross-entropy from probabilities, exactly as Keras computes it with ``from_logits=False``.

    Keras clips probabilities to ``[eps, 1 - eps]`` (``eps = keras.config.epsilon() = 1e-7``)
    before the log, so no loss can exceed :math:`-\log(\epsilon) \approx 16.12`: a confident
    mistake is capped and its gradient vanishes. This function mirrors Keras' TensorFlow backend:

    * dense labels (``categorical_crossentropy``): rows are first divided by their sum, then
      clipped; loss :math:`= -\sum_i y_i \log p_i`;
    * integer labels (``sparse_categorical_crossentropy``): probabilities are clipped, then used as
      ``log`` logits, i.e. loss :math:`= \log\sum_j \tilde p_j - \log \tilde p_y`.

    Parameters
    ----------
    probs : array_like
        Probabilities in [0, 1] (e.g. a softmax output); rows are not required to sum to 1 but
        must not be all zero.
    labels : array_like
        Integer class ids or probability rows, as in :func:`cross_entropy`.
    eps : float, default 1e-7
        Clipping constant, ``0 < eps < 0.5``.
    axis : int, default -1
        The class axis.
    reduction : {"mean", "sum", "none"}, default "mean"
        As in :func:`cross_entropy`.

    Returns
    -------
    float or numpy.ndarray
        The loss in nats.

    Raises
    ------
    TypeError, ValueError
        As for :func:`cross_entropy`; also if ``probs`` is outside [0, 1] (logits passed by
        mistake?), a row of ``probs`` is all zero, or ``eps`` is not in (0, 0.5).

    Examples
    --------
    >>> p = softmax([1000.0, 0.0, -1000.0])
    >>> round(cross_entropy_from_probs(p, 2), 4)      # capped, while the true loss is 2000
    16.1181
    >>> round(cross_entropy_from_probs([[0.9, 0.1], [0.2, 0.8]], [0, 1]), 6)
    0.164252
    """
    _check_order(probs, labels, "probs")
    probs = as_float_array(probs, "probs")
    axis = check_axis(axis, probs, "probs")
    reduction = _check_reduction(reduction)
    eps = as_positive(eps, "eps")
    if eps >= 0.5:
        raise ValueError(f"eps must be < 0.5, got {eps!r}")
    check_no_nan(probs, "probs")
    outside = (probs < 0) | (probs > 1)
    if outside.any():
        raise ValueError(
            f"probs must lie in [0, 1], got {probs[outside].flat[0].item()!r} at index "
            f"{first_index(outside)}; for raw scores (logits) use cross_entropy"
        )
    if (probs.max(axis=axis) == 0).any():
        raise ValueError("probs has a row that is all zero; it is not a probability distribution")
    kind, y = _split_labels(labels, probs, axis, "probs")
    dtype = _work_dtype(probs)
    p = probs.astype(dtype, copy=False)
    low, high = dtype.type(eps), dtype.type(1) - dtype.type(eps)
    if kind == "sparse":
        clipped = np.clip(p, low, high)
        picked = np.take_along_axis(clipped, np.expand_dims(y, axis), axis=axis).squeeze(axis=axis)
        losses = np.log(clipped.sum(axis=axis)) - np.log(picked)
    else:
        clipped = np.clip(p / p.sum(axis=axis, keepdims=True), low, high)
        losses = -(y.astype(dtype) * np.log(clipped)).sum(axis=axis)
    return _reduce(losses.astype(probs.dtype, copy=False), reduction)


def softmax_jacobian(z: ArrayLike) -> np.ndarray:
    r"""Jacobian of softmax over the last axis: :math:`J = \mathrm{diag}(s) - s s^\top`, s = softmax(z).

    :math:`J_{ij} = \partial s_i / \partial z_j`. Batched: for ``z`` of shape ``(..., n)`` the result
    has shape ``(..., n, n)``. J is symmetric and each row sums to 0 (adding a constant to all
    logits changes nothing).

    The diagonal is computed as :math:`s_i \sum_{j \ne i} s_j` (minus the sum of the off-diagonal
    row) rather than :math:`s_i - s_i^2`, which cancels to 0 when :math:`s_i` rounds to 1.

    Parameters
    ----------
    z : array_like
        Logits, shape ``(..., n)``.

    Returns
    -------
    numpy.ndarray
        Shape ``z.shape + (n,)``, ``z``'s floating dtype.

    Raises
    ------
    TypeError, ValueError
        As for :func:`softmax`.

    Examples
    --------
    >>> softmax_jacobian([0.0, 0.0])
    array([[ 0.25, -0.25],
           [-0.25,  0.25]])
    """
    s = softmax(z, axis=-1)
    jac = -s[..., :, None] * s[..., None, :]
    diagonal = np.arange(s.shape[-1])
    jac[..., diagonal, diagonal] = 0
    # Rows must sum to zero, which fixes the diagonal without the cancellation of s_i - s_i**2.
    jac[..., diagonal, diagonal] = -jac.sum(axis=-1)
    return jac


def cross_entropy_grad(
    logits: ArrayLike, labels: ArrayLike, axis: int = -1, reduction: Reduction = "none"
) -> np.ndarray:
    r"""Gradient of the cross-entropy with respect to the logits: :math:`\mathrm{softmax}(z) - y`.

    With the default ``reduction="none"`` each row is the gradient of *that example's own* loss
    (the famous "prediction minus target"). ``"sum"`` gives the same array (the gradient of the
    summed loss); ``"mean"`` divides it by the number of examples, matching the gradient of
    ``cross_entropy(..., reduction="mean")``.

    Parameters
    ----------
    logits : array_like
        Raw scores.
    labels : array_like
        Integer class ids or probability rows, as in :func:`cross_entropy`.
    axis : int, default -1
        The class axis.
    reduction : {"none", "sum", "mean"}, default "none"
        Which loss the gradient is of, as above.

    Returns
    -------
    numpy.ndarray
        Same shape and floating dtype as ``logits``; each row sums to 0.

    Raises
    ------
    TypeError, ValueError
        As for :func:`cross_entropy`.

    Examples
    --------
    >>> cross_entropy_grad([0.0, 0.0], 0)
    array([-0.5,  0.5])
    >>> cross_entropy_grad([[0.0, 0.0], [0.0, 0.0]], [1, 0], reduction="mean")
    array([[ 0.25, -0.25],
           [-0.25,  0.25]])
    """
    _check_order(logits, labels, "logits")
    logits = as_float_array(logits, "logits")
    axis = check_axis(axis, logits, "logits")
    reduction = _check_reduction(reduction)
    kind, y = _split_labels(labels, logits, axis, "logits")
    grad = softmax(logits, axis=axis)
    if kind == "sparse":
        # Subtract 1 at the label only, instead of building a one-hot array.
        index = np.expand_dims(y, axis)
        np.put_along_axis(grad, index, np.take_along_axis(grad, index, axis=axis) - 1, axis=axis)
    else:
        grad -= y.astype(grad.dtype)
    if reduction == "mean":
        grad /= grad.size // grad.shape[axis]
    return grad


# ----------------------------------------------------------------------------------------------
# Working with probabilities: entropy, top-k and sampling
# ----------------------------------------------------------------------------------------------


def _as_probs(p: ArrayLike, name: str, axis: int) -> tuple[np.ndarray, int]:
    p = as_float_array(p, name)
    axis = check_axis(axis, p, name)
    check_no_nan(p, name)
    outside = (p < 0) | (p > 1)
    if outside.any():
        raise ValueError(
            f"{name} must be probabilities in [0, 1], got {p[outside].flat[0].item()!r} at "
            f"index {first_index(outside)}; for logits use softmax first"
        )
    return p, axis


def entropy(p: ArrayLike, axis: int = -1, base: float | None = None) -> np.ndarray | float:
    r"""Shannon entropy :math:`H(p) = -\sum_i p_i \log p_i` of each distribution along ``axis``.

    Terms with :math:`p_i = 0` count as 0 (the limit of :math:`p \log p`).

    Parameters
    ----------
    p : array_like
        Probabilities in [0, 1]; each row should sum to 1 (checked loosely).
    axis : int, default -1
        The class axis.
    base : float, optional
        Log base: None for nats (natural log), 2 for bits.

    Returns
    -------
    float or numpy.ndarray
        A Python float for one distribution, else an array of the batch shape.

    Raises
    ------
    TypeError, ValueError
        If ``p`` is not numbers, empty, outside [0, 1], a row does not sum to 1, or ``base`` is
        not a number > 0 other than 1.

    Examples
    --------
    >>> entropy([0.5, 0.5], base=2)
    1.0
    >>> entropy([1.0, 0.0, 0.0])
    0.0
    >>> round(entropy(np.full(4, 0.25)), 6)   # log 4, the most uncertain 4-way distribution
    1.386294
    """
    p, axis = _as_probs(p, "p", axis)
    sums = p.sum(axis=axis, dtype=np.float64)
    bad = np.abs(sums - 1) > math.sqrt(np.finfo(p.dtype).eps)
    if bad.any():
        raise ValueError(
            f"p must sum to 1 along axis {axis}, but {_row_phrase(bad, 'p')} sums to "
            f"{sums[bad].flat[0]:.6g}"
        )
    scale = 1.0
    if base is not None:
        base = as_positive(base, "base")
        if base == 1:
            raise ValueError("base must not be 1 (log base 1 is undefined)")
        scale = 1 / math.log(base)
    dtype = _work_dtype(p)
    q = p.astype(dtype, copy=False)
    # Where p = 0, log is never evaluated (no -inf, no 0 * -inf = NaN) and the term stays 0.
    terms = np.zeros_like(q)
    np.log(q, out=terms, where=q > 0)
    np.multiply(q, terms, out=terms)
    result = (-terms.sum(axis=axis) * scale).astype(p.dtype, copy=False)
    result = result + 0.0  # turn -0.0 (from a certain distribution) into 0.0
    return float(result) if result.ndim == 0 else result


def top_k(p: ArrayLike, k: int, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest values along ``axis`` and their indices, largest first.

    Ties keep the lower index first, so the result is deterministic. Works for probabilities or
    logits alike (softmax preserves order).

    Parameters
    ----------
    p : array_like
        Values (probabilities or logits); ``-inf`` is allowed, NaN is not.
    k : int
        How many to return, ``1 <= k <= p.shape[axis]``.
    axis : int, default -1
        The axis to search.

    Returns
    -------
    values : numpy.ndarray
        Shape of ``p`` with ``axis`` of length ``k``, sorted descending.
    indices : numpy.ndarray of int64
        Their positions along ``axis``.

    Raises
    ------
    TypeError
        If ``p`` is not numbers or ``k`` is not an int.
    ValueError
        If ``p`` is empty or contains NaN, ``axis`` is out of range, or ``k`` is out of range.

    Examples
    --------
    >>> values, indices = top_k([0.1, 0.5, 0.2, 0.2], 3)
    >>> values
    array([0.5, 0.2, 0.2])
    >>> indices
    array([1, 2, 3])
    """
    p = as_float_array(p, "p")
    axis = check_axis(axis, p, "p")
    check_no_nan(p, "p")
    n = p.shape[axis]
    k = as_int(k, "k", minimum=1, maximum=n)  # n: the length of the class axis
    # A stable sort of -p lists equal values in index order; negation is exact for floats.
    order = np.argsort(-p, axis=axis, kind="stable")
    indices = np.take(order, np.arange(k), axis=axis).astype(np.int64)
    return np.take_along_axis(p, indices, axis=axis), indices


def sample(
    logits: ArrayLike,
    rng: np.random.Generator,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    size: int | tuple[int, ...] | None = None,
) -> np.ndarray | int:
    """Draw class ids from ``softmax(logits / temperature)``, as language models pick tokens.

    The steps, in the order Hugging Face ``generate`` applies them: divide the logits by the
    temperature; keep only the ``top_k`` largest (ties with the k-th are kept); keep the smallest
    set of most likely tokens whose probability adds up to at least ``top_p`` (nucleus sampling;
    the most likely token is always kept); renormalise; draw by inverting the cumulative sum with
    uniforms from ``rng``. The same ``rng`` state gives the same draws.

    Parameters
    ----------
    logits : array_like
        Shape ``(..., n)``: one distribution over ``n`` classes per leading index.
    rng : numpy.random.Generator
        Source of randomness, e.g. ``np.random.default_rng(0)``.
    temperature : float, default 1.0
        ``T > 0``.
    top_k : int, optional
        Keep the ``k`` most likely classes, ``1 <= k <= n``.
    top_p : float, optional
        Nucleus threshold, ``0 < top_p <= 1``.
    size : int or tuple of int, optional
        Number of draws per distribution. None draws one.

    Returns
    -------
    int or numpy.ndarray of int64
        Shape ``logits.shape[:-1] + size``; a Python int for one draw from one distribution.

    Raises
    ------
    TypeError
        If ``rng`` is not a ``numpy.random.Generator``, or an argument has the wrong type.
    ValueError
        For bad logits or temperature (as in :func:`softmax`), or ``top_k``/``top_p``/``size`` out
        of range.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> sample([0.0, 5.0, 0.0], rng, top_k=1)
    1
    >>> draws = sample([[0.0, 0.0], [0.0, -np.inf]], rng, size=1000)
    >>> draws.shape, draws[1].max()       # class 1 of row 1 has probability 0
    ((2, 1000), np.int64(0))
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator, e.g. np.random.default_rng(0); "
            f"got {type(rng).__name__}"
        )
    probs = softmax(logits, axis=-1, temperature=temperature).astype(np.float64)
    n = probs.shape[-1]
    if top_k is not None:
        top_k = as_int(top_k, "top_k", minimum=1, maximum=n)  # n: the number of classes
        kth = -np.partition(-probs, top_k - 1, axis=-1)[..., top_k - 1 : top_k]
        probs[probs < kth] = 0
        probs /= probs.sum(axis=-1, keepdims=True)
    if top_p is not None:
        top_p = as_real(top_p, "top_p", low=0, high=1, low_open=True)
        if top_p < 1:
            order = np.argsort(-probs, axis=-1, kind="stable")
            sorted_probs = np.take_along_axis(probs, order, axis=-1)
            # Keep a token if the mass strictly before it is still short of top_p: this is the
            # smallest prefix reaching top_p, and always includes the first (mass before it is 0).
            mass_before = np.cumsum(sorted_probs, axis=-1) - sorted_probs
            keep_sorted = mass_before < top_p
            keep = np.empty_like(keep_sorted)
            np.put_along_axis(keep, order, keep_sorted, axis=-1)
            probs[~keep] = 0
            probs /= probs.sum(axis=-1, keepdims=True)
    if size is None:
        draw_shape: tuple[int, ...] = ()
    else:
        sizes = (size,) if isinstance(size, numbers.Integral) else tuple(size)
        draw_shape = tuple(
            as_int(n, "size (a non-negative int or tuple of ints)", minimum=0) for n in sizes
        )
    batch_shape = probs.shape[:-1]
    cdf = np.cumsum(probs.reshape(-1, n), axis=-1)
    uniforms = rng.random((cdf.shape[0], math.prod(draw_shape)))
    draws = np.empty(uniforms.shape, dtype=np.int64)
    for row in range(cdf.shape[0]):
        total = cdf[row, -1]
        # u * total < total always (nextafter guards the rounding), and side="right" skips
        # classes with probability 0, whose cdf step is empty.
        targets = np.minimum(uniforms[row] * total, np.nextafter(total, 0))
        draws[row] = np.searchsorted(cdf[row], targets, side="right")
    draws = draws.reshape(batch_shape + draw_shape)
    return int(draws) if draws.ndim == 0 else draws


def entropy_vs_temperature(logits: ArrayLike, temperatures: ArrayLike) -> np.ndarray:
    """Entropy in nats of ``softmax(logits / T)`` for each temperature ``T``: the curve H(T).

    Parameters
    ----------
    logits : array_like
        One row of logits (1-D).
    temperatures : array_like
        Temperatures > 0 (1-D).

    Returns
    -------
    numpy.ndarray
        ``H[i] = entropy(softmax(logits, temperature=temperatures[i]))``.

    Raises
    ------
    TypeError, ValueError
        If either is not a 1-D array of numbers, or a temperature is not finite and > 0.

    Examples
    --------
    >>> entropy_vs_temperature([1.0, 1.0], [0.5, 2.0]).round(6)   # equal logits: log 2 always
    array([0.693147, 0.693147])
    """
    z = as_float_array(logits, "logits")
    t = as_float_array(temperatures, "temperatures")
    if z.ndim != 1 or t.ndim != 1:
        raise ValueError(f"logits and temperatures must be 1-D, got shapes {z.shape} and {t.shape}")
    check_finite(t, "temperatures")
    if not np.all(t > 0):
        raise ValueError(f"temperatures must be > 0, got {t[t <= 0][0]!r}")
    batch = softmax(np.broadcast_to(z, (t.size, z.size)) / t[:, None])  # (T, classes)
    return np.atleast_1d(entropy(batch))


def neg_log(probs: ArrayLike) -> np.ndarray:
    """``-log p``: the cross-entropy loss of a target predicted with probability ``p``.

    Parameters
    ----------
    probs : array_like
        Probabilities in [0, 1].

    Returns
    -------
    numpy.ndarray
        ``-log(probs)``; ``inf`` where ``probs`` is 0.

    Raises
    ------
    TypeError, ValueError
        If ``probs`` is not numbers, or a value lies outside [0, 1].

    Examples
    --------
    >>> neg_log([1.0, 0.5]).round(4)
    array([0.    , 0.6931])
    """
    p = as_float_array(probs, "probs")
    outside = ~(p >= 0) | (p > 1)
    if outside.any():
        raise ValueError(
            f"probs must be probabilities in [0, 1], got {p[outside].flat[0]!r} "
            f"at index {first_index(outside)}"
        )
    with np.errstate(divide="ignore"):  # -log 0 = inf is the right answer
        return -np.log(p) + 0.0  # + 0.0: -log 1 is 0.0, not -0.0


def exp_overflow_threshold(dtype: DTypeLike) -> float:
    """The largest ``z`` whose ``exp(z)`` is finite in ``dtype``: ``log`` of its largest number.

    Parameters
    ----------
    dtype : dtype-like
        A floating dtype, e.g. ``"float32"``.

    Returns
    -------
    float
        ``log(finfo(dtype).max)``, computed in float64.

    Raises
    ------
    ValueError
        If ``dtype`` is not a floating dtype.

    Examples
    --------
    >>> round(exp_overflow_threshold("float16"), 4), round(exp_overflow_threshold("float32"), 2)
    (11.0899, 88.72)
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating dtype such as 'float32', got {dtype}")
    return float(np.log(np.finfo(dtype).max.astype(np.float64)))
