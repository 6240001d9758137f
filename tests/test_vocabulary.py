"""lab_utils.vocabulary: full and sampled softmax over a large vocabulary."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special

from lab_utils import vocabulary


def test_log_uniform_proposal_is_a_decreasing_distribution():
    q = vocabulary.log_uniform_proposal(1000)
    assert q.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.diff(q) < 0)
    assert q[0] == pytest.approx(np.log(2) / np.log(1001))
    with pytest.raises(ValueError, match="vocab_size"):
        vocabulary.log_uniform_proposal(1)


def test_full_softmax_against_scipy_and_finite_differences():
    hidden, W_out, targets = vocabulary.toy_language_model(50, 6, 4, seed=1)
    loss, grad = vocabulary.full_softmax(hidden, W_out, targets)
    log_p = scipy.special.log_softmax(hidden @ W_out, axis=1)
    assert loss == pytest.approx(-log_p[np.arange(4), targets].mean(), rel=1e-12)
    h, e = 1e-6, np.zeros_like(hidden)
    e[2, 3] = h
    numeric = (
        vocabulary.full_softmax(hidden + e, W_out, targets)[0]
        - vocabulary.full_softmax(hidden - e, W_out, targets)[0]
    ) / (2 * h)
    assert grad[2, 3] == pytest.approx(numeric, rel=1e-6)


def test_sampled_softmax_gradient_is_its_own_loss_gradient():
    hidden, W_out, targets = vocabulary.toy_language_model(200, 5, 3, seed=2)
    loss, grad = vocabulary.sampled_softmax(hidden, W_out, targets, 20, np.random.default_rng(3))
    h = 1e-6
    for index in [(0, 0), (1, 4), (2, 2)]:
        e = np.zeros_like(hidden)
        e[index] = h
        # The same draws: the same seed.
        plus = vocabulary.sampled_softmax(hidden + e, W_out, targets, 20, np.random.default_rng(3))[
            0
        ]
        minus = vocabulary.sampled_softmax(
            hidden - e, W_out, targets, 20, np.random.default_rng(3)
        )[0]
        assert grad[index] == pytest.approx((plus - minus) / (2 * h), rel=1e-5, abs=1e-9)


def gradient_error(k, remove_hits, draws=8):
    hidden, W_out, targets = vocabulary.toy_language_model(5000, 16, 64, seed=0)
    _, full = vocabulary.full_softmax(hidden, W_out, targets)
    rng = np.random.default_rng(1)
    errors = [
        np.linalg.norm(
            vocabulary.sampled_softmax(
                hidden, W_out, targets, k, rng, remove_accidental_hits=remove_hits
            )[1]
            - full
        )
        for _ in range(draws)
    ]
    return np.mean(errors) / np.linalg.norm(full)


def test_sampled_gradient_approaches_the_full_one_as_k_grows():
    errors = [gradient_error(k, False) for k in (16, 256, 4096)]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.05
    # Masking accidental hits leaves a bias that more samples do not remove.
    assert gradient_error(4096, True) > 2 * errors[2]


def test_bad_input_names_the_argument():
    hidden, W_out, targets = vocabulary.toy_language_model(20, 4, 3)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="W_out must have shape"):
        vocabulary.full_softmax(hidden, W_out.T, targets)
    with pytest.raises(ValueError, match="targets must be"):
        vocabulary.full_softmax(hidden, W_out, targets + 100)
    with pytest.raises(ValueError, match="n_samples"):
        vocabulary.sampled_softmax(hidden, W_out, targets, 0, rng)
    with pytest.raises(ValueError, match="proposal"):
        vocabulary.sampled_softmax(hidden, W_out, targets, 3, rng, proposal=np.ones(20))


def test_measured_cost_counts_multiply_adds():
    cost = vocabulary.measure_vocabulary_cost([1000, 4000], d=8, batch=4, n_samples=16, repeats=1)
    assert cost.full_madds == (2 * 8 * 1000, 2 * 8 * 4000)
    assert cost.sampled_madds == (2 * 8 * 17, 2 * 8 * 17)
    assert all(t > 0 for t in cost.full_seconds + cost.sampled_seconds)


def test_sampled_softmax_holds_few_batch_by_samples_arrays_at_once():
    # The logits are built in one (B, k + 1) array and the drawn words' log Q correction is a (k,)
    # vector: at most about three (B, k + 1) float64 arrays alive at once (the logits, log_softmax's
    # result and its working copy), where a (B, k + 1) temporary per step held five.
    import tracemalloc

    hidden, W_out, targets = vocabulary.toy_language_model(vocab_size=5000, d=16, batch=64, seed=0)
    n_samples = 4096
    one_array = len(targets) * (n_samples + 1) * 8
    tracemalloc.start()
    try:
        vocabulary.sampled_softmax(
            hidden, W_out, targets, n_samples, np.random.default_rng(0), remove_accidental_hits=True
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= 3.6 * one_array, f"peak {peak / one_array:.1f} (B, k + 1) arrays"
