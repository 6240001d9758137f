"""Property-based tests of lab_utils.numerics (Hypothesis): the laws softmax must obey for any input.

Sums to one, shift invariance, order preserved, temperature limits, Jacobian rows sum to zero and
J symmetric, gradients match finite differences, and the variants (online, masked, log, sigmoid)
agree with softmax. Inputs range over every finite float, extremes included.
"""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lab_utils.numerics import (
    cross_entropy,
    cross_entropy_grad,
    log_softmax,
    logsumexp,
    masked_softmax,
    one_hot,
    online_softmax,
    sigmoid,
    softmax,
    softmax_jacobian,
    top_k,
)
from tests.exact_softmax import worst_ulp_error

SETTINGS = settings(max_examples=60, deadline=None)


def logit_arrays(dtype=np.float64, max_value=None, min_dims=1, max_dims=3, max_side=6):
    """Arrays of finite logits of any magnitude (or |z| <= max_value), of 1 to 3 axes."""
    width = np.dtype(dtype).itemsize * 8
    elements = st.floats(
        allow_nan=False,
        allow_infinity=False,
        width=width,
        min_value=None if max_value is None else -max_value,
        max_value=max_value,
    )
    return hnp.arrays(
        dtype,
        hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, max_side=max_side),
        elements=elements,
    )


@st.composite
def logits_and_axis(draw, **kwargs):
    z = draw(logit_arrays(**kwargs))
    return z, draw(st.integers(-z.ndim, z.ndim - 1))


@SETTINGS
@given(case=logits_and_axis(), temperature=st.sampled_from([1e-3, 0.3, 1.0, 3.0, 1e6]))
def test_probabilities_are_valid_and_sum_to_one_for_any_finite_input(case, temperature):
    z, axis = case
    p = softmax(z, axis=axis, temperature=temperature)
    assert p.shape == z.shape and p.dtype == z.dtype
    assert np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()
    n = z.shape[axis]
    np.testing.assert_allclose(p.sum(axis=axis), 1.0, rtol=0, atol=(n + 2) * np.finfo(z.dtype).eps)
    online = online_softmax(z, axis=axis, block=2) if temperature == 1.0 else p
    np.testing.assert_allclose(online, p, rtol=1e-13, atol=1e-300)


@SETTINGS
@given(case=logits_and_axis(dtype=np.float32), temperature=st.sampled_from([1e-3, 1.0, 1e6]))
def test_float32_probabilities_sum_to_one_for_any_finite_input(case, temperature):
    z, axis = case
    p = softmax(z, axis=axis, temperature=temperature)
    assert p.dtype == np.float32 and np.isfinite(p).all() and (p >= 0).all()
    np.testing.assert_allclose(
        p.sum(axis=axis, dtype=np.float64),
        1.0,
        rtol=0,
        atol=(z.shape[axis] + 2) * np.finfo(np.float32).eps,
    )


@SETTINGS
@given(z=logit_arrays(max_value=1e3, max_dims=2), shift=st.floats(-1e3, 1e3))
def test_adding_a_constant_changes_nothing(z, shift):
    np.testing.assert_allclose(softmax(z + shift), softmax(z), rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(log_softmax(z + shift), log_softmax(z), rtol=1e-9, atol=1e-9)


@SETTINGS
@given(z=logit_arrays(max_dims=1, max_side=8))
def test_order_is_preserved(z):
    p = softmax(z)
    for i in range(len(z)):
        for j in range(len(z)):
            if z[i] < z[j]:
                assert p[i] <= p[j]
            elif z[i] == z[j]:
                assert p[i] == p[j]
    assert p[np.argmax(z)] == p.max()
    values, indices = top_k(p, len(p))
    assert (np.diff(values) <= 0).all()


@SETTINGS
@given(z=logit_arrays(max_value=100.0, max_dims=1, max_side=8))
def test_temperature_limits_are_argmax_and_uniform(z):
    ordered = np.sort(z)[::-1]
    assume(len(z) == 1 or ordered[0] - ordered[1] >= 1.0)  # a clear winner
    cold = softmax(z, temperature=1e-3)  # gaps of >= 1000 in the exponent: exp gives exactly 0
    np.testing.assert_array_equal(cold, one_hot(np.argmax(z), len(z)))
    hot = softmax(z, temperature=1e6)  # (z_i - z_j) / T <= 2e-4
    np.testing.assert_allclose(hot, 1 / len(z), rtol=3e-4)


@SETTINGS
@given(z=logit_arrays(min_dims=1, max_dims=3))
def test_jacobian_is_symmetric_and_rows_sum_to_zero(z):
    jac = softmax_jacobian(z)
    assert jac.shape == z.shape + z.shape[-1:]
    np.testing.assert_array_equal(jac, np.swapaxes(jac, -1, -2))
    np.testing.assert_allclose(jac.sum(axis=-1), 0.0, atol=4 * np.finfo(float).eps)
    diagonal = np.diagonal(jac, axis1=-2, axis2=-1)
    assert (diagonal >= 0).all() and (diagonal <= 0.25).all()


@SETTINGS
@given(z=logit_arrays(max_value=10.0, max_dims=1, max_side=6), data=st.data())
def test_gradients_match_finite_differences(z, data):
    label = data.draw(st.integers(0, len(z) - 1))
    h = 1e-6
    steps = np.eye(len(z)) * h
    numeric = np.array(
        [(cross_entropy(z + e, label) - cross_entropy(z - e, label)) / (2 * h) for e in steps]
    )
    np.testing.assert_allclose(cross_entropy_grad(z, label), numeric, atol=1e-7)
    jac_numeric = np.stack([(softmax(z + e) - softmax(z - e)) / (2 * h) for e in steps], axis=-1)
    np.testing.assert_allclose(softmax_jacobian(z), jac_numeric, atol=1e-8)


@SETTINGS
@given(z=logit_arrays(max_dims=2), data=st.data())
def test_log_forms_agree_with_softmax(z, data):
    log_p = log_softmax(z)
    # log_softmax = z - logsumexp(z): same numbers, computed two ways. The second way rounds
    # z - lse at the scale of |z|, so it is only good to a few ulp of the largest |z|.
    lse = logsumexp(z)
    scale = 4 * np.finfo(float).eps * max(1.0, float(np.abs(z).max()))
    with np.errstate(over="ignore"):  # z - lse for |z| near the float max may round to -inf
        np.testing.assert_allclose(log_p, z - np.expand_dims(lse, -1), rtol=1e-12, atol=scale)
    p = softmax(z)
    visible = p > 1e-300  # where p has not underflowed, exp(log p) is p
    np.testing.assert_allclose(np.exp(log_p)[visible], p[visible], rtol=1e-12)
    labels = data.draw(hnp.arrays(np.int64, z.shape[:-1], elements=st.integers(0, z.shape[-1] - 1)))
    sparse = cross_entropy(z, labels, reduction="none")
    np.testing.assert_array_equal(
        sparse, np.take_along_axis(-log_p, labels[..., None], -1)[..., 0] + 0.0
    )
    np.testing.assert_allclose(
        cross_entropy(z, one_hot(labels, z.shape[-1]), reduction="none"), sparse, rtol=1e-15
    )
    assert (sparse >= 0).all()


@SETTINGS
@given(z=logit_arrays(max_dims=2), data=st.data())
def test_masked_softmax_is_softmax_over_kept_entries(z, data):
    mask = data.draw(hnp.arrays(np.bool_, z.shape))
    p = masked_softmax(z, mask)
    assert (p[~mask] == 0).all() and np.isfinite(p).all()
    rows = z.reshape(-1, z.shape[-1])
    for row, row_mask, row_p in zip(
        rows, mask.reshape(rows.shape), p.reshape(rows.shape), strict=True
    ):
        if row_mask.any():
            # masked_softmax shifts by the max of the kept entries (softmax does so only for rows
            # it cannot take unshifted): within a few ulp of the exact softmax of those values.
            kept = row[row_mask]
            # A difference below -max_float rounds to -inf, as in masked_softmax: probability 0.
            with np.errstate(over="ignore"):
                shifted = kept - kept.max()
            assert worst_ulp_error(row_p[row_mask], shifted) <= 4.0
            np.testing.assert_allclose(row_p[row_mask], softmax(kept), rtol=1e-12, atol=1e-300)
        else:
            assert (row_p == 0).all()


@SETTINGS
@given(z=logit_arrays(max_dims=2))
def test_sigmoid_is_the_two_class_softmax(z):
    pairs = softmax(np.stack([z, np.zeros_like(z)], axis=-1))[..., 0]
    np.testing.assert_allclose(sigmoid(z), pairs, rtol=4 * np.finfo(float).eps, atol=1e-300)
