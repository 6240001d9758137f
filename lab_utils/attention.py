"""Attention as softmax over scores: scaled dot-product, additive (Bahdanau) and blockwise (online).

Pure NumPy. Every attention weight here comes from :func:`lab_utils.numerics.masked_softmax`, so a
masked position gets a weight of exactly ``0.0`` (not a tiny number), and a query that may attend to
nothing gets an all-zero row instead of NaN.

Shapes follow the usual convention: ``queries (..., n_q, d_k)``, ``keys (..., n_k, d_k)``,
``values (..., n_k, d_v)``; masks are boolean (or 0/1 integers, as everywhere in the lab: see
:mod:`lab_utils.validation`), ``True`` where a query may attend to a key, and broadcast against the
score matrix ``(..., n_q, n_k)``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .numerics import masked_softmax, softmax
from .validation import as_float_array, as_int, as_mask, check_finite

__all__ = [
    "scaled_dot_product_attention",
    "padding_mask",
    "causal_mask",
    "additive_attention",
    "blockwise_attention",
]


def _as_float_array(x, name: str, min_ndim: int) -> np.ndarray:
    """``x`` as a finite float array (queries, keys, values and weights are not logits: no -inf)."""
    array = as_float_array(x, name, min_ndim=min_ndim, allow_empty=True)
    check_finite(array, name)
    return array


def _check_qkv(queries, keys, values) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate queries (..., n_q, d_k), keys (..., n_k, d_k) and values (..., n_k, d_v) together."""
    queries = _as_float_array(queries, "queries", 2)
    keys = _as_float_array(keys, "keys", 2)
    values = _as_float_array(values, "values", 2)
    if queries.shape[-1] != keys.shape[-1]:
        raise ValueError(
            f"queries and keys must have the same last dimension d_k, got {queries.shape[-1]} "
            f"(queries shape {queries.shape}) and {keys.shape[-1]} (keys shape {keys.shape})"
        )
    if keys.shape[-2] != values.shape[-2]:
        raise ValueError(
            f"keys and values must have the same number of rows n_k, got {keys.shape[-2]} "
            f"(keys shape {keys.shape}) and {values.shape[-2]} (values shape {values.shape})"
        )
    if keys.shape[-2] == 0:
        raise ValueError("keys must have at least one row (n_k >= 1)")
    if queries.shape[-1] == 0:
        raise ValueError("queries and keys must have d_k >= 1, got 0")
    return queries, keys, values


def scaled_dot_product_attention(
    queries: ArrayLike, keys: ArrayLike, values: ArrayLike, mask: ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    r"""Scaled dot-product attention: ``softmax(Q K^T / sqrt(d_k)) V``, with an optional mask.

    .. math:: A = \operatorname{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}}\right), \qquad O = A V

    Parameters
    ----------
    queries : array_like, shape (..., n_q, d_k)
        One query vector per row.
    keys : array_like, shape (..., n_k, d_k)
        One key vector per row; same ``d_k`` as the queries.
    values : array_like, shape (..., n_k, d_v)
        One value vector per key.
    mask : array_like of bool, optional
        Broadcastable to ``(..., n_q, n_k)``; ``True`` where query ``i`` may attend to key ``j``.
        ``None`` lets every query attend to every key.

    Returns
    -------
    output : ndarray, shape (..., n_q, d_v)
        Each query's weighted average of the values.
    weights : ndarray, shape (..., n_q, n_k)
        The attention weights; each row sums to 1, masked entries are exactly 0, and a row with no
        allowed key is all zeros (so its output row is zeros too).

    Raises
    ------
    TypeError
        If an input is not numeric, or ``mask`` is not boolean.
    ValueError
        If the shapes do not fit together, an input holds NaN/inf, or ``mask`` does not broadcast.

    Examples
    --------
    >>> q = np.array([[1.0, 0.0]])
    >>> k = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> v = np.array([[10.0], [20.0], [30.0]])
    >>> out, w = scaled_dot_product_attention(q, k, v, mask=np.array([True, True, False]))
    >>> w[0, 2] == 0.0, bool(np.isclose(w.sum(), 1.0))
    (np.True_, True)
    >>> np.round(out, 4)
    array([[13.3024]])
    """
    queries, keys, values = _check_qkv(queries, keys, values)
    d_k = queries.shape[-1]
    try:
        scores = queries @ np.swapaxes(keys, -1, -2) / np.sqrt(d_k)
    except ValueError:
        raise ValueError(
            f"the batch dimensions of queries {queries.shape[:-2]} and keys {keys.shape[:-2]} "
            "do not broadcast"
        ) from None
    if mask is None:
        weights = softmax(scores, axis=-1)
    else:
        weights = masked_softmax(
            scores, as_mask(mask, "mask", scores.shape, masks="the scores"), axis=-1
        )
    try:
        output = weights @ values
    except ValueError:
        raise ValueError(
            f"the batch dimensions of the weights {weights.shape[:-2]} and values "
            f"{values.shape[:-2]} do not broadcast"
        ) from None
    return output, weights


def padding_mask(lengths: ArrayLike, max_len: int) -> np.ndarray:
    """Key mask for a padded batch: position ``j`` of sequence ``b`` is real when ``j < lengths[b]``.

    Parameters
    ----------
    lengths : array_like of int, shape (batch,)
        The true length of each sequence, ``0 <= length <= max_len``.
    max_len : int
        The padded length (number of keys).

    Returns
    -------
    ndarray of bool, shape (batch, 1, max_len)
        ``True`` at real positions. The middle axis of size 1 broadcasts over the queries, so the
        mask can be passed straight to :func:`scaled_dot_product_attention` with scores of shape
        ``(batch, n_q, max_len)``.

    Raises
    ------
    TypeError
        If ``lengths`` are not integers or ``max_len`` is not an int.
    ValueError
        If ``lengths`` is not 1-D, or a length is negative or larger than ``max_len``.

    Examples
    --------
    >>> padding_mask([2, 3], max_len=4).astype(int)
    array([[[1, 1, 0, 0]],
    <BLANKLINE>
           [[1, 1, 1, 0]]])
    """
    max_len = as_int(max_len, "max_len", minimum=0)
    lengths = np.asarray(lengths)
    if lengths.dtype == bool or not np.issubdtype(lengths.dtype, np.integer):
        raise TypeError(f"lengths must be integers, got dtype {lengths.dtype}")
    if lengths.ndim != 1:
        raise ValueError(
            f"lengths must be 1-D (one length per sequence), got shape {lengths.shape}"
        )
    if np.any(lengths < 0) or np.any(lengths > max_len):
        raise ValueError(f"every length must be in [0, max_len={max_len}], got {lengths.tolist()}")
    return (np.arange(max_len)[None, :] < lengths[:, None])[:, None, :]


def causal_mask(n: int) -> np.ndarray:
    """Mask that lets position ``i`` attend only to positions ``j <= i`` (no peeking ahead).

    Parameters
    ----------
    n : int
        Sequence length (queries and keys).

    Returns
    -------
    ndarray of bool, shape (n, n)
        Lower triangle including the diagonal is ``True``.

    Raises
    ------
    TypeError
        If ``n`` is not an int.
    ValueError
        If ``n`` is negative.

    Examples
    --------
    >>> causal_mask(3).astype(int)
    array([[1, 0, 0],
           [1, 1, 0],
           [1, 1, 1]])
    """
    n = as_int(n, "n", minimum=0)
    return np.tril(np.ones((n, n), dtype=bool))


def additive_attention(
    query: ArrayLike,
    keys: ArrayLike,
    W_q: ArrayLike,
    W_k: ArrayLike,
    v: ArrayLike,
    mask: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Additive (Bahdanau-style) attention: score ``v^T tanh(W_q q + W_k k_j)``, then softmax.

    .. math:: e_j = v^\top \tanh(W_q q + W_k k_j), \qquad
              \alpha = \operatorname{softmax}(e), \qquad c = \sum_j \alpha_j k_j

    As in Bahdanau et al. (2014), the encoder states ``k_j`` are both what is scored and what is
    averaged, so the context vector ``c`` lives in the keys' space.

    Parameters
    ----------
    query : array_like, shape (..., d_q)
        The decoder state (one per batch element).
    keys : array_like, shape (..., n, d_k)
        The encoder states to attend over.
    W_q : array_like, shape (d_a, d_q)
        Projects the query into the attention space.
    W_k : array_like, shape (d_a, d_k)
        Projects each key into the attention space.
    v : array_like, shape (d_a,)
        Turns the ``tanh`` feature into a scalar score.
    mask : array_like of bool, optional
        Broadcastable to ``(..., n)``; ``True`` where the key may be attended to.

    Returns
    -------
    context : ndarray, shape (..., d_k)
        The attention-weighted average of the keys.
    weights : ndarray, shape (..., n)
        The attention weights (sum to 1; masked entries exactly 0).

    Raises
    ------
    TypeError
        If an input is not numeric, or ``mask`` is not boolean.
    ValueError
        If the shapes do not fit together or an input holds NaN/inf.

    Examples
    --------
    >>> keys = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> W_q, W_k, v = np.eye(2), np.eye(2), np.array([1.0, -1.0])
    >>> context, weights = additive_attention(np.array([0.5, 0.0]), keys, W_q, W_k, v)
    >>> np.round(weights, 4)
    array([0.566 , 0.1697, 0.2643])
    >>> bool(np.isclose(weights.sum(), 1.0)), context.shape
    (True, (2,))
    """
    query = _as_float_array(query, "query", 1)
    keys = _as_float_array(keys, "keys", 2)
    W_q = _as_float_array(W_q, "W_q", 2)
    W_k = _as_float_array(W_k, "W_k", 2)
    v = _as_float_array(v, "v", 1)
    if W_q.ndim != 2 or W_k.ndim != 2 or v.ndim != 1:
        raise ValueError(
            f"W_q and W_k must be 2-D and v 1-D, got shapes {W_q.shape}, {W_k.shape}, {v.shape}"
        )
    d_a = v.shape[0]
    if W_q.shape != (d_a, query.shape[-1]):
        raise ValueError(
            f"W_q must have shape (d_a, d_q) = ({d_a}, {query.shape[-1]}) to match v and query, "
            f"got {W_q.shape}"
        )
    if W_k.shape != (d_a, keys.shape[-1]):
        raise ValueError(
            f"W_k must have shape (d_a, d_k) = ({d_a}, {keys.shape[-1]}) to match v and keys, "
            f"got {W_k.shape}"
        )
    projected_query = query @ W_q.T  # (..., d_a)
    projected_keys = keys @ W_k.T  # (..., n, d_a)
    try:
        features = np.tanh(projected_query[..., None, :] + projected_keys)  # (..., n, d_a)
    except ValueError:
        raise ValueError(
            f"the batch dimensions of query {query.shape[:-1]} and keys {keys.shape[:-2]} "
            "do not broadcast"
        ) from None
    scores = features @ v  # (..., n)
    if mask is None:
        weights = softmax(scores, axis=-1)
    else:
        weights = masked_softmax(
            scores, as_mask(mask, "mask", scores.shape, masks="the scores"), axis=-1
        )
    context = (weights[..., None, :] @ keys)[..., 0, :]  # (..., 1, n) @ (..., n, d_k)
    return context, weights


def blockwise_attention(
    queries: ArrayLike, keys: ArrayLike, values: ArrayLike, block: int = 128
) -> np.ndarray:
    r"""Scaled dot-product attention computed over key blocks with an online softmax.

    This is the idea behind FlashAttention, in NumPy: the full ``(n_q, n_k)`` score matrix is never
    built. For each block of keys the function keeps, per query, the running maximum score ``m``, the
    running normaliser ``l`` and the running unnormalised output ``O``; when a new block raises the
    maximum, the old ``l`` and ``O`` are rescaled by ``exp(m_old - m_new)``:

    .. math:: m' = \max(m, \max_j s_j), \quad
              l' = e^{m - m'} l + \sum_j e^{s_j - m'}, \quad
              O' = e^{m - m'} O + \sum_j e^{s_j - m'} v_j

    and the answer is ``O / l``. Memory beyond the inputs and output is ``O(n_q * block)``.

    Parameters
    ----------
    queries : array_like, shape (..., n_q, d_k)
    keys : array_like, shape (..., n_k, d_k)
    values : array_like, shape (..., n_k, d_v)
    block : int, default 128
        Number of keys processed at a time (>= 1).

    Returns
    -------
    ndarray, shape (..., n_q, d_v)
        Equal (to rounding) to ``scaled_dot_product_attention(queries, keys, values)[0]``.

    Raises
    ------
    TypeError
        If an input is not numeric or ``block`` is not an int.
    ValueError
        If the shapes do not fit together, ``n_k`` is 0, or ``block < 1``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> q, k, v = rng.normal(size=(5, 4)), rng.normal(size=(12, 4)), rng.normal(size=(12, 3))
    >>> full, _ = scaled_dot_product_attention(q, k, v)
    >>> bool(np.allclose(blockwise_attention(q, k, v, block=5), full))
    True
    """
    block = as_int(block, "block", minimum=1)
    queries, keys, values = _check_qkv(queries, keys, values)
    n_k = keys.shape[-2]
    scale = 1.0 / np.sqrt(queries.shape[-1])
    batch = np.broadcast_shapes(queries.shape[:-2], keys.shape[:-2], values.shape[:-2])
    dtype = np.result_type(queries, keys, values)
    n_q, d_v = queries.shape[-2], values.shape[-1]
    running_max = np.full(batch + (n_q, 1), -np.inf, dtype=dtype)
    running_sum = np.zeros(batch + (n_q, 1), dtype=dtype)
    running_out = np.zeros(batch + (n_q, d_v), dtype=dtype)
    for start in range(0, n_k, block):
        key_block = keys[..., start : start + block, :]
        scores = (queries @ np.swapaxes(key_block, -1, -2)) * scale  # (..., n_q, block)
        new_max = np.maximum(running_max, scores.max(axis=-1, keepdims=True))
        # First block: running_max is -inf, new_max finite, so the rescale factor is exactly 0.
        rescale = np.exp(running_max - new_max)
        np.subtract(scores, new_max, out=scores)
        np.exp(scores, out=scores)
        running_sum = rescale * running_sum + scores.sum(axis=-1, keepdims=True)
        running_out = rescale * running_out + scores @ values[..., start : start + block, :]
        running_max = new_max
    return running_out / running_sum
