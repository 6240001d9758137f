"""Behaviour of lab_utils.scaling: chunked softmax, the measuring helpers and the tidy result.

No timed asserts: times are only checked for shape and sign (or with a scripted clock); memory, which
tracemalloc measures repeatably, is checked against what each implementation must allocate.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import softmax as scipy_softmax

from lab_utils import scaling
from lab_utils.scaling import (
    Measurement,
    ScalingResult,
    chunked_softmax,
    measure_attention_variants,
    measure_softmax_variants,
    peak_memory,
    softmax_variants,
    time_call,
)


# ---------------------------------------------------------------- chunked softmax
@settings(max_examples=50, deadline=None)
@given(
    rows=st.integers(1, 30),
    cols=st.integers(1, 12),
    chunk=st.integers(1, 40),
    scale=st.sampled_from([1.0, 50.0, 800.0]),
    seed=st.integers(0, 2**16),
)
def test_chunked_softmax_matches_scipy(rows, cols, chunk, scale, seed):
    z = scale * np.random.default_rng(seed).normal(size=(rows, cols))
    np.testing.assert_allclose(
        chunked_softmax(z, chunk_rows=chunk), scipy_softmax(z, axis=-1), rtol=1e-12, atol=1e-300
    )


def test_chunked_softmax_extreme_and_higher_dimensional():
    z = np.array([[[1000.0, 999.0, -1000.0]], [[-1000.0, -1000.0, -1000.0]]])
    p = chunked_softmax(z, chunk_rows=1)
    assert p.shape == z.shape and not np.isnan(p).any()
    np.testing.assert_allclose(p, scipy_softmax(z, axis=-1), rtol=1e-12)
    p32 = chunked_softmax(np.array([[100.0, 0.0]], dtype=np.float32))
    assert p32.dtype == np.float32 and np.isfinite(p32).all()


def test_chunked_softmax_in_place_overwrites_logits_and_allocates_no_array():
    z = np.random.default_rng(0).normal(size=(2000, 500))
    expected = scipy_softmax(z, axis=-1)
    result = chunked_softmax(z, out=z)
    assert result is z
    np.testing.assert_allclose(z, expected, rtol=1e-12)
    z2 = np.random.default_rng(0).normal(size=(2000, 500))
    assert peak_memory(lambda a: chunked_softmax(a, out=a), z2) < 0.02 * z2.nbytes


def test_chunked_softmax_allocates_only_its_output():
    z = np.random.default_rng(0).normal(size=(2000, 500))  # 8 MB
    peak = peak_memory(chunked_softmax, z)
    assert z.nbytes <= peak < 1.02 * z.nbytes


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(logits=np.arange(3)), TypeError, "floating"),
        (dict(logits=np.ones((2, 0))), ValueError, "non-empty"),
        (dict(logits=np.float64(1.0)), ValueError, "non-empty"),
        (dict(logits=np.ones((2, 3)), chunk_rows=0), ValueError, "chunk_rows"),
        (dict(logits=np.ones((2, 3)), chunk_rows=1.5), TypeError, "chunk_rows"),
        (dict(logits=np.ones((2, 3)), out=np.ones((3, 2))), ValueError, "out"),
        (dict(logits=np.ones((2, 3)), out=np.ones((2, 3), dtype=int)), TypeError, "out"),
    ],
)
def test_chunked_softmax_rejects_bad_input(kwargs, error, words):
    with pytest.raises(error, match=words):
        chunked_softmax(**kwargs)


def test_stable_softmax_is_stable():
    z = np.array([[1000.0, 999.0, -1000.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(scaling.stable_softmax(z), scipy_softmax(z, axis=-1), rtol=1e-14)


def test_all_variants_agree():
    z = 3.0 * np.random.default_rng(1).normal(size=(300, 77))
    expected = scipy_softmax(z, axis=-1)
    for name, fn in softmax_variants(chunk_rows=64, block=10).items():
        np.testing.assert_allclose(fn(z), expected, rtol=1e-10, err_msg=name)


# ---------------------------------------------------------------- measuring helpers
def test_peak_memory_counts_numpy_allocations():
    z = np.zeros(1_000_000)
    assert peak_memory(np.exp, z) == pytest.approx(z.nbytes, rel=0.01)
    # A temporary that is freed before returning still counts towards the peak.
    assert peak_memory(lambda a: float(np.exp(a).sum()), z) == pytest.approx(z.nbytes, rel=0.01)
    assert peak_memory(lambda a: a.shape, z) < 10_000


def test_peak_memory_keeps_the_smallest_of_several_runs():
    calls = []

    def grows_then_shrinks(a):
        calls.append(1)
        return np.ones(len(calls) % 2 * 100_000 + 1000)  # 808 kB on odd calls, 8 kB on even ones

    assert peak_memory(grows_then_shrinks, None, runs=3) == pytest.approx(8000, abs=1000)
    assert len(calls) == 3
    with pytest.raises(ValueError, match="runs"):
        peak_memory(np.exp, np.zeros(3), runs=0)


def test_peak_memory_leaves_tracemalloc_as_it_found_it():
    assert not tracemalloc.is_tracing()
    peak_memory(np.exp, np.zeros(10))
    assert not tracemalloc.is_tracing()
    tracemalloc.start()
    try:
        kept = np.ones(500_000)  # allocated before: not part of the call's peak
        assert peak_memory(np.exp, np.zeros(100_000)) == pytest.approx(800_000, rel=0.02)
        assert tracemalloc.is_tracing()
        del kept
    finally:
        tracemalloc.stop()


def test_peak_memory_is_repeatable():
    # NumPy's buffers are the same every time; a few hundred bytes of Python objects may differ.
    z = np.random.default_rng(0).normal(size=(500, 400))
    for fn in softmax_variants().values():
        peaks = [peak_memory(fn, z) for _ in range(4)]
        assert max(peaks) - min(peaks) < 4096


def test_time_call_returns_the_median_of_the_timed_runs(monkeypatch):
    ticks = iter([0.0, 1.0, 10.0, 13.0, 20.0, 22.0])  # runs of 1, 3 and 2 seconds
    monkeypatch.setattr(scaling.time, "perf_counter", lambda: next(ticks))
    calls = []
    assert time_call(lambda: calls.append(1), repeats=3) == 2.0
    assert len(calls) == 4  # one warm-up + three timed


@pytest.mark.parametrize("fn, repeats, error", [(None, 3, TypeError), (np.exp, 0, ValueError)])
def test_measuring_helpers_reject_bad_input(fn, repeats, error):
    with pytest.raises(error):
        time_call(fn, np.zeros(3), repeats=repeats)
    if fn is None:
        with pytest.raises(TypeError, match="callable"):
            peak_memory(fn, np.zeros(3))


# ---------------------------------------------------------------- tidy results and growth
def _fake_result():
    result = ScalingResult(size_label="n")
    for size in (10, 20, 40):
        result.measurements.append(
            Measurement("square", size, (size,), 1e-6 * size**2, 4 * size**2, 8 * size)
        )
        result.measurements.append(
            Measurement("linear", size, (size,), 1e-6 * size, 16 * size, 8 * size)
        )
    return result


def test_scaling_result_series_and_growth():
    result = _fake_result()
    assert result.methods == ["square", "linear"] and result.sizes == [10, 20, 40]
    sizes, peaks = result.series("square", "peak_bytes")
    np.testing.assert_array_equal(sizes, [10, 20, 40])
    np.testing.assert_array_equal(peaks, [400, 1600, 6400])
    assert result.growth("square", "peak_bytes") == pytest.approx(2.0)
    assert result.growth("linear", "seconds") == pytest.approx(1.0)
    assert result.measurements[1].peak_over_input == 2.0
    assert result.measurements[1].peak_mb == 16 * 10 / 1e6
    assert len(result.to_rows()) == 6 and result.to_rows()[0]["method"] == "square"
    with pytest.raises(KeyError, match="cubic"):
        result.series("cubic", "seconds")
    with pytest.raises(AttributeError, match="colour"):
        result.series("square", "colour")


def test_measure_softmax_variants_memory_is_what_each_method_must_allocate():
    result = measure_softmax_variants(shapes=[(400, 1000), (1600, 1000)], repeats=1)
    assert result.methods == ["naive", "stable", "chunked", "online"]
    assert result.sizes == [400_000, 1_600_000]
    for m in result.measurements:
        assert m.seconds > 0 and m.shape in [(400, 1000), (1600, 1000)]
        assert m.input_bytes == 8 * m.size
        # Every variant returns a new array of probabilities: at least the input's size.
        assert m.peak_bytes >= m.input_bytes
    for method in result.methods:  # memory is linear in the number of logits
        assert result.growth(method, "peak_bytes") == pytest.approx(1.0, abs=0.05)
    ratio = {(m.method, m.size): m.peak_over_input for m in result.measurements}
    for size in result.sizes:
        # The textbook forms hold two full-size arrays at once (exp(z) or z - max, then the quotient);
        # the chunked and online forms hold the output plus block-sized temporaries.
        assert 1.95 < ratio["naive", size] < 2.15 and 1.95 < ratio["stable", size] < 2.15
        assert ratio["chunked", size] < 1.05 and ratio["online", size] < 1.1


def test_measure_softmax_variants_in_float32_halves_the_memory():
    r64 = measure_softmax_variants(shapes=[(400, 1000)], methods=["stable", "chunked"], repeats=1)
    r32 = measure_softmax_variants(
        shapes=[(400, 1000)], methods=["stable", "chunked"], repeats=1, dtype="float32"
    )
    for m64, m32 in zip(r64.measurements, r32.measurements, strict=True):
        assert m32.input_bytes * 2 == m64.input_bytes
        assert m32.peak_bytes == pytest.approx(m64.peak_bytes / 2, rel=0.05)


def test_measure_softmax_variants_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown methods"):
        measure_softmax_variants(shapes=[(2, 2)], methods=["fast"])
    with pytest.raises(ValueError, match="rows, cols"):
        measure_softmax_variants(shapes=[(2, 2, 2)])
    with pytest.raises(ValueError, match="must not be empty"):
        measure_softmax_variants(shapes=[])
    with pytest.raises(ValueError, match="shapes"):
        measure_softmax_variants(shapes=[(0, 3)])
    with pytest.raises(TypeError, match="floating"):
        measure_softmax_variants(shapes=[(2, 2)], dtype="int32")
    with pytest.raises(TypeError, match="dtype"):
        measure_softmax_variants(shapes=[(2, 2)], dtype="bogus")


def test_blockwise_attention_memory_grows_linearly_full_quadratically():
    result = measure_attention_variants(lengths=[256, 512, 1024], d_k=16, block=64, repeats=1)
    assert result.methods == ["full", "blockwise"]
    assert result.growth("full", "peak_bytes") > 1.8
    assert result.growth("blockwise", "peak_bytes") < 1.2
    largest = {m.method: m.peak_bytes for m in result.measurements if m.size == 1024}
    assert largest["blockwise"] < largest["full"] / 4


def test_measure_attention_variants_rejects_bad_input():
    with pytest.raises(ValueError, match="must not be empty"):
        measure_attention_variants(lengths=[])
    with pytest.raises(ValueError, match="length"):
        measure_attention_variants(lengths=[0])
    with pytest.raises(TypeError, match="d_k"):
        measure_attention_variants(lengths=[4], d_k=2.0)


def test_single_threaded_blas_limits_and_restores_blas_threads():
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads():
        return [
            pool["num_threads"]
            for pool in threadpoolctl.threadpool_info()
            if pool["user_api"] == "blas"
        ]

    before = blas_threads()
    assert before, "NumPy should report a BLAS thread pool"
    with scaling.single_threaded_blas():
        assert set(blas_threads()) == {1}
    assert blas_threads() == before
