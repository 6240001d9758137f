"""Behaviour of lab_utils.numerics: values against exact and library oracles, extremes, errors, memory.

Oracles: exact decimal arithmetic (50 significant digits) for ulp-level accuracy, SciPy and
scikit-learn for values, and TensorFlow/Keras in the tests marked ``tensorflow`` (imported lazily,
inside those tests only). Property-based tests live in ``test_numerics_properties.py``.
"""

from __future__ import annotations

import doctest
import inspect
import tracemalloc
from decimal import Decimal, localcontext

import numpy as np
import pytest
import scipy.special
import scipy.stats
from sklearn.metrics import log_loss

import lab_utils
from lab_utils import numerics
from lab_utils.numerics import (
    blocked_softmax,
    cross_entropy,
    cross_entropy_from_probs,
    cross_entropy_grad,
    entropy,
    log_softmax,
    logsumexp,
    masked_softmax,
    naive_softmax,
    one_hot,
    online_softmax,
    sample,
    sigmoid,
    softmax,
    softmax_jacobian,
    top_k,
)
from tests.exact_softmax import exact_softmax, ulp_errors, worst_ulp_error

FLOATS = [np.float16, np.float32, np.float64]


# ---------------------------------------------------------------------------------------------
# Public surface and docs
# ---------------------------------------------------------------------------------------------


def test_docstring_examples_run_and_pass():
    with np.printoptions(legacy=False, precision=8, suppress=False):
        result = doctest.testmod(numerics, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 30
    assert result.failed == 0


@pytest.mark.parametrize("name", numerics.__all__)
def test_public_functions_are_exported_documented_and_typed(name):
    function = getattr(numerics, name)
    assert getattr(lab_utils, name) is function
    doc = function.__doc__
    for section in ("Parameters", "Returns", "Raises", "Examples"):
        assert f"\n    {section}\n    ---" in doc, f"{name} docstring lacks {section}"
    assert "return" in function.__annotations__


def test_numerics_never_imports_tensorflow():
    source = numerics.__file__
    with open(source, encoding="utf-8") as handle:
        text = handle.read()
    assert "import tensorflow" not in text and "import keras" not in text


# ---------------------------------------------------------------------------------------------
# softmax: values, accuracy, dtypes, extremes
# ---------------------------------------------------------------------------------------------


def test_softmax_matches_hand_computed_values():
    z = np.array([1.0, 2.0, 3.0])
    e = np.exp(z)
    np.testing.assert_allclose(softmax(z), e / e.sum(), rtol=1e-15)
    # The seed material's axis=0 example, recomputed: column-wise softmax of two rows.
    batch = np.array([[2.0, 1.0, 0.1], [1.0, 2.0, 3.0]])
    col = softmax(batch, axis=0)
    np.testing.assert_allclose(col[:, 0], [1 / (1 + np.exp(-1)), 1 / (1 + np.exp(1))], rtol=1e-15)
    np.testing.assert_allclose(col.sum(axis=0), 1.0, rtol=1e-15)


def test_softmax_of_one_hot_is_not_one_hot():
    # A common misconception (printed wrongly in seed material): softmax([1, 0, 0]) is soft.
    p = softmax([1.0, 0.0, 0.0])
    np.testing.assert_allclose(p, [np.e / (np.e + 2), 1 / (np.e + 2), 1 / (np.e + 2)], rtol=1e-15)


@pytest.mark.parametrize(
    "shape, axis",
    [
        ((7,), -1),
        ((4, 5), 0),
        ((4, 5), 1),
        ((3, 4, 5), 1),
        ((3, 4, 5), -1),
        ((2, 3, 4, 5), 2),
        ((6, 200), -1),
    ],
)
@pytest.mark.parametrize(
    "func, oracle",
    [
        (softmax, scipy.special.softmax),
        (log_softmax, scipy.special.log_softmax),
        (online_softmax, scipy.special.softmax),
    ],
)
def test_softmax_family_matches_scipy(shape, axis, func, oracle):
    z = np.random.default_rng(sum(shape)).normal(scale=4.0, size=shape)
    # SciPy's log_softmax rounds 1 + s before its log, ours takes log1p(s) (issue 16): near 0 the
    # two differ by a few ulp of 1, where ours is the exact value (checked with Decimal below).
    atol = 4 * np.finfo(float).eps if func is log_softmax else 1e-300
    np.testing.assert_allclose(func(z, axis=axis), oracle(z, axis=axis), rtol=1e-13, atol=atol)


@pytest.mark.parametrize("shape, axis", [((7,), -1), ((4, 5), 0), ((3, 4, 5), 1)])
def test_logsumexp_matches_scipy(shape, axis):
    z = np.random.default_rng(1).normal(scale=4.0, size=shape)
    np.testing.assert_allclose(
        logsumexp(z, axis=axis), scipy.special.logsumexp(z, axis=axis), rtol=1e-14
    )


def test_softmax_of_large_batch_takes_the_blocked_path_and_matches_scipy():
    # Big enough that softmax works through it in cache-sized row blocks (and a ragged last block).
    z = np.random.default_rng(2).normal(scale=5.0, size=(601, 1000)).astype(np.float32)
    assert z.nbytes > numerics._CACHE_BLOCK_BYTES
    exact = scipy.special.softmax(z.astype(np.float64), axis=-1)
    np.testing.assert_allclose(softmax(z), exact, rtol=2e-6)
    np.testing.assert_array_equal(softmax(z)[:7], softmax(z[:7]))
    z[150, 3] = np.nan
    with pytest.raises(ValueError, match=r"z contains NaN \(first at index \(150, 3\)\)"):
        softmax(z)


@pytest.mark.parametrize("cols", [7, 256, 1000, 32000])
def test_blocked_softmax_of_float32_is_within_few_ulp_of_float64_and_blocks_do_not_matter(cols):
    # Issue 16: the blocked path exponentiates z itself (no shift: nothing is rounded before exp),
    # sums its rows in chunks (einsum) and multiplies by 1/sum. Every probability stays within a
    # few float32 ulp of the float64 softmax of the same logits, and a row's result does not
    # depend on the block it was computed in.
    z = (np.random.default_rng(cols).normal(scale=6.0, size=(40, cols))).astype(np.float32)
    exact = scipy.special.softmax(z.astype(np.float64), axis=-1)
    p = softmax(z)
    normal = exact > np.finfo(np.float32).tiny
    errors = np.abs(p - exact)[normal] / exact[normal] / np.finfo(np.float32).eps
    assert errors.max() <= 6.0 and np.median(errors) <= 1.0, (errors.max(), np.median(errors))
    for block_rows in (1, 3, 40):
        np.testing.assert_array_equal(blocked_softmax(z, block_rows=block_rows), p)
    np.testing.assert_array_equal(softmax(z[5]), p[5])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_without_a_shift_is_within_few_ulp_of_exact(dtype):
    # Issue 16: a row whose sum of exp(z) lies in [1, 2**64] (here: max in [0, 40], 9 entries) is
    # exponentiated as it is, so nothing is rounded before exp: within a few ulp of the exact
    # softmax of z itself (exp, the sum, 1/sum and the product each round once).
    rng = np.random.default_rng(3)
    worst = 0.0
    for _ in range(60):
        z = rng.normal(size=9) * rng.choice([1.0, 3.0, 10.0])
        z = (z - z.max() + rng.uniform(0.0, 40.0)).astype(dtype)
        worst = max(worst, worst_ulp_error(softmax(z), z))
        worst = max(worst, worst_ulp_error(softmax(z[:, None], axis=0), z[:, None], 0))
    assert worst <= 4.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_shifted_rows_are_within_few_ulp_of_exact_given_the_shift(dtype):
    # Rows whose sum would overflow or is below 1 (max above 45 or below -log n) are shifted by
    # their max; the only rounding ahead of exp is then z - max(z), and given that value the result
    # is within a few ulp of the exact softmax.
    rng = np.random.default_rng(3)
    worst = 0.0
    for _ in range(60):
        z = rng.normal(size=9) * rng.choice([1.0, 10.0, 100.0])
        z = (z - z.max() + rng.choice([50.0, 500.0, -10.0])).astype(dtype)
        worst = max(worst, worst_ulp_error(softmax(z), z, shifted=True))
        worst = max(
            worst, worst_ulp_error(softmax(z[:, None], axis=0), z[:, None], 0, shifted=True)
        )
    assert worst <= 4.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_is_within_few_ulp_of_exact_for_exactly_representable_shifts(dtype):
    # Integer logits shift exactly, so the result is compared with the exact softmax of z itself.
    rng = np.random.default_rng(4)
    for _ in range(40):
        z = rng.integers(-60, 60, size=7).astype(dtype)
        assert ulp_errors(softmax(z), exact_softmax(z), dtype).max() <= 4.0
        assert ulp_errors(online_softmax(z, block=3), exact_softmax(z), dtype).max() <= 4.0


def test_log_softmax_is_within_few_ulp_of_exact():
    rng = np.random.default_rng(5)
    for _ in range(30):
        z = rng.integers(-500, 500, size=6).astype(np.float64)
        with localcontext() as ctx:
            # log p of the largest logit is -log(1 + s) with s as small as exp(-1000): 50 digits
            # would round 1 + s to 1 (issue 16), so this reference carries 500.
            ctx.prec = 500
            values = [Decimal(float(v)) for v in z]
            total = sum((v - max(values)).exp() for v in values)
            exact = [v - max(values) - total.ln() for v in values]
        assert ulp_errors(log_softmax(z), exact, np.float64).max() <= 2.0


@pytest.mark.parametrize("dtype", FLOATS)
def test_floating_dtypes_are_kept(dtype):
    z = np.array([[0.5, 1.0, -2.0], [3.0, 0.0, 1.0]], dtype=dtype)
    for func in (softmax, log_softmax, online_softmax, naive_softmax):
        assert func(z).dtype == dtype
    assert masked_softmax(z, np.ones(3, bool)).dtype == dtype
    assert softmax_jacobian(z).dtype == dtype
    assert sigmoid(z).dtype == dtype
    assert logsumexp(z).dtype == dtype
    tolerance = {np.float16: 2e-3, np.float32: 2e-6, np.float64: 1e-14}[dtype]
    np.testing.assert_allclose(
        softmax(z).astype(np.float64),
        scipy.special.softmax(z.astype(np.float64), axis=-1),
        rtol=tolerance,
    )


@pytest.mark.parametrize(
    "z",
    [
        [1, 2, 3],
        np.array([1, 2, 3], dtype=np.int8),
        np.array([1, 2, 3], dtype=np.uint64),
        (1.0, 2, 3),
    ],
)
def test_integers_lists_and_tuples_become_float64(z):
    result = softmax(z)
    assert result.dtype == np.float64
    np.testing.assert_allclose(result, scipy.special.softmax([1.0, 2.0, 3.0]), rtol=1e-15)


@pytest.mark.parametrize("func", [softmax, log_softmax, online_softmax])
def test_non_contiguous_views_and_fortran_order(func):
    base = np.random.default_rng(20).normal(scale=3.0, size=(300, 401))
    for view in (base.T, base[::3, ::2], np.asfortranarray(base), base[:, 5:300]):
        for axis in (0, -1):
            expected = (
                scipy.special.log_softmax if func is log_softmax else scipy.special.softmax
            )(view, axis=axis)
            np.testing.assert_allclose(func(view, axis=axis), expected, rtol=1e-13, atol=1e-300)


def test_input_array_is_not_modified():
    z = np.array([[1.0, 5.0, -3.0]] * 400)  # large enough for the blocked path
    copy = z.copy()
    for func in (softmax, log_softmax, online_softmax, logsumexp, softmax_jacobian):
        func(z)
    masked_softmax(z, z > 0)
    np.testing.assert_array_equal(z, copy)


EXTREMES = {
    np.float64: np.finfo(np.float64).max,
    np.float32: np.finfo(np.float32).max,
    np.float16: np.finfo(np.float16).max,
}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("temperature", [1e-3, 0.1, 1.0, 7.0, 1e6])
@pytest.mark.parametrize("func", [softmax, online_softmax, "log_softmax"])
def test_extreme_logits_and_temperatures_stay_finite_without_warnings(
    dtype, temperature, func, no_warnings
):
    big = EXTREMES[dtype]
    cases = [
        [-big, big],
        [big, -big, 0.0],
        [big, big],
        [-big, -big],
        [big, big * 0.5, -big * 0.5],
        [np.finfo(dtype).tiny, -np.finfo(dtype).smallest_subnormal, 0.0],
        [1000.0, 0.0, -1000.0],
        [-1000.0, -1000.5],
        [60000.0, -60000.0, 1.0],
    ]
    for case in cases:
        z = np.array(case, dtype=dtype)
        if func == "log_softmax":
            result = log_softmax(z, temperature=temperature)
            assert result.dtype == dtype and not np.isnan(result).any()
            # The largest log-probability lies in [-log n, 0]: the max logit has exp(0) = 1 of n.
            assert (result <= 0).all() and result.max() >= -np.log(len(case)) - 1e-3
            continue
        if func is online_softmax:
            if temperature != 1.0:
                continue  # online_softmax has no temperature
            result = online_softmax(z, block=1)
        else:
            result = func(z, temperature=temperature)
        assert result.dtype == dtype
        assert np.isfinite(result).all() and (result >= 0).all() and (result <= 1).all()
        assert abs(float(result.astype(np.float64).sum()) - 1) <= 4 * np.finfo(dtype).eps
        assert result[np.argmax(z)] == result.max()


def test_extreme_values_give_the_exact_limits():
    big = np.finfo(np.float64).max
    np.testing.assert_array_equal(softmax([-big, big]), [0.0, 1.0])
    np.testing.assert_array_equal(softmax([big, big]), [0.5, 0.5])
    np.testing.assert_array_equal(softmax(np.array([-3.4e38, 3.4e38], np.float32)), [0, 1])
    # With a huge temperature the logits are divided first, so nothing overflows on the way.
    np.testing.assert_allclose(
        softmax([big, -big], temperature=big), scipy.special.softmax([1, -1]), rtol=1e-15
    )
    assert log_softmax([big, -big])[1] == -np.inf  # exact value -3.6e308 rounds to -inf
    np.testing.assert_array_equal(log_softmax([1000.0, 0.0, -1000.0]), [0.0, -1000.0, -2000.0])
    assert logsumexp([big, big]) == big  # big + log 2 rounds back to big: no overflow
    assert logsumexp(np.array([1e4, 1e4], np.float32)) == np.float32(1e4) + np.float32(np.log(2))
    float32_max = np.finfo(np.float32).max
    assert logsumexp(np.array([float32_max, float32_max])) == float32_max


def test_temperature_limits():
    z = np.array([0.3, 2.0, -1.0, 1.0])
    np.testing.assert_array_equal(softmax(z, temperature=1e-3), [0.0, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(softmax(z, temperature=1e6), 0.25, rtol=1e-5)
    np.testing.assert_allclose(softmax(z, temperature=2.0), softmax(z / 2.0), rtol=1e-15)
    np.testing.assert_allclose(
        log_softmax(z, temperature=0.5), np.log(softmax(z / 0.5)), rtol=1e-14
    )


def test_minus_inf_logits_get_probability_zero():
    p = softmax([0.0, -np.inf, np.log(3.0)])
    np.testing.assert_allclose(p, [0.25, 0.0, 0.75], rtol=1e-15)
    assert p[1] == 0.0
    assert log_softmax([0.0, -np.inf])[1] == -np.inf
    assert online_softmax([-np.inf, 0.0, -np.inf], block=1)[1] == 1.0
    assert logsumexp([-np.inf, -np.inf]) == -np.inf


def test_naive_softmax_shows_overflow_without_warnings(no_warnings):
    np.testing.assert_allclose(naive_softmax([1.0, 2.0, 3.0]), softmax([1.0, 2.0, 3.0]), rtol=1e-15)
    assert np.isnan(naive_softmax([1000.0, 0.0])[0])
    assert np.isnan(naive_softmax(np.array([89.0, 0.0], np.float32))[0])
    assert np.isnan(naive_softmax([-1000.0, -1000.0])).all()  # 0 / 0
    # float32 overflows where float64 still works: exp(88.72) is just below float32's max.
    assert np.isfinite(naive_softmax(np.array([88.7, 0.0], np.float32))).all()


def test_sigmoid_is_stable_and_is_the_two_class_softmax(no_warnings):
    z = np.linspace(-40, 40, 81)
    pairs = softmax(np.stack([z, np.zeros_like(z)], axis=-1))
    np.testing.assert_allclose(sigmoid(z), pairs[:, 0], rtol=1e-14)
    np.testing.assert_allclose(sigmoid(z), scipy.special.expit(z), rtol=1e-15)
    np.testing.assert_array_equal(sigmoid([-np.inf, -1e308, 1e308, np.inf]), [0.0, 0.0, 1.0, 1.0])
    assert sigmoid(0) == 0.5 and isinstance(sigmoid(0), float)
    assert sigmoid(-800.0) > 0 or sigmoid(-800.0) == 0.0  # underflows quietly
    assert sigmoid(-700.0) == pytest.approx(np.exp(-700.0), rel=1e-14)  # no 1 - 1 cancellation


# ---------------------------------------------------------------------------------------------
# masked_softmax and online_softmax
# ---------------------------------------------------------------------------------------------


def test_masked_softmax_equals_softmax_over_kept_entries():
    z = np.array([0.5, 2.0, -1.0, 3.0, 0.0])
    mask = np.array([True, False, True, True, False])
    p = masked_softmax(z, mask)
    assert (p[~mask] == 0).all()
    np.testing.assert_allclose(p[mask], softmax(z[mask]), rtol=1e-15)
    # Masked values are ignored entirely, even NaN or +inf left in padding.
    garbage = np.where(mask, z, [0.0, np.nan, 0.0, 0.0, np.inf])
    np.testing.assert_array_equal(masked_softmax(garbage, mask), p)


def test_fully_masked_rows_are_zero_not_nan(no_warnings):
    z = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [-np.inf, 0.0, 5.0]])
    mask = np.array([[True, True, False], [False, False, False], [True, False, False]])
    p = masked_softmax(z, mask)
    np.testing.assert_allclose(p[0], [*softmax([1.0, 2.0]), 0.0], rtol=1e-15)
    np.testing.assert_array_equal(p[1], [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(
        p[2], [0.0, 0.0, 0.0]
    )  # only a -inf logit kept: nothing to attend
    big = masked_softmax(np.array([[1e308, -1e308], [3.0, 4.0]]), np.ones((2, 2), bool))
    np.testing.assert_array_equal(big[0], [1.0, 0.0])
    assert ulp_errors(big[1], exact_softmax([3.0, 4.0]), np.float64).max() <= 2.0


def test_masked_softmax_broadcasts_masks_and_accepts_0_1_integers():
    z = np.random.default_rng(6).normal(size=(3, 4, 5))
    keep = np.array([1, 1, 0, 1, 0])
    p = masked_softmax(z, keep)
    np.testing.assert_array_equal(p, masked_softmax(z, np.broadcast_to(keep.astype(bool), z.shape)))
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-15)
    causal = np.tril(np.ones((4, 4), bool))
    scores = np.random.default_rng(7).normal(size=(2, 4, 4))
    weights = masked_softmax(scores, causal)
    assert (weights[:, np.triu_indices(4, 1)[0], np.triu_indices(4, 1)[1]] == 0).all()
    np.testing.assert_array_equal(masked_softmax(z, np.zeros((4, 1), bool), axis=1), 0.0)
    np.testing.assert_allclose(
        masked_softmax(z, np.ones(4, bool)[:, None], axis=1).sum(axis=1), 1.0
    )


@pytest.mark.parametrize("block", [1, 2, 3, 7, 64, 1000])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_online_softmax_matches_softmax_within_few_ulp(block, axis):
    z = np.random.default_rng(block).normal(scale=6.0, size=(5, 64, 9))
    # online_softmax shifts by the max, as softmax does only for rows it cannot take unshifted, so
    # the reference is the exact softmax of the shifted values. Each rescaling of the running sum
    # rounds once more; a row is rescaled about log(n) times.
    assert worst_ulp_error(online_softmax(z, axis=axis, block=block), z, axis, shifted=True) <= 12
    np.testing.assert_allclose(online_softmax(z, axis=axis), softmax(z, axis=axis), rtol=1e-13)


def test_online_softmax_rescales_when_the_max_arrives_late(no_warnings):
    # The running max rises block after block (and from -inf), so the rescaling is exercised.
    z = np.array(
        [
            [-np.inf, -np.inf, -1e308, 0.0, 1.0, 700.0, 1e308],
            [1e308, 700.0, 1.0, 0.0, -1e308, -np.inf, -np.inf],
        ]
    )
    for block in (1, 2, 3):
        np.testing.assert_array_equal(online_softmax(z, block=block), softmax(z))
    ramp = np.arange(2000.0)
    np.testing.assert_allclose(online_softmax(ramp, block=100), softmax(ramp), rtol=1e-14, atol=0)


# ---------------------------------------------------------------------------------------------
# Memory: softmax and online_softmax allocate about one output
# ---------------------------------------------------------------------------------------------


def peak_allocation(func, *args, **kwargs) -> tuple[int, np.ndarray]:
    """Peak bytes that NumPy reports to tracemalloc while ``func`` runs (arguments already built)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        result = func(*args, **kwargs)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    return peak, result


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "func, kwargs",
    [
        (softmax, {}),
        (softmax, {"temperature": 0.5}),
        (softmax, {"temperature": 3.0}),
        (softmax, {"axis": 0}),
        (online_softmax, {}),
        (online_softmax, {"axis": 0}),
    ],
)
def test_softmax_allocates_about_one_output(dtype, func, kwargs):
    z = np.random.default_rng(8).normal(size=(256, 4096)).astype(dtype)
    peak, result = peak_allocation(func, z, **kwargs)
    assert result.nbytes == z.nbytes
    assert result.nbytes <= peak < 1.5 * result.nbytes, f"peak {peak} for output {result.nbytes}"


def test_naive_softmax_allocates_more_than_one_output():
    # The contrast the benchmark shows, checked so the memory measurement itself can fail.
    z = np.random.default_rng(9).normal(size=(256, 4096))
    peak, result = peak_allocation(naive_softmax, z)
    assert peak >= 1.9 * result.nbytes


# ---------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------


def test_confident_mistake_costs_exactly_2000():
    assert cross_entropy([1000.0, 0.0, -1000.0], 2) == 2000.0
    assert cross_entropy([[1000.0, 0.0, -1000.0]], [2]) == 2000.0
    assert cross_entropy([[1000.0, 0.0, -1000.0]], [[0.0, 0.0, 1.0]]) == 2000.0
    assert cross_entropy(np.array([1000.0, 0.0, -1000.0], np.float32), 0) == 0.0
    # The eps-in-the-log shortcut caps the same loss near -log(eps).
    assert -np.log(softmax([1000.0, 0.0, -1000.0])[2] + 1e-7) < 17


def test_sparse_and_dense_labels_agree_and_reductions():
    rng = np.random.default_rng(10)
    logits = rng.normal(scale=3.0, size=(6, 4))
    labels = np.array([0, 3, 1, 1, 2, 0])
    per_example = cross_entropy(logits, labels, reduction="none")
    assert per_example.shape == (6,)
    expected = -log_softmax(logits)[np.arange(6), labels]
    np.testing.assert_allclose(per_example, expected, rtol=1e-15)
    np.testing.assert_allclose(
        cross_entropy(logits, one_hot(labels, 4), reduction="none"), per_example, rtol=1e-14
    )
    assert cross_entropy(logits, labels) == pytest.approx(per_example.mean(), rel=1e-15)
    assert cross_entropy(logits, labels, reduction="sum") == pytest.approx(
        per_example.sum(), rel=1e-15
    )
    assert isinstance(cross_entropy(logits, labels), float)
    # Class axis first: the same numbers transposed.
    np.testing.assert_allclose(
        cross_entropy(logits.T, labels, axis=0, reduction="none"), per_example, rtol=1e-15
    )
    # Integral float labels are class ids too.
    assert cross_entropy(logits, labels.astype(float)) == cross_entropy(logits, labels)


def test_soft_labels_and_zero_label_times_minus_inf(no_warnings):
    logits = np.array([[0.0, -np.inf, 1.0], [2.0, 0.0, -np.inf]])
    soft = np.array([[0.25, 0.0, 0.75], [0.5, 0.5, 0.0]])
    losses = cross_entropy(logits, soft, reduction="none")
    np.testing.assert_allclose(
        losses, -(soft * np.nan_to_num(log_softmax(logits), neginf=0)).sum(-1), rtol=1e-15
    )
    assert cross_entropy([0.0, -np.inf], 1) == np.inf  # the true class had probability 0


@pytest.mark.parametrize("seed", range(3))
def test_cross_entropy_matches_sklearn_log_loss(seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=(50, 5))
    labels = rng.integers(0, 5, size=50)
    expected = log_loss(labels, scipy.special.softmax(logits, axis=-1), labels=range(5))
    assert cross_entropy(logits, labels) == pytest.approx(expected, rel=1e-12)
    assert cross_entropy_from_probs(softmax(logits), labels) == pytest.approx(expected, rel=1e-9)


def test_cross_entropy_from_probs_caps_at_minus_log_eps():
    probs = softmax([1000.0, 0.0, -1000.0])
    sparse = cross_entropy_from_probs(probs, 2)
    dense = cross_entropy_from_probs(probs, [0.0, 0.0, 1.0])
    # Dense: renormalise, clip to [eps, 1-eps], -log(eps). Sparse: clip, then log(sum) - log(eps).
    assert dense == pytest.approx(-np.log(1e-7), rel=1e-15)
    assert sparse == pytest.approx(np.log(1 - 1e-7 + 2e-7) - np.log(1e-7), rel=1e-15)
    assert cross_entropy_from_probs(probs, 2, eps=1e-3) == pytest.approx(
        np.log(1.001) - np.log(1e-3)
    )
    # A correct, confident prediction costs about eps, not 0.
    assert cross_entropy_from_probs([1.0, 0.0], [1.0, 0.0]) == pytest.approx(1e-7, rel=1e-6)
    losses = cross_entropy_from_probs([[0.9, 0.1], [0.2, 0.8]], [0, 1], reduction="none")
    np.testing.assert_allclose(losses, -np.log([0.9, 0.8]), rtol=1e-6)


def test_dense_probs_are_renormalised_like_keras():
    unnormalised = np.array([[2.0, 1.0, 1.0]]) / 10  # sums to 0.4
    assert cross_entropy_from_probs(unnormalised, [[1.0, 0.0, 0.0]]) == pytest.approx(-np.log(0.5))
    # Sparse labels: Keras feeds log(clip(p)) to a softmax, which renormalises the same way.
    assert cross_entropy_from_probs(unnormalised, [0]) == pytest.approx(-np.log(0.5))


# ---------------------------------------------------------------------------------------------
# Gradients
# ---------------------------------------------------------------------------------------------


def numeric_gradient(f, z, h=1e-6):
    grad = np.zeros_like(z)
    for index in np.ndindex(z.shape):
        step = np.zeros_like(z)
        step[index] = h
        grad[index] = (f(z + step) - f(z - step)) / (2 * h)
    return grad


def test_softmax_jacobian_matches_finite_differences_and_is_batched():
    z = np.random.default_rng(11).normal(size=(2, 3, 4))
    jac = softmax_jacobian(z)
    assert jac.shape == (2, 3, 4, 4)
    for index in np.ndindex(2, 3):
        numeric = np.stack(
            [numeric_gradient(lambda v, i=i: softmax(v)[i], z[index]) for i in range(4)]
        )
        np.testing.assert_allclose(jac[index], numeric, atol=1e-9)
    np.testing.assert_array_equal(jac, np.swapaxes(jac, -1, -2))
    np.testing.assert_allclose(jac.sum(axis=-1), 0.0, atol=1e-16)


def test_softmax_jacobian_diagonal_survives_saturation():
    # s_0 rounds to 1, so s_0 - s_0**2 would be 0; the true derivative is s_0 * s_1 ~ e^-40.
    jac = softmax_jacobian([40.0, 0.0])
    assert jac[0, 0] == pytest.approx(np.exp(-40.0), rel=1e-12)
    assert jac[0, 0] == -jac[0, 1]


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_cross_entropy_grad_matches_finite_differences(reduction):
    rng = np.random.default_rng(12)
    logits = rng.normal(size=(3, 4))
    labels = np.array([1, 0, 3])
    grad = cross_entropy_grad(logits, labels, reduction=reduction)
    loss_reduction = "sum" if reduction == "none" else reduction
    numeric = numeric_gradient(lambda v: cross_entropy(v, labels, reduction=loss_reduction), logits)
    np.testing.assert_allclose(grad, numeric, atol=1e-8)
    np.testing.assert_allclose(
        cross_entropy_grad(logits, one_hot(labels, 4), reduction=reduction), grad, atol=1e-16
    )


def test_cross_entropy_grad_is_prediction_minus_target():
    logits = np.array([[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0]])
    labels = np.array([0, 2])
    np.testing.assert_allclose(
        cross_entropy_grad(logits, labels), softmax(logits) - one_hot(labels, 3), atol=1e-16
    )
    np.testing.assert_allclose(cross_entropy_grad(logits, labels).sum(axis=-1), 0.0, atol=1e-15)
    np.testing.assert_allclose(
        cross_entropy_grad(logits.T, labels.T, axis=0), cross_entropy_grad(logits, labels).T, atol=0
    )


# ---------------------------------------------------------------------------------------------
# one_hot, entropy, top_k, sample
# ---------------------------------------------------------------------------------------------


def test_one_hot():
    result = one_hot([[0, 2], [1, 1]], 3)
    assert result.dtype == np.float64 and result.shape == (2, 2, 3)
    np.testing.assert_array_equal(result[0], [[1, 0, 0], [0, 0, 1]])
    np.testing.assert_array_equal(one_hot(1, 2), [0.0, 1.0])
    np.testing.assert_array_equal(one_hot(np.array([2.0]), 3), [[0.0, 0.0, 1.0]])


def test_entropy():
    assert entropy([0.5, 0.5], base=2) == pytest.approx(1.0, rel=1e-15)
    assert entropy([1.0, 0.0, 0.0]) == 0.0
    p = softmax(np.random.default_rng(13).normal(size=(4, 6)))
    np.testing.assert_allclose(entropy(p), scipy.stats.entropy(p, axis=-1), rtol=1e-13)
    np.testing.assert_allclose(
        entropy(p.T, axis=0, base=2), scipy.stats.entropy(p, base=2, axis=-1), rtol=1e-13
    )
    assert entropy(np.full(8, 1 / 8)) == pytest.approx(np.log(8), rel=1e-15)


def test_top_k():
    values, indices = top_k([0.1, 0.5, 0.2, 0.2], 3)
    np.testing.assert_array_equal(values, [0.5, 0.2, 0.2])
    np.testing.assert_array_equal(indices, [1, 2, 3])
    batch = np.random.default_rng(14).normal(size=(3, 10))
    values, indices = top_k(batch, 4)
    np.testing.assert_array_equal(indices, np.argsort(-batch, axis=-1)[:, :4])
    np.testing.assert_array_equal(values, np.take_along_axis(batch, indices, axis=-1))
    values0, indices0 = top_k(batch.T, 4, axis=0)
    np.testing.assert_array_equal(indices0, indices.T)
    assert indices.dtype == np.int64
    assert top_k([-np.inf, 0.0], 2)[1].tolist() == [1, 0]


def test_sample_is_deterministic_and_follows_the_distribution():
    logits = np.log([0.5, 0.3, 0.2, 0.0 + 1e-300])
    draws = sample(logits, np.random.default_rng(0), size=20000)
    again = sample(logits, np.random.default_rng(0), size=20000)
    np.testing.assert_array_equal(draws, again)
    assert draws.dtype == np.int64 and draws.shape == (20000,)
    frequencies = np.bincount(draws, minlength=4) / draws.size
    np.testing.assert_allclose(frequencies[:3], [0.5, 0.3, 0.2], atol=0.015)
    assert frequencies[3] == 0
    assert isinstance(sample(logits, np.random.default_rng(0)), int)
    batched = sample(
        np.array([[0.0, -np.inf], [-np.inf, 0.0]]), np.random.default_rng(0), size=(2, 3)
    )
    assert batched.shape == (2, 2, 3)
    assert (batched[0] == 0).all() and (batched[1] == 1).all()


def test_sample_temperature_top_k_and_top_p():
    rng = np.random.default_rng(1)
    logits = np.log([0.5, 0.3, 0.15, 0.05])
    assert set(sample(logits, rng, temperature=1e-3, size=200)) == {0}
    assert set(sample(logits, rng, top_k=1, size=200)) == {0}
    assert set(sample(logits, rng, top_k=2, size=2000)) == {0, 1}
    assert set(sample(logits, rng, top_p=0.49, size=500)) == {0}  # the top token is always kept
    assert set(sample(logits, rng, top_p=0.79, size=2000)) == {0, 1}
    assert set(sample(logits, rng, top_p=0.81, size=4000)) == {0, 1, 2}
    assert set(sample(logits, rng, top_p=1.0, size=4000)) == {0, 1, 2, 3}
    # Ties with the k-th largest are kept, as in Hugging Face's top-k filter.
    assert set(sample([1.0, 1.0, 0.0], rng, top_k=1, size=500)) == {0, 1}
    # top_k then top_p on the renormalised remainder: 0.5/0.8 = 0.625 >= 0.6.
    assert set(sample(logits, rng, top_k=2, top_p=0.6, size=500)) == {0}
    frequencies = np.bincount(sample(logits, rng, top_k=2, size=20000), minlength=4) / 20000
    np.testing.assert_allclose(frequencies, [0.625, 0.375, 0, 0], atol=0.015)
    hot = np.bincount(sample(logits, rng, temperature=2.0, size=20000), minlength=4) / 20000
    np.testing.assert_allclose(hot, softmax(logits, temperature=2.0), atol=0.015)


# ---------------------------------------------------------------------------------------------
# Errors: every bad input gets a ValueError/TypeError naming the argument
# ---------------------------------------------------------------------------------------------

RNG = np.random.default_rng(0)
BAD_INPUTS = [
    # softmax family: the logits
    (softmax, ([],), {}, ValueError, r"z must not be empty, got shape \(0,\)"),
    (softmax, (np.zeros((3, 0)),), {}, ValueError, "z must not be empty"),
    (softmax, ([1.0, np.nan],), {}, ValueError, r"z contains NaN \(first at index 1\)"),
    (softmax, ([1.0, np.inf],), {}, ValueError, r"z contains \+inf"),
    (softmax, ([-np.inf, -np.inf],), {}, ValueError, "z is all -inf.*masked_softmax"),
    (softmax, (["a", "b"],), {}, TypeError, "z must be real numbers, got dtype <U1"),
    (softmax, ("abc",), {}, TypeError, "z must be numbers, got a string"),
    (softmax, ([1 + 2j, 0],), {}, TypeError, "complex"),
    (softmax, (np.array([object(), 1]),), {}, TypeError, "dtype object"),
    (softmax, ([True, False],), {}, TypeError, "boolean"),
    (softmax, ([[1, 2], [3]],), {}, ValueError, "z must be a rectangular array"),
    (softmax, (3.0,), {}, ValueError, "z must have at least one axis.*3.0"),
    (
        softmax,
        ([1.0, 2.0],),
        {"axis": 1},
        ValueError,
        r"axis 1 is out of range for z with 1 dimension",
    ),
    (
        softmax,
        (np.ones((2, 3)),),
        {"axis": -3},
        ValueError,
        r"axis -3 is out of range .*\(shape \(2, 3\)\)",
    ),
    (softmax, ([1.0, 2.0],), {"axis": 0.5}, TypeError, "axis must be an integer"),
    (
        softmax,
        ([1.0, 2.0],),
        {"temperature": -1.0},
        ValueError,
        r"temperature must be > 0, got -1.0",
    ),
    (softmax, ([1.0, 2.0],), {"temperature": 0}, ValueError, r"temperature must be > 0, got 0.0"),
    (
        softmax,
        ([1.0, 2.0],),
        {"temperature": np.inf},
        ValueError,
        "temperature must be finite, got inf",
    ),
    (
        softmax,
        ([1.0, 2.0],),
        {"temperature": np.nan},
        ValueError,
        "temperature must be finite, got nan",
    ),
    (
        softmax,
        ([1.0, 2.0],),
        {"temperature": "hot"},
        TypeError,
        "temperature must be a real number",
    ),
    (softmax, ([1.0, 2.0],), {"temperature": 10**400}, ValueError, "temperature must be finite"),
    (log_softmax, ([1.0, np.nan],), {}, ValueError, "z contains NaN"),
    (log_softmax, ([1.0],), {"temperature": -2}, ValueError, "temperature must be > 0"),
    (logsumexp, ([np.nan],), {}, ValueError, "z contains NaN"),
    (logsumexp, ([],), {}, ValueError, "z must not be empty"),
    (naive_softmax, ([np.nan, 1.0],), {}, ValueError, "z contains NaN"),
    (online_softmax, ([1.0, 2.0],), {"block": 0}, ValueError, "block must be >= 1, got 0"),
    (online_softmax, ([1.0, 2.0],), {"block": 2.0}, TypeError, "block must be an integer"),
    (
        online_softmax,
        ([1.0, np.nan, 2.0],),
        {"block": 1},
        ValueError,
        r"z contains NaN \(first at index 1\)",
    ),
    (
        online_softmax,
        ([[0.0, 1.0], [-np.inf, -np.inf]],),
        {},
        ValueError,
        "row of only -inf.*index 1",
    ),
    (sigmoid, ([np.nan],), {}, ValueError, "z contains NaN"),
    (sigmoid, ("1",), {}, TypeError, "z must be numbers"),
    # masks
    (
        masked_softmax,
        ([1.0, 2.0, 3.0], [True, False]),
        {},
        ValueError,
        r"mask has shape \(2,\), which does not broadcast to z's shape \(3,\)",
    ),
    (masked_softmax, ([1.0, 2.0], [[True, False]]), {}, ValueError, "does not broadcast"),
    (
        masked_softmax,
        ([1.0, 2.0], [0.0, -np.inf]),
        {},
        TypeError,
        "mask must be booleans.*additive",
    ),
    (
        masked_softmax,
        ([1.0, 2.0], [1, 2]),
        {},
        ValueError,
        r"mask must contain only True/False.*\[2\]",
    ),
    (masked_softmax, ([1.0, np.nan], [False, True]), {}, ValueError, "z contains NaN"),
    (masked_softmax, ([1.0, np.inf], [True, True]), {}, ValueError, r"z contains \+inf"),
    # labels
    (
        cross_entropy,
        ([[1.0, 2.0, 3.0]], [3]),
        {},
        ValueError,
        r"labels must be class ids in \[0, 3\) for 3 classes, got 3 at index 0",
    ),
    (cross_entropy, ([[1.0, 2.0, 3.0]], [-1]), {}, ValueError, "got -1"),
    (
        cross_entropy,
        ([[1.0, 2.0, 3.0]], [1.5]),
        {},
        ValueError,
        "labels must be integer class ids, got 1.5",
    ),
    (cross_entropy, ([[1.0, 2.0]], [np.nan]), {}, ValueError, "labels contains NaN"),
    (
        cross_entropy,
        ([[1.0, 2.0]], [True]),
        {},
        TypeError,
        "labels must be integer class ids, got booleans",
    ),
    (
        cross_entropy,
        ([[1.0, 2.0]], ["cat"]),
        {},
        TypeError,
        "labels must be integer class ids, got dtype",
    ),
    (
        cross_entropy,
        ([[1.0, 2.0, 3.0]], [0, 1]),
        {},
        ValueError,
        r"labels has shape \(2,\) but logits has shape \(1, 3\).*ids of shape \(1,\)",
    ),
    (cross_entropy, (np.zeros((2, 3)), [[0], [1]]), {}, ValueError, "reshape"),
    (
        cross_entropy,
        ([[1.0, 2.0]], [[0.5, 0.6]]),
        {},
        ValueError,
        "must each sum to 1.*the row at index 0 sums to 1.1",
    ),
    (
        cross_entropy,
        ([1.0, 2.0, 3.0], [0, 2, 1]),
        {},
        ValueError,
        r"but labels sums to 3; integer labels shaped like logits are read as one-hot rows",
    ),
    (cross_entropy, ([[1.0, 2.0]], [[1.5, -0.5]]), {}, ValueError, "probabilities >= 0, got -0.5"),
    (
        cross_entropy,
        ([[1.0, 2.0]], [0]),
        {"reduction": "avg"},
        ValueError,
        "reduction must be one of",
    ),
    (cross_entropy, ([[np.nan, 2.0]], [0]), {}, ValueError, "logits contains NaN"),
    (
        cross_entropy,
        ([[1.0, 2.0]], [0]),
        {"axis": 2},
        ValueError,
        "axis 2 is out of range for logits",
    ),
    (
        cross_entropy_from_probs,
        ([[1.5, -0.5]], [0]),
        {},
        ValueError,
        r"probs must lie in \[0, 1\], got 1.5.*cross_entropy",
    ),
    (cross_entropy_from_probs, ([[0.0, 0.0]], [0]), {}, ValueError, "all zero"),
    (cross_entropy_from_probs, ([[0.5, 0.5]], [0]), {"eps": 0}, ValueError, "eps must be > 0"),
    (cross_entropy_from_probs, ([[0.5, 0.5]], [0]), {"eps": 0.7}, ValueError, "eps must be < 0.5"),
    (
        cross_entropy_from_probs,
        ([[0.5, 0.5]], [2]),
        {},
        ValueError,
        r"labels must be class ids in \[0, 2\)",
    ),
    (
        cross_entropy_grad,
        ([[0.5, 0.5]], [2]),
        {},
        ValueError,
        r"labels must be class ids in \[0, 2\)",
    ),
    (cross_entropy_grad, ([[0.5, 0.5]], [0, 0]), {}, ValueError, "labels has shape"),
    (
        one_hot,
        ([0, 3], 3),
        {},
        ValueError,
        r"labels must be class ids in \[0, 3\).*got 3 at index 1",
    ),
    (one_hot, ([0, 1], 0), {}, ValueError, "num_classes must be >= 1, got 0"),
    (one_hot, ([0, 1], 2.0), {}, TypeError, "num_classes must be an integer"),
    (one_hot, ([], 2), {}, ValueError, "labels must not be empty"),
    # probabilities
    (entropy, ([0.5, 0.6],), {}, ValueError, "p must sum to 1 along axis 0, but p sums to 1.1"),
    (entropy, ([[0.5, 0.5], [0.5, 0.6]],), {}, ValueError, "the row at index 1 sums to 1.1"),
    (entropy, ([2.0, -1.0],), {}, ValueError, r"p must be probabilities in \[0, 1\]"),
    (entropy, ([0.5, 0.5],), {"base": 1}, ValueError, "base must not be 1"),
    (top_k, ([0.1, 0.9], 3), {}, ValueError, "k must be between 1 and 2"),
    (top_k, ([0.1, 0.9], 0), {}, ValueError, "k must be between 1 and 2"),
    (top_k, ([0.1, 0.9], 1.0), {}, TypeError, "k must be an integer"),
    (top_k, ([0.1, np.nan], 1), {}, ValueError, "p contains NaN"),
    (
        sample,
        ([0.0, 1.0], np.random.RandomState(0)),
        {},
        TypeError,
        "rng must be a numpy.random.Generator.*got RandomState",
    ),
    (sample, ([0.0, 1.0], 42), {}, TypeError, "rng must be a numpy.random.Generator.*got int"),
    (sample, ([0.0, 1.0], RNG), {"temperature": 0.0}, ValueError, "temperature must be > 0"),
    (sample, ([0.0, 1.0], RNG), {"top_k": 3}, ValueError, "top_k must be between 1 and 2"),
    (sample, ([0.0, 1.0], RNG), {"top_k": 1.5}, TypeError, "top_k must be an integer"),
    (sample, ([0.0, 1.0], RNG), {"top_p": 0.0}, ValueError, r"top_p must be in \(0, 1\], got 0.0"),
    (sample, ([0.0, 1.0], RNG), {"top_p": 1.5}, ValueError, r"top_p must be in \(0, 1\]"),
    (
        sample,
        ([0.0, 1.0], RNG),
        {"size": -1},
        ValueError,
        r"size \(a non-negative int or tuple of ints\) must be >= 0",
    ),
    (sample, ([0.0, np.nan], RNG), {}, ValueError, "z contains NaN"),
]


@pytest.mark.parametrize(
    "func, args, kwargs, error, message",
    BAD_INPUTS,
    ids=[f"{case[0].__name__}-{i}" for i, case in enumerate(BAD_INPUTS)],
)
def test_bad_input_raises_a_clear_error(func, args, kwargs, error, message, no_warnings):
    with pytest.raises(error, match=message):
        func(*args, **kwargs)


# ---------------------------------------------------------------------------------------------
# TensorFlow and Keras as oracles (slow import; lazily, only here)
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tf():
    return lab_utils.environment.import_tensorflow()


@pytest.mark.tensorflow
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_matches_tf_nn_softmax(tf, dtype):
    z = np.random.default_rng(15).normal(scale=5.0, size=(8, 33)).astype(dtype)
    eps = np.finfo(dtype).eps
    # Ours exponentiates z itself (issue 16), TensorFlow z - max(z), which rounds by up to half an
    # ulp of the gap to the max and exp turns into a relative error of up to gap * eps / 2.
    for axis in (-1, 0):
        ours, theirs = softmax(z, axis=axis), tf.nn.softmax(z, axis=axis).numpy()
        assert worst_ulp_error(ours, z, axis) <= 4
        gap = z.max(axis=axis, keepdims=True) - z
        assert (np.abs(ours - theirs) <= (gap / 2 + 8) * eps * theirs).all()
    np.testing.assert_allclose(
        log_softmax(z), tf.nn.log_softmax(z).numpy(), rtol=8 * eps, atol=8 * eps
    )
    np.testing.assert_allclose(logsumexp(z), tf.reduce_logsumexp(z, axis=-1).numpy(), rtol=8 * eps)
    extreme = np.array([[1000.0, 0.0, -1000.0]], dtype)
    np.testing.assert_array_equal(softmax(extreme), tf.nn.softmax(extreme).numpy())


@pytest.mark.tensorflow
@pytest.mark.parametrize("from_logits", [True, False])
def test_cross_entropy_matches_keras_losses(tf, from_logits):
    import keras  # after import_tensorflow, so the quiet environment is in place

    rng = np.random.default_rng(16)
    logits = rng.normal(scale=4.0, size=(32, 5))
    logits[0] = [30.0, 0.0, -30.0, 0.0, 0.0]  # a confident mistake: the two paths differ here
    labels = rng.integers(0, 5, size=32)
    labels[0] = 2
    dense_labels = one_hot(labels, 5)
    dense_labels[1] = [0.1, 0.2, 0.3, 0.4, 0.0]
    sparse_loss = keras.losses.SparseCategoricalCrossentropy(
        from_logits=from_logits, dtype="float64", reduction=None
    )
    dense_loss = keras.losses.CategoricalCrossentropy(
        from_logits=from_logits, dtype="float64", reduction=None
    )
    if from_logits:
        ours_sparse = cross_entropy(logits, labels, reduction="none")
        ours_dense = cross_entropy(logits, dense_labels, reduction="none")
        keras_input = logits
    else:
        probs = softmax(logits)
        ours_sparse = cross_entropy_from_probs(probs, labels, reduction="none")
        ours_dense = cross_entropy_from_probs(probs, dense_labels, reduction="none")
        keras_input = probs
    np.testing.assert_allclose(ours_sparse, sparse_loss(labels, keras_input).numpy(), rtol=1e-12)
    np.testing.assert_allclose(
        ours_dense, dense_loss(dense_labels, keras_input).numpy(), rtol=1e-12
    )
    mean_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits, dtype="float64")
    reduce = cross_entropy if from_logits else cross_entropy_from_probs
    assert reduce(keras_input, labels) == pytest.approx(
        float(mean_loss(labels, keras_input)), rel=1e-12
    )
    if not from_logits:
        assert ours_sparse[0] < 17 < cross_entropy(logits[0], 2)  # Keras' cap vs the true 60


@pytest.mark.tensorflow
def test_cross_entropy_grad_matches_tensorflow_autodiff(tf):
    rng = np.random.default_rng(17)
    logits = rng.normal(size=(6, 4))
    labels = rng.integers(0, 4, size=6)
    variable = tf.Variable(logits)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, variable))
    expected = tape.gradient(loss, variable).numpy()
    np.testing.assert_allclose(
        cross_entropy_grad(logits, labels, reduction="mean"), expected, rtol=1e-12, atol=1e-16
    )
    z = tf.Variable(logits[0])
    with tf.GradientTape() as tape:
        s = tf.nn.softmax(z)
    np.testing.assert_allclose(softmax_jacobian(logits[0]), tape.jacobian(s, z).numpy(), atol=1e-15)


# ---------------------------------------------------------------- issue 16: the non-maximal terms


def _exact_logsumexp(row) -> float:
    with localcontext() as context:
        context.prec = 60
        return float(sum(Decimal(float(v)).exp() for v in row).ln())


def test_issue16_logsumexp_keeps_terms_below_half_an_ulp_of_one():
    assert logsumexp([0.0, -40.0]) == np.log1p(np.exp(-40.0))  # 4.248e-18, not 0.0
    assert logsumexp([0.0, -40.0]) == scipy.special.logsumexp([0.0, -40.0])
    assert logsumexp([0.0, -40.0, -40.0]) == np.log1p(2 * np.exp(-40.0))
    assert logsumexp([-40.0, 0.0, 0.0]) == np.log(2.0) + np.log1p(np.exp(-40.0) / 2)
    assert logsumexp(np.array([0.0, -20.0], np.float32)) == np.float32(np.log1p(np.exp(-20.0)))


def test_issue16_log_softmax_keeps_them_too():
    assert log_softmax([0.0, -40.0])[0] == -np.log1p(np.exp(-40.0))  # -4.248e-18, not 0.0
    column = np.random.default_rng(9).normal(scale=4.0, size=(4, 5))[:, 3]
    # A log-probability near 0 where SciPy's log_softmax is 2.5e-13 off in relative terms.
    with localcontext() as context:
        context.prec = 60
        exact = float(Decimal(float(column[2])) - sum(Decimal(float(v)).exp() for v in column).ln())
    assert log_softmax(column)[2] == exact
    np.testing.assert_array_equal(log_softmax([0.0, -40.0]), [0.0, -40.0] - np.log1p(np.exp(-40.0)))
    np.testing.assert_array_equal(log_softmax([[0.0, -np.inf]]), [[0.0, -np.inf]])


def test_issue16_logsumexp_is_within_an_ulp_of_the_exact_value_and_of_scipy():
    rng = np.random.default_rng(16)
    rows = np.concatenate(
        [
            rng.normal(0, 1, (50, 8)),
            rng.normal(0, 30, (50, 8)),
            np.column_stack([np.zeros(50), rng.uniform(-60, -30, (50, 7))]),
        ]
    )
    ours = logsumexp(rows)
    exact = np.array([_exact_logsumexp(row) for row in rows])
    ulp = np.spacing(np.abs(exact))
    assert np.all(np.abs(ours - exact) <= ulp), np.max(np.abs(ours - exact) / ulp)
    assert np.all(np.abs(ours - scipy.special.logsumexp(rows, axis=-1)) <= ulp)


def test_issue16_the_losses_take_the_scores_first_and_name_a_swapped_call():
    """One argument order across the lab: (logits, labels), as calibration.nll and
    models.loss_and_gradient. Class ids have one axis fewer than the logits, so a call in the old
    order (labels, logits) is recognised for certain and refused with an error that says so."""
    logits, labels = np.array([[2.0, 0.0, -1.0], [0.0, 1.0, 3.0]]), np.array([0, 2])
    np.testing.assert_allclose(
        cross_entropy(logits, labels, reduction="none"),
        [np.log1p(np.exp(-2) + np.exp(-3)), np.log1p(np.exp(-3) + np.exp(-2))],
        rtol=1e-15,
    )
    np.testing.assert_array_equal(
        cross_entropy(labels=labels, logits=logits, reduction="none"),
        cross_entropy(logits, labels, reduction="none"),
    )
    for function, scores in (
        (cross_entropy, logits),
        (cross_entropy_grad, logits),
        (cross_entropy_from_probs, softmax(logits)),
    ):
        name = list(inspect.signature(function).parameters)[0]
        assert list(inspect.signature(function).parameters)[:2] == [name, "labels"]
        with pytest.raises(
            ValueError,
            match=rf"labels has 2 axes and {name} 1: the {name} come "
            r"first, then the labels \(were the two swapped\?\)",
        ):
            function(labels, scores)
    with pytest.raises(ValueError, match="were the two swapped"):
        cross_entropy(2, [1000.0, 0.0, -1000.0])
    assert cross_entropy([1000.0, 0.0, -1000.0], 2) == 2000.0


# ------------------------------------------------------- issue 16: softmax without the shift


def _maxima_returned(z, temperature=1.0):
    """What the blocked pass reports per row: 0 for a row taken unshifted, its max otherwise."""
    z = np.ascontiguousarray(z)
    out = np.empty(z.shape, dtype=numerics._work_dtype(z))
    return numerics._softmax_blocks(z, out, temperature, out.dtype)[..., 0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_issue16_rows_just_inside_and_outside_the_safe_range(dtype, no_warnings):
    # Rows [a, a - 1] have the sum s = e^a (1 + 1/e): s = 1 and s = 2**64 are the two edges.
    low, high = -np.log1p(np.exp(-1.0)), 64 * np.log(2.0) - np.log1p(np.exp(-1.0))
    edges = [low + 1e-3, low - 1e-3, high - 1e-3, high + 1e-3]
    z = np.array([[a, a - 1.0] for a in edges], dtype=dtype)
    np.testing.assert_array_equal(_maxima_returned(z) != 0, [False, True, False, True])
    p = softmax(z)
    for row, got, unshifted in zip(z, p, [True, False, True, False], strict=True):
        assert (
            ulp_errors(got, exact_softmax(row if unshifted else row - row.max()), dtype).max() <= 4
        )
        np.testing.assert_array_equal(softmax(row), got)


def test_issue16_large_logits_overflowing_terms_and_minus_inf(no_warnings):
    rows = [
        [80.0, 79.0, 0.0],  # sum 7.6e34 > 2**64: shifted
        [88.0, 87.0, -3.0],  # exp(88) is finite in float32, the sum nearly is not
        [89.0, 0.0, -1.0],  # exp(89) overflows float32
        [1000.0, 0.0, -1000.0],
        [0.0, -np.inf, np.log(3.0)],  # unshifted, -inf gives exactly 0
        [-np.inf, -np.inf, -100.0],  # sum exp(-100) < 1: shifted, [0, 0, 1] exactly
        [-200.0, -201.0, -np.inf],  # every term underflows: shifted
    ]
    for dtype in (np.float32, np.float64):
        z = np.array(rows, dtype=dtype)
        p = softmax(z)
        for row, got in zip(z, p, strict=True):  # integer gaps: the shifts are exact
            assert ulp_errors(got, exact_softmax(row), dtype).max() <= 4, (dtype, row)
        assert p[4, 1] == 0 and (p[5] == [0, 0, 1]).all() and (p[3] == [1, 0, 0]).all()
        np.testing.assert_array_equal(softmax(z.T, axis=0), p.T)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_issue16_temperatures_on_both_paths(dtype, no_warnings):
    # T = 2 and T = 0.5 divide integers exactly, so the exact reference is that of z / T. At
    # T = 0.5 the rows whose max exceeds 22 have sums past 2**64 and are shifted, the others not.
    # A tiny T still gives the argmax exactly.
    z = np.random.default_rng(161).integers(-30, 30, size=(20, 7)).astype(dtype)
    for temperature in (2.0, 0.5):
        p = softmax(z, temperature=temperature)
        assert worst_ulp_error(p, z / temperature) <= 4
        assert (
            worst_ulp_error(softmax(z.T, axis=0, temperature=temperature), z.T / temperature, 0)
            <= 4
        )
    top = z.max(axis=-1)
    assert (top >= 23).any() and (top <= 21).any()
    np.testing.assert_array_equal(_maxima_returned(z, 0.5), np.where(top >= 23, top, 0))
    np.testing.assert_array_equal(
        softmax(np.array([0.3, 2.0, -1.0], dtype), temperature=1e-3), [0, 1, 0]
    )


def test_issue16_float16_is_computed_in_float32_and_rounded_once(no_warnings):
    z = (np.random.default_rng(162).normal(scale=3.0, size=(30, 50)) + 5).astype(np.float16)
    p = softmax(z)
    assert p.dtype == np.float16
    assert worst_ulp_error(p, z) <= 1.0
    assert worst_ulp_error(softmax(z.T, axis=0), z.T, 0) <= 1.0
    # scaling.chunked_softmax computes float16 in float16: the safe range ends at 1/tiny = 2**14
    # (a = 9.39 here), where 1/sum is still a normal float16; beyond it (sums up to 65504) the
    # rows are shifted. Without that edge, 1/sum would be subnormal: errors of 1800 ulp.
    a = np.linspace(9.0, 11.0, 41)
    rows = np.stack([a, a - 1.0, a - 2.5], axis=-1).astype(np.float16)  # exact shifts
    assert worst_ulp_error(lab_utils.scaling.chunked_softmax(rows), rows) <= 2.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_issue16_a_row_does_not_depend_on_its_neighbours_or_its_block(dtype, no_warnings):
    rng = np.random.default_rng(163)
    z = rng.normal(scale=3.0, size=(600, 1000)).astype(dtype)
    unsafe = [0, 261, 262, 523, 524, 599]  # block edges at 262 rows (float64) or 524 (float32)
    z[unsafe[0]] += 100.0  # overflows float32's exp, and past 2**64 in float64
    z[unsafe[1]] -= 60.0  # sum below 1
    z[unsafe[2], 7] = -np.inf
    z[unsafe[2]] += 50.0
    z[unsafe[3:]] *= 40.0
    assert z.nbytes > numerics._CACHE_BLOCK_BYTES
    assert (_maxima_returned(z)[unsafe] != 0).all() and (_maxima_returned(z)[1:261] == 0).all()
    p = softmax(z)
    for i in [*unsafe, 1, 260, 263, 522, 525, 598]:
        np.testing.assert_array_equal(softmax(z[i]), p[i])
        np.testing.assert_array_equal(softmax(z[i : i + 2])[0], p[i])
    for block_rows in (1, 2, 3, 262, 600):
        np.testing.assert_array_equal(blocked_softmax(z, block_rows=block_rows), p)
    # The whole-array path (other axes) redoes only its unsafe rows, so the others keep the bits
    # they get when nothing needs redoing.
    safe_everywhere = z.copy()
    safe_everywhere[unsafe] = z[1]
    by_columns, reference = softmax(z.T, axis=0), softmax(safe_everywhere.T, axis=0)
    kept = np.setdiff1d(np.arange(600), unsafe)
    np.testing.assert_array_equal(by_columns[:, kept], reference[:, kept])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_issue16_blocked_softmax_in_place_with_unsafe_rows(dtype, no_warnings):
    z = np.random.default_rng(164).normal(scale=3.0, size=(50, 300)).astype(dtype)
    z[[3, 4, 20]] += [[100.0], [-80.0], [200.0]]
    expected = blocked_softmax(z)
    for block_rows in (None, 1, 3, 50):
        logits = z.copy()
        assert blocked_softmax(logits, out=logits, block_rows=block_rows) is logits
        np.testing.assert_array_equal(logits, expected)
    logits = z.copy()
    np.testing.assert_array_equal(lab_utils.scaling.chunked_softmax(logits, out=logits), expected)


@pytest.mark.parametrize(
    "func", [softmax, blocked_softmax, lambda z: softmax(np.asfortranarray(z), axis=-1)]
)
def test_issue16_errors_are_those_of_the_row_maxima(func, no_warnings):
    # Most rows are safe and never get a max computed; the rejected ones still raise as before.
    z = np.random.default_rng(165).normal(size=(4, 6))
    bad = z.copy()
    bad[2, 3] = np.nan
    with pytest.raises(ValueError, match=r"z contains NaN \(first at index \(2, 3\)\)"):
        func(bad)
    bad = z.copy()
    bad[1, 5], bad[3, 0] = np.inf, np.nan
    with pytest.raises(ValueError, match=r"z contains NaN \(first at index \(3, 0\)\)"):
        func(bad)
    bad[3, 0] = 1.0
    with pytest.raises(ValueError, match=r"z contains \+inf \(first at index \(1, 5\)\)"):
        func(bad)
    bad = z.copy()
    bad[3] = -np.inf
    with pytest.raises(ValueError, match=r"z has a row of only -inf \(at index 3 along the other"):
        func(bad)
