"""Behaviour of lab_utils.attention: scaled dot-product, masks, additive and blockwise attention."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import softmax as scipy_softmax

from lab_utils.attention import (
    additive_attention,
    blockwise_attention,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
)


def reference_attention(q, k, v, mask=None):
    """Straightforward oracle: scores, -inf where masked, SciPy softmax, zero rows where all masked."""
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        mask = np.broadcast_to(mask, scores.shape)
        scores = np.where(mask, scores, -np.inf)
        all_masked = ~mask.any(axis=-1, keepdims=True)
        scores = np.where(all_masked, 0.0, scores)
        weights = np.where(all_masked, 0.0, scipy_softmax(scores, axis=-1))
    else:
        weights = scipy_softmax(scores, axis=-1)
    return weights @ v, weights


@pytest.fixture
def qkv():
    rng = np.random.default_rng(1)
    return rng.normal(size=(2, 4, 8)), rng.normal(size=(2, 5, 8)), rng.normal(size=(2, 5, 3))


# ---------------------------------------------------------------- scaled dot-product attention
def test_matches_reference_without_mask(qkv):
    out, weights = scaled_dot_product_attention(*qkv)
    ref_out, ref_weights = reference_attention(*qkv)
    np.testing.assert_allclose(weights, ref_weights, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(out, ref_out, rtol=1e-12, atol=1e-14)
    assert out.shape == (2, 4, 3) and weights.shape == (2, 4, 5)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-12)


def test_padding_mask_gives_exact_zeros_and_matches_reference(qkv):
    mask = padding_mask([3, 5], max_len=5)
    out, weights = scaled_dot_product_attention(*qkv, mask=mask)
    assert np.all(weights[0, :, 3:] == 0.0)  # exactly zero, not merely tiny
    assert np.all(weights[0, :, :3] > 0.0)
    ref_out, ref_weights = reference_attention(*qkv, mask=mask)
    np.testing.assert_allclose(weights, ref_weights, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(out, ref_out, rtol=1e-12, atol=1e-14)


def test_padded_values_do_not_change_the_output(qkv):
    q, k, v = qkv
    mask = padding_mask([3, 5], max_len=5)
    out, _ = scaled_dot_product_attention(q, k, v, mask=mask)
    k2, v2 = k.copy(), v.copy()
    k2[0, 3:] = 1e6 * np.sign(k2[0, 3:])  # garbage in the padding, even huge
    v2[0, 3:] = -1e6
    out2, _ = scaled_dot_product_attention(q, k2, v2, mask=mask)
    np.testing.assert_array_equal(out[0], out2[0])


def test_causal_output_ignores_the_future():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(6, 4))
    out, weights = scaled_dot_product_attention(x, x, x, mask=causal_mask(6))
    assert np.all(weights[np.triu_indices(6, k=1)] == 0.0)
    assert weights[0, 0] == 1.0  # the first position can only see itself
    changed = x.copy()
    changed[4:] += 10.0  # alter positions 4 and 5
    out2, _ = scaled_dot_product_attention(changed[:4], changed, changed, mask=causal_mask(6)[:4])
    np.testing.assert_allclose(out2, out[:4], rtol=1e-12)


def test_fully_masked_row_is_zero_not_nan(qkv):
    q, k, v = qkv
    mask = np.ones((2, 4, 5), dtype=bool)
    mask[1, 2] = False
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    assert not np.isnan(weights).any() and not np.isnan(out).any()
    assert np.all(weights[1, 2] == 0.0) and np.all(out[1, 2] == 0.0)
    np.testing.assert_allclose(np.delete(weights[1], 2, axis=0).sum(axis=-1), 1.0)


def test_large_scores_do_not_overflow():
    q = np.array([[1000.0, 0.0]])
    k = np.array([[1000.0, 0.0], [-1000.0, 0.0]])
    v = np.array([[1.0], [2.0]])
    out, weights = scaled_dot_product_attention(q, k, v)
    np.testing.assert_array_equal(weights, [[1.0, 0.0]])
    np.testing.assert_array_equal(out, [[1.0]])


def test_scaling_by_sqrt_dk():
    # Two keys whose dot products with the query differ by 4 over d_k = 4: weights are
    # softmax([4, 0] / 2) = softmax([2, 0]).
    q = np.array([[1.0, 1.0, 1.0, 1.0]])
    k = np.array([[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    _, weights = scaled_dot_product_attention(q, k, np.eye(2))
    np.testing.assert_allclose(weights[0], scipy_softmax([2.0, 0.0]), rtol=1e-14)


def test_accepts_integer_inputs_and_broadcast_masks():
    q = np.array([[1, 0], [0, 1]])
    out, weights = scaled_dot_product_attention(q, q, q, mask=np.array([True, False]))
    np.testing.assert_array_equal(weights, [[1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_array_equal(out, [[1.0, 0.0], [1.0, 0.0]])


@pytest.mark.parametrize(
    "args, kwargs, error, words",
    [
        ((np.ones((2, 3)), np.ones((4, 2)), np.ones((4, 1))), {}, ValueError, "d_k"),
        ((np.ones((2, 3)), np.ones((4, 3)), np.ones((5, 1))), {}, ValueError, "n_k"),
        ((np.ones(3), np.ones((4, 3)), np.ones((4, 1))), {}, ValueError, "queries"),
        (
            (np.ones((2, 3)), np.ones((4, 3)), np.ones((4, 1))),
            {"mask": np.ones((2, 4))},
            TypeError,
            "boolean",
        ),
        (
            (np.ones((2, 3)), np.ones((4, 3)), np.ones((4, 1))),
            {"mask": np.ones((3, 4), bool)},
            ValueError,
            "broadcast",
        ),
        ((np.array([[np.nan, 0.0]]), np.ones((1, 2)), np.ones((1, 1))), {}, ValueError, "finite"),
        ((np.array([["a", "b"]]), np.ones((1, 2)), np.ones((1, 1))), {}, TypeError, "queries"),
        ((np.ones((2, 2, 3)), np.ones((3, 4, 3)), np.ones((3, 4, 1))), {}, ValueError, "batch"),
    ],
)
def test_bad_inputs_raise_clear_errors(args, kwargs, error, words):
    with pytest.raises(error, match=words):
        scaled_dot_product_attention(*args, **kwargs)


@pytest.mark.tensorflow
def test_agrees_with_keras_attention_layer(qkv):
    from lab_utils.environment import import_tensorflow

    tf = import_tensorflow()
    q, k, v = qkv
    lengths = [3, 5]
    mask = padding_mask(lengths, max_len=5)
    layer = tf.keras.layers.Attention()  # dot-product scores, no scale: scale the queries ourselves
    key_mask = np.arange(5)[None, :] < np.array(lengths)[:, None]
    keras_out, keras_weights = layer(
        [tf.constant(q / np.sqrt(8)), tf.constant(v), tf.constant(k)],
        mask=[None, tf.constant(key_mask)],
        return_attention_scores=True,
    )
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    np.testing.assert_allclose(weights, keras_weights.numpy(), atol=1e-6)
    np.testing.assert_allclose(out, keras_out.numpy(), atol=1e-5)


# ---------------------------------------------------------------- masks
def test_padding_mask_shape_and_values():
    mask = padding_mask(np.array([0, 2, 4]), max_len=4)
    assert mask.dtype == bool and mask.shape == (3, 1, 4)
    np.testing.assert_array_equal(mask[:, 0].sum(axis=1), [0, 2, 4])
    np.testing.assert_array_equal(mask[1, 0], [True, True, False, False])


@pytest.mark.parametrize(
    "lengths, max_len, error, words",
    [
        ([1, 5], 4, ValueError, "max_len=4"),
        ([-1], 4, ValueError, "length"),
        ([1.5], 4, TypeError, "integers"),
        ([[1, 2]], 4, ValueError, "1-D"),
        ([1], 4.0, TypeError, "max_len"),
        ([1], -1, ValueError, "max_len"),
    ],
)
def test_padding_mask_rejects_bad_input(lengths, max_len, error, words):
    with pytest.raises(error, match=words):
        padding_mask(lengths, max_len)


def test_causal_mask():
    mask = causal_mask(4)
    assert mask.dtype == bool and mask.shape == (4, 4)
    np.testing.assert_array_equal(mask, np.tril(np.ones((4, 4))) == 1)
    assert causal_mask(0).shape == (0, 0)
    with pytest.raises(ValueError, match="n must be >= 0"):
        causal_mask(-2)
    with pytest.raises(TypeError, match="n must be an int"):
        causal_mask(2.0)


# ---------------------------------------------------------------- additive attention
def test_additive_attention_matches_explicit_loop():
    rng = np.random.default_rng(3)
    query, keys = rng.normal(size=5), rng.normal(size=(7, 4))
    W_q, W_k, v = rng.normal(size=(6, 5)), rng.normal(size=(6, 4)), rng.normal(size=6)
    context, weights = additive_attention(query, keys, W_q, W_k, v)
    scores = np.array([v @ np.tanh(W_q @ query + W_k @ key) for key in keys])
    expected = scipy_softmax(scores)
    np.testing.assert_allclose(weights, expected, rtol=1e-12)
    np.testing.assert_allclose(context, expected @ keys, rtol=1e-12)


def test_additive_attention_batched_and_masked():
    rng = np.random.default_rng(4)
    queries, keys = rng.normal(size=(3, 5)), rng.normal(size=(3, 7, 4))
    W_q, W_k, v = rng.normal(size=(6, 5)), rng.normal(size=(6, 4)), rng.normal(size=6)
    mask = padding_mask([7, 4, 1], max_len=7)[:, 0, :]
    context, weights = additive_attention(queries, keys, W_q, W_k, v, mask=mask)
    assert context.shape == (3, 4) and weights.shape == (3, 7)
    assert np.all(weights[~mask] == 0.0)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0)
    np.testing.assert_array_equal(weights[2], [1, 0, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(context[2], keys[2, 0])
    for b in range(3):  # each batch element equals the unbatched call
        c1, w1 = additive_attention(queries[b], keys[b], W_q, W_k, v, mask=mask[b])
        np.testing.assert_allclose(w1, weights[b], rtol=1e-12)
        np.testing.assert_allclose(c1, context[b], rtol=1e-12)


@pytest.mark.parametrize(
    "shapes, words",
    [
        (dict(W_q=(6, 4)), "W_q must have shape"),
        (dict(W_k=(5, 4)), "W_k must have shape"),
        (dict(v=(6, 1)), "v 1-D"),
        (dict(keys=(4,)), "keys"),
    ],
)
def test_additive_attention_shape_errors(shapes, words):
    sizes = dict(query=(5,), keys=(7, 4), W_q=(6, 5), W_k=(6, 4), v=(6,)) | shapes
    args = {name: np.ones(shape) for name, shape in sizes.items()}
    with pytest.raises(ValueError, match=words):
        additive_attention(**args)


# ---------------------------------------------------------------- blockwise (online) attention
@settings(max_examples=40, deadline=None)
@given(
    n_q=st.integers(1, 9),
    n_k=st.integers(1, 20),
    d=st.integers(1, 6),
    block=st.integers(1, 25),
    scale=st.sampled_from([0.1, 1.0, 30.0, 300.0]),
    seed=st.integers(0, 2**16),
)
def test_blockwise_equals_full_attention(n_q, n_k, d, block, scale, seed):
    rng = np.random.default_rng(seed)
    q, k = scale * rng.normal(size=(n_q, d)), scale * rng.normal(size=(n_k, d))
    v = rng.normal(size=(n_k, 3))
    full, _ = scaled_dot_product_attention(q, k, v)
    np.testing.assert_allclose(
        blockwise_attention(q, k, v, block=block), full, rtol=1e-9, atol=1e-12
    )


def test_blockwise_batched():
    rng = np.random.default_rng(5)
    q, k, v = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 10, 4)), rng.normal(size=(2, 10, 2))
    np.testing.assert_allclose(
        blockwise_attention(q, k, v, block=3), scaled_dot_product_attention(q, k, v)[0], rtol=1e-12
    )


@pytest.mark.parametrize("block, error", [(0, ValueError), (2.5, TypeError), (True, TypeError)])
def test_blockwise_rejects_bad_block(block, error):
    x = np.ones((2, 2))
    with pytest.raises(error, match="block"):
        blockwise_attention(x, x, x, block=block)


def test_blockwise_rejects_empty_keys():
    with pytest.raises(ValueError, match="n_k >= 1"):
        blockwise_attention(np.ones((2, 2)), np.ones((0, 2)), np.ones((0, 1)))


def test_a_0_1_integer_mask_means_the_same_here_as_in_masked_softmax():
    """Issue 16: the same mask worked in masked_softmax and raised here."""
    from lab_utils.numerics import masked_softmax

    q = np.array([[1.0, 0.0], [0.0, 1.0]])
    as_ints, as_bools = np.array([[1, 0], [1, 1]]), np.array([[True, False], [True, True]])
    np.testing.assert_array_equal(
        scaled_dot_product_attention(q, q, q, mask=as_ints)[1],
        scaled_dot_product_attention(q, q, q, mask=as_bools)[1],
    )
    scores = q @ q.T / np.sqrt(2)
    np.testing.assert_array_equal(
        scaled_dot_product_attention(q, q, q, mask=as_ints)[1], masked_softmax(scores, as_ints)
    )
    with pytest.raises(ValueError, match="only True/False"):
        scaled_dot_product_attention(q, q, q, mask=np.array([[2, 0], [1, 1]]))
