"""Softmax over a large vocabulary: what one token costs, and how sampled softmax cuts it.

A language model's output layer turns a hidden vector ``h`` (d numbers) into one logit per word of
its vocabulary: ``h @ W_out`` with ``W_out`` of shape (d, V), then a softmax over all V. Per token
that is ``d * V`` multiply-adds and V exponentials, for every token of every training batch.

*Sampled softmax* (Jean et al., 2015; TensorFlow's ``tf.nn.sampled_softmax_loss``) trains with a
softmax over the target word and k words drawn from a proposal distribution Q instead: ``d * (k + 1)``
multiply-adds. Each sampled logit is corrected by ``-log(k * Q(word))`` so that frequent words,
drawn often, are not over-counted. Its value is not the full loss (the target's logit is corrected too), but its gradient
estimates the full gradient, better as k grows, and the gradient is what training uses.

Everything here is plain NumPy; :func:`measure_vocabulary_cost` times both on this machine.

Examples
--------
>>> hidden, W_out, targets = toy_language_model(vocab_size=50, d=8, batch=4)
>>> loss, grad = full_softmax(hidden, W_out, targets)
>>> W_out.shape, grad.shape == hidden.shape
((8, 50), True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from numpy.typing import DTypeLike

from . import numerics, validation
from .scaling import single_threaded_blas, time_call

__all__ = [
    "log_uniform_proposal",
    "full_softmax",
    "sampled_softmax",
    "toy_language_model",
    "VocabularyCost",
    "measure_vocabulary_cost",
]


def _check_problem(hidden, W_out, targets):
    hidden, W_out, targets = np.asarray(hidden), np.asarray(W_out), np.asarray(targets)
    if hidden.ndim != 2:
        raise ValueError(f"hidden must have shape (B, d), got shape {hidden.shape}")
    if W_out.ndim != 2 or W_out.shape[0] != hidden.shape[1]:
        raise ValueError(
            f"W_out must have shape (d, V) with d = {hidden.shape[1]}, got shape {W_out.shape}"
        )
    if targets.shape != (len(hidden),) or not np.issubdtype(targets.dtype, np.integer):
        raise ValueError(
            f"targets must be {len(hidden)} integer word ids, got shape {targets.shape}"
        )
    if targets.size and (targets.min() < 0 or targets.max() >= W_out.shape[1]):
        raise ValueError(f"targets must be word ids from 0 to {W_out.shape[1] - 1}")
    return hidden, W_out, targets


def log_uniform_proposal(vocab_size: int) -> np.ndarray:
    """Q(j) = log((j + 2) / (j + 1)) / log(V + 1): Zipf-like, for words sorted by frequency.

    TensorFlow's ``log_uniform_candidate_sampler`` uses this distribution; it sums to 1 exactly
    (the logs telescope).
    """
    vocab_size = validation.as_int(vocab_size, "vocab_size", minimum=2)
    j = np.arange(vocab_size, dtype=np.float64)
    return np.log1p(1.0 / (j + 1.0)) / np.log(vocab_size + 1.0)


def full_softmax(
    hidden: np.ndarray, W_out: np.ndarray, targets: np.ndarray
) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of ``softmax(hidden @ W_out)``, and its gradient with respect to ``hidden``.

    Every word's logit is computed: ``d * V`` multiply-adds per token, and as many again for the
    gradient ``(P - Y) @ W_out.T / B``.
    """
    hidden, W_out, targets = _check_problem(hidden, W_out, targets)
    rows = np.arange(len(targets))
    log_probs = numerics.log_softmax(hidden @ W_out, axis=1)  # (B, V)
    loss = float(-log_probs[rows, targets].mean())
    delta = np.exp(log_probs, out=log_probs)  # in place: one (B, V) array fewer
    delta[rows, targets] -= 1.0  # P - Y
    return loss, delta @ W_out.T / len(targets)


def sampled_softmax(
    hidden: np.ndarray,
    W_out: np.ndarray,
    targets: np.ndarray,
    n_samples: int,
    rng: np.random.Generator,
    proposal: np.ndarray | None = None,
    remove_accidental_hits: bool = False,
) -> tuple[float, np.ndarray]:
    """Sampled softmax with ``n_samples`` shared negatives: its loss and gradient w.r.t. ``hidden``.

    Draws ``n_samples`` word ids from ``proposal`` (default :func:`log_uniform_proposal`), with
    replacement and shared by the batch, as TensorFlow does. Row i's logits are its target's and the
    drawn words', each minus ``log(n_samples * Q(word))``. The loss is the mean of
    ``-log_softmax(...)[target]`` over these k + 1 logits; only ``d * (k + 1)`` multiply-adds per
    token, and as many for the gradient.

    ``remove_accidental_hits`` masks drawn words equal to the target (TensorFlow's default). Kept
    in, they are what makes the gradient converge to the full one as k grows: the full gradient
    has a ``p_target * w_target`` term that only those draws estimate, so masking them leaves a bias
    that does not shrink with k (large for frequent target words).
    """
    hidden, W_out, targets = _check_problem(hidden, W_out, targets)
    vocab = W_out.shape[1]
    n_samples = validation.as_int(n_samples, "n_samples", minimum=1)
    q = log_uniform_proposal(vocab) if proposal is None else np.asarray(proposal, dtype=np.float64)
    if q.shape != (vocab,) or np.any(q < 0) or not np.isclose(q.sum(), 1.0):
        raise ValueError(f"proposal must be {vocab} probabilities that sum to 1")
    sampled = rng.choice(vocab, size=n_samples, p=q)  # (k,)
    B = len(targets)
    columns = np.concatenate(
        [W_out[:, targets], W_out[:, sampled]], axis=1
    )  # (d, B + k): only these
    # One (B, k + 1) array of logits, filled in place: column 0 the target's, then the drawn words'.
    # Each minus its log Q correction; a drawn word's correction is the same for every row, so it is a
    # (k,) vector, never a (B, k) one (at k = 16384 each (B, k) temporary is 34 MB for B = 256).
    logits = np.empty((B, n_samples + 1))
    logits[:, 0] = np.einsum("bd,db->b", hidden, columns[:, :B]) - np.log(n_samples * q[targets])
    logits[:, 1:] = hidden @ columns[:, B:]
    logits[:, 1:] -= np.log(n_samples * q[sampled])
    if remove_accidental_hits:
        logits[:, 1:][sampled[None, :] == targets[:, None]] = -np.inf
    log_probs = numerics.log_softmax(logits, axis=1)  # (B, k + 1)
    del logits
    loss = float(-log_probs[:, 0].mean())
    delta = np.exp(log_probs, out=log_probs)
    delta[:, 0] -= 1.0
    grad = (delta[:, :1] * columns[:, :B].T + delta[:, 1:] @ columns[:, B:].T) / B
    return loss, grad


def toy_language_model(
    vocab_size: int, d: int, batch: int, seed: int = 0, dtype: DTypeLike = "float64"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A random output layer with Zipf-like word frequencies, and a batch of tokens drawn from it.

    Word j gets a bias of ``-log(j + 1)`` (frequent words first), carried by a last hidden unit
    that is always 1; the targets are sampled from the model's own softmax, so the full loss is what
    the model would see on its own text. Returns ``(hidden, W_out, targets)``.
    """
    rng = np.random.default_rng(seed)
    W_out = rng.standard_normal((d, vocab_size)) / np.sqrt(d)
    W_out[-1] = -np.log1p(np.arange(vocab_size))
    hidden = rng.standard_normal((batch, d))
    hidden[:, -1] = 1.0
    probs = numerics.softmax(hidden @ W_out, axis=1)
    cumulative = np.cumsum(probs, axis=1, out=probs)  # in place: one (batch, V) array fewer
    targets = np.minimum((cumulative < rng.random((batch, 1))).sum(axis=1), vocab_size - 1)
    return hidden.astype(dtype), W_out.astype(dtype), targets


@dataclass(frozen=True)
class VocabularyCost:
    """Per-token cost of the full and the sampled softmax loss at several vocabulary sizes."""

    vocab_sizes: tuple[int, ...]
    n_samples: int
    d: int
    full_seconds: tuple[float, ...]  # median time per token, this machine, this run
    sampled_seconds: tuple[float, ...]
    full_madds: tuple[int, ...]  # multiply-adds per token, logits and gradient: 2 d V
    sampled_madds: tuple[int, ...]  # 2 d (k + 1)


def measure_vocabulary_cost(
    vocab_sizes: Sequence[int],
    d: int = 128,
    batch: int = 64,
    n_samples: int = 256,
    repeats: int = 5,
    seed: int = 0,
) -> VocabularyCost:
    """Time :func:`full_softmax` and :func:`sampled_softmax` (loss and gradient) per token.

    float32, NumPy's BLAS on one thread (steadier on a shared machine); median of ``repeats`` runs.
    """
    full, sampled = [], []
    for vocab in vocab_sizes:
        hidden, W_out, targets = toy_language_model(int(vocab), d, batch, seed, dtype="float32")
        rng = np.random.default_rng(seed)
        with single_threaded_blas():
            full.append(time_call(full_softmax, hidden, W_out, targets, repeats=repeats) / batch)
            sampled.append(
                time_call(sampled_softmax, hidden, W_out, targets, n_samples, rng, repeats=repeats)
                / batch
            )
    return VocabularyCost(
        tuple(int(v) for v in vocab_sizes),
        n_samples,
        d,
        tuple(full),
        tuple(sampled),
        tuple(2 * d * int(v) for v in vocab_sizes),
        tuple(2 * d * (n_samples + 1) for _ in vocab_sizes),
    )
