"""What softmax costs at scale: time and peak memory of naive, stable, chunked and online softmax.

Pure NumPy plus the standard library. Times are medians of several runs with
:func:`time.perf_counter`; they change from run to run and machine to machine, so notebooks plot them
and never print them. Peak memory is measured with :mod:`tracemalloc`, to which NumPy reports every
array buffer it allocates; for fixed shapes it is the same on every run, so it can be printed.

The measurements come back as a :class:`ScalingResult` (a list of :class:`Measurement` rows) that a
notebook can tabulate or plot without knowing how they were taken.
"""

from __future__ import annotations

import contextlib
import statistics
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .attention import blockwise_attention, scaled_dot_product_attention
from .numerics import blocked_softmax, naive_softmax, online_softmax
from .validation import as_int

__all__ = [
    "Measurement",
    "ScalingResult",
    "chunked_softmax",
    "stable_softmax",
    "softmax_variants",
    "time_call",
    "peak_memory",
    "measure",
    "measure_softmax_variants",
    "measure_attention_variants",
    "single_threaded_blas",
]

MB = 1_000_000  # decimal megabytes: 1000 x 1000 float32 logits are exactly 4 MB


def chunked_softmax(
    logits: ArrayLike, chunk_rows: int = 256, out: np.ndarray | None = None
) -> np.ndarray:
    """Stable softmax along the last axis, a block of rows at a time, written into one buffer.

    Each block is exponentiated and normalised inside ``out`` (shifted by the row max only where
    a row's sum would be unsafe without it), so apart from the output the only extra memory is
    two numbers per row, the current block's partial sums and copies of its rows that need the
    shift (see :func:`lab_utils.numerics.blocked_softmax`). Passing ``out=logits`` overwrites
    the logits and needs no full-size array at all.

    Parameters
    ----------
    logits : array_like of float, shape (..., K)
        Logits (``-inf`` allowed). NaN and +inf are found through the row maxima, at no extra
        cost, after the pass (with ``out=logits`` the logits are overwritten by then).
    chunk_rows : int, default 256
        Rows per block (after flattening the leading axes).
    out : ndarray, optional
        Destination with the shape of ``logits`` and a floating dtype; may be ``logits`` itself.

    Returns
    -------
    ndarray
        The probabilities (``out`` if given).

    Raises
    ------
    TypeError
        If ``logits`` is not a floating array or ``chunk_rows`` is not an int.
    ValueError
        If ``logits`` is 0-d or has an empty last axis, ``chunk_rows < 1``, or ``out`` does not fit.

    Examples
    --------
    >>> from lab_utils.numerics import softmax
    >>> z = np.array([[2.0, 1.0, 0.1], [1.0, 2.0, 3.0], [1000.0, 1000.0, 0.0]])
    >>> np.allclose(chunked_softmax(z, chunk_rows=2), softmax(z))
    True
    >>> p = chunked_softmax(z, out=z)      # in place: z now holds the probabilities
    >>> p is z
    True
    """
    chunk_rows = as_int(chunk_rows, "chunk_rows", minimum=1)
    logits = np.asarray(logits)
    if logits.dtype.kind != "f":
        raise TypeError(f"logits must be a floating-point array, got dtype {logits.dtype}")
    if out is None:
        out = np.empty_like(logits)  # computed in the logits' own dtype, float16 included
    # The blocked pass itself is numerics' (one implementation for the whole lab).
    try:
        return blocked_softmax(logits, out=out, block_rows=chunk_rows)
    except ValueError as error:  # numerics calls its argument z; here it is logits
        raise ValueError(str(error).replace("z ", "logits ", 1)) from None


def stable_softmax(logits: ArrayLike) -> np.ndarray:
    """The textbook stable softmax along the last axis: subtract the row max, exponentiate, divide.

    Numerically as safe as :func:`lab_utils.numerics.softmax`, but written the obvious way, so
    NumPy holds two full-size arrays at once (``z - max`` while ``exp`` is written, then ``exp``
    while the quotient is written): peak memory is about twice the output. (:func:`lab_utils.numerics.softmax` itself
    works a cache-sized block at a time, like :func:`chunked_softmax`.)

    Parameters
    ----------
    logits : array_like of float, shape (..., K)
        Finite logits (not checked).

    Returns
    -------
    ndarray
        The probabilities.

    Examples
    --------
    >>> stable_softmax(np.array([[1000.0, 1000.0, 0.0]])).round(4)
    array([[0.5, 0.5, 0. ]])
    """
    logits = np.asarray(logits)
    exps = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exps / exps.sum(axis=-1, keepdims=True)


def softmax_variants(chunk_rows: int = 256, block: int = 128) -> dict[str, Callable]:
    """The four softmax implementations compared here, each a function of a 2-D logits array.

    Parameters
    ----------
    chunk_rows : int, default 256
        Rows per block for ``"chunked"``.
    block : int, default 128
        Columns per block for ``"online"`` (:func:`lab_utils.numerics.online_softmax`).

    Returns
    -------
    dict
        ``{"naive", "stable", "chunked", "online"}`` to callables taking ``logits``.

    Examples
    --------
    >>> from lab_utils.numerics import softmax
    >>> z = np.array([[2.0, 1.0, 0.1]])
    >>> variants = softmax_variants()
    >>> list(variants)
    ['naive', 'stable', 'chunked', 'online']
    >>> all(np.allclose(fn(z), softmax(z)) for fn in variants.values())
    True
    """
    chunk_rows = as_int(chunk_rows, "chunk_rows", minimum=1)
    block = as_int(block, "block", minimum=1)
    return {
        "naive": naive_softmax,
        "stable": stable_softmax,
        "chunked": lambda logits: chunked_softmax(logits, chunk_rows=chunk_rows),
        "online": lambda logits: online_softmax(logits, axis=-1, block=block),
    }


def time_call(fn: Callable, *args: Any, repeats: int = 5) -> float:
    """Median wall-clock seconds of ``fn(*args)`` over ``repeats`` runs (after one warm-up run).

    Raises
    ------
    TypeError, ValueError
        If ``fn`` is not callable or ``repeats`` is not a positive int.

    Examples
    --------
    >>> seconds = time_call(np.sort, np.arange(1000.0), repeats=3)
    >>> seconds > 0
    True
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    repeats = as_int(repeats, "repeats", minimum=1)
    fn(*args)  # warm-up: first-call costs (page faults, caches) are not what is being compared
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def peak_memory(fn: Callable, *args: Any, runs: int = 1) -> int:
    """Peak bytes allocated while ``fn(*args)`` runs, beyond what was allocated before the call.

    Measured with :mod:`tracemalloc`, which sees NumPy's array buffers. The returned array counts
    too (it is allocated during the call). Works whether or not tracemalloc was already running.

    tracemalloc also counts small Python objects, including those that another thread (in Jupyter,
    the kernel's messaging threads) happens to allocate during the call; they add a few hundred
    bytes, never remove any. With ``runs > 1`` the smallest of several peaks is returned, which
    leaves out such bystanders and makes the figure repeatable to the byte in practice.

    Parameters
    ----------
    fn : callable
        The function to measure.
    *args
        Its arguments.
    runs : int, default 1
        Number of calls; the smallest peak is returned.

    Returns
    -------
    int
        Bytes (>= 0).

    Raises
    ------
    TypeError, ValueError
        If ``fn`` is not callable or ``runs`` is not a positive int.

    Examples
    --------
    >>> z = np.zeros(1_000_000)          # 8 MB of float64
    >>> round(peak_memory(np.exp, z, runs=3) / 1e6, 1)   # one output array of the same size
    8.0
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    runs = as_int(runs, "runs", minimum=1)
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    peaks = []
    try:
        for _ in range(runs):
            tracemalloc.reset_peak()
            before, _ = tracemalloc.get_traced_memory()
            result = fn(*args)
            _, peak = tracemalloc.get_traced_memory()
            del result
            peaks.append(max(0, peak - before))
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return min(peaks)


@dataclass(frozen=True)
class Measurement:
    """One method at one size: its median time and its peak extra memory.

    Attributes
    ----------
    method : str
        Name of the implementation, e.g. ``"stable"``.
    size : int
        The size on the x-axis (number of logits, or sequence length for attention).
    shape : tuple of int
        Shape of the main input (logits, or queries for attention).
    seconds : float
        Median wall-clock time; varies between runs, so plot it, do not print it.
    peak_bytes : int
        Peak memory allocated during one call (tracemalloc), output included; repeatable.
    input_bytes : int
        Bytes of the input the call works on, for ratios.
    """

    method: str
    size: int
    shape: tuple[int, ...]
    seconds: float
    peak_bytes: int
    input_bytes: int

    @property
    def peak_mb(self) -> float:
        """Peak extra memory in MB (10**6 bytes)."""
        return self.peak_bytes / MB

    @property
    def peak_over_input(self) -> float:
        """Peak extra memory as a multiple of the input's size."""
        return self.peak_bytes / self.input_bytes


@dataclass
class ScalingResult:
    """A tidy table of :class:`Measurement` rows with helpers for plotting and growth rates."""

    measurements: list[Measurement] = field(default_factory=list)
    size_label: str = "size"

    @property
    def methods(self) -> list[str]:
        """Method names in the order they were measured."""
        return list(dict.fromkeys(m.method for m in self.measurements))

    @property
    def sizes(self) -> list[int]:
        """Sizes in increasing order."""
        return sorted({m.size for m in self.measurements})

    def series(self, method: str, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """Sizes and values of ``metric`` (``"seconds"``, ``"peak_bytes"``, ``"peak_mb"``...) for a method."""
        rows = sorted((m for m in self.measurements if m.method == method), key=lambda m: m.size)
        if not rows:
            raise KeyError(f"no measurements for method {method!r}; have {self.methods}")
        if not hasattr(rows[0], metric):
            raise AttributeError(f"Measurement has no metric {metric!r}")
        return (
            np.array([m.size for m in rows], dtype=float),
            np.array([getattr(m, metric) for m in rows], dtype=float),
        )

    def growth(self, method: str, metric: str) -> float:
        """Exponent ``k`` of the best fit ``metric ~ size**k`` (slope on log-log axes).

        ``k = 1`` means the cost doubles when the size doubles; ``k = 2`` means it quadruples.
        """
        sizes, values = self.series(method, metric)
        if len(sizes) < 2:
            raise ValueError("growth needs measurements at two or more sizes")
        if np.any(values <= 0):
            raise ValueError(f"growth needs positive values of {metric!r} for {method!r}")
        slope, _ = np.polyfit(np.log(sizes), np.log(values), 1)
        return float(slope)

    def to_rows(self) -> list[dict]:
        """The measurements as plain dicts (e.g. for ``pandas.DataFrame``)."""
        return [
            dict(
                method=m.method,
                size=m.size,
                shape=m.shape,
                seconds=m.seconds,
                peak_bytes=m.peak_bytes,
                input_bytes=m.input_bytes,
            )
            for m in self.measurements
        ]


def measure(
    fn: Callable, *args: Any, method: str, size: int, repeats: int = 5, memory_runs: int = 3
) -> Measurement:
    """Measure ``fn(*args)``: median time of ``repeats`` runs, and its peak memory in separate runs.

    The memory runs are separate because tracemalloc slows allocation down and would distort times;
    the smallest of ``memory_runs`` peaks is kept (see :func:`peak_memory`).
    """
    main_input = np.asarray(args[0]) if args else np.empty(0)
    seconds = time_call(fn, *args, repeats=repeats)
    peak = peak_memory(fn, *args, runs=memory_runs)
    return Measurement(
        method=method,
        size=int(size),
        shape=tuple(main_input.shape),
        seconds=seconds,
        peak_bytes=peak,
        input_bytes=int(sum(np.asarray(a).nbytes for a in args)),
    )


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit NumPy's BLAS to one thread inside the block (a no-op without ``threadpoolctl``).

    On a shared machine with few cores, a multi-threaded matrix product waits for cores that other
    processes hold, and its time jumps by factors of ten between runs. One thread is slower but
    steady, and the comparison between methods stays fair. ``threadpoolctl`` comes with scikit-learn.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn, a dependency of the lab, installs it
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _validate_shapes(shapes, name: str) -> list[tuple[int, int]]:
    try:
        shapes = [tuple(s) for s in shapes]
    except TypeError:
        raise TypeError(
            f"{name} must be a sequence of (rows, cols) pairs, got {shapes!r}"
        ) from None
    if not shapes:
        raise ValueError(f"{name} must not be empty")
    for shape in shapes:
        if len(shape) != 2:
            raise ValueError(f"each entry of {name} must be a (rows, cols) pair, got {shape}")
        for value in shape:
            as_int(value, f"each entry of {name}", minimum=1)
    return shapes


def measure_softmax_variants(
    shapes: Sequence[tuple[int, int]] = ((250, 1000), (1000, 1000), (4000, 1000)),
    methods: Sequence[str] | None = None,
    repeats: int = 5,
    seed: int = 0,
    chunk_rows: int = 256,
    block: int = 128,
    single_thread: bool = True,
    dtype: str | np.dtype = "float64",
) -> ScalingResult:
    """Time and peak memory of each softmax variant on logits of each shape.

    Parameters
    ----------
    shapes : sequence of (rows, cols)
        Logit array shapes; the size on the x-axis is ``rows * cols``.
    methods : sequence of str, optional
        Subset of ``softmax_variants()`` names; default all four.
    repeats : int, default 5
        Timed runs per method and shape (the median is kept).
    seed : int, default 0
        Seed for the logits (standard normal times 3, drawn in float64 and then cast).
    chunk_rows, block : int
        Passed to :func:`softmax_variants`.
    single_thread : bool, default True
        Measure with NumPy's BLAS limited to one thread (see :func:`single_threaded_blas`).
    dtype : str or numpy.dtype, default "float64"
        Floating dtype of the logits (models usually compute in ``"float32"``).

    Returns
    -------
    ScalingResult
        One :class:`Measurement` per method and shape, ``size_label="logits"``.

    Raises
    ------
    TypeError, ValueError
        On malformed shapes, unknown methods or non-positive counts.

    Examples
    --------
    >>> result = measure_softmax_variants(shapes=[(10, 100), (40, 100)], repeats=1)
    >>> result.methods, result.sizes
    (['naive', 'stable', 'chunked', 'online'], [1000, 4000])
    """
    shapes = _validate_shapes(shapes, "shapes")
    repeats = as_int(repeats, "repeats", minimum=1)
    variants = softmax_variants(chunk_rows=chunk_rows, block=block)
    if methods is None:
        methods = list(variants)
    unknown = [m for m in methods if m not in variants]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; choose from {list(variants)}")
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be a NumPy floating dtype, got {dtype!r}") from None
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"dtype must be a floating dtype such as 'float32', got {dtype}")
    rng = np.random.default_rng(seed)
    result = ScalingResult(size_label="logits")
    with single_threaded_blas() if single_thread else contextlib.nullcontext():
        for rows, cols in shapes:
            logits = (3.0 * rng.standard_normal((rows, cols))).astype(dtype, copy=False)
            for method in methods:
                result.measurements.append(
                    measure(
                        variants[method], logits, method=method, size=rows * cols, repeats=repeats
                    )
                )
            del logits
    return result


def measure_attention_variants(
    lengths: Sequence[int] = (256, 512, 1024),
    d_k: int = 32,
    block: int = 128,
    repeats: int = 3,
    seed: int = 0,
    single_thread: bool = True,
) -> ScalingResult:
    """Time and peak memory of full vs blockwise (online-softmax) self-attention.

    Full attention builds the ``(n, n)`` score and weight matrices, so its memory grows like ``n**2``;
    :func:`lab_utils.attention.blockwise_attention` keeps only ``(n, block)`` scores at a time, so
    its memory grows like ``n``.

    Parameters
    ----------
    lengths : sequence of int
        Sequence lengths ``n`` (queries = keys = values = ``n`` rows of ``d_k`` numbers).
    d_k : int, default 32
        Width of each query/key/value vector.
    block : int, default 128
        Keys per block for the blockwise version.
    repeats : int, default 3
        Timed runs per method and length.
    seed : int, default 0
        Seed for the random queries, keys and values.
    single_thread : bool, default True
        Measure with NumPy's BLAS limited to one thread (see :func:`single_threaded_blas`).

    Returns
    -------
    ScalingResult
        Methods ``"full"`` and ``"blockwise"``, ``size_label="sequence length"``.

    Examples
    --------
    >>> result = measure_attention_variants(lengths=[64, 128], block=32, repeats=1)
    >>> result.methods
    ['full', 'blockwise']
    """
    try:
        lengths = [as_int(n, "each length", minimum=1) for n in lengths]
    except TypeError as error:
        if "each length" in str(error):
            raise
        raise TypeError(f"lengths must be a sequence of ints, got {lengths!r}") from None
    if not lengths:
        raise ValueError("lengths must not be empty")
    d_k = as_int(d_k, "d_k", minimum=1)
    block = as_int(block, "block", minimum=1)
    repeats = as_int(repeats, "repeats", minimum=1)
    rng = np.random.default_rng(seed)
    variants = {
        "full": lambda q, k, v: scaled_dot_product_attention(q, k, v)[0],
        "blockwise": lambda q, k, v: blockwise_attention(q, k, v, block=block),
    }
    result = ScalingResult(size_label="sequence length")
    with single_threaded_blas() if single_thread else contextlib.nullcontext():
        for n in lengths:
            q, k, v = (rng.standard_normal((n, d_k)) for _ in range(3))
            for method, fn in variants.items():
                result.measurements.append(
                    measure(fn, q, k, v, method=method, size=n, repeats=repeats)
                )
    return result
