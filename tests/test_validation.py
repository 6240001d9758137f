"""The validation contract (lab_utils.validation): one meaning per rule, in every module."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from lab_utils import attention, calibration, datasets, numerics, scaling, validation
from lab_utils.explorers import softmax_explorer

LAB_UTILS = Path(validation.__file__).parent
Q = np.array([[1.0, 0.0], [0.0, 1.0]])


# ---------------------------------------------------------------- the checks themselves


@pytest.mark.parametrize("value", [3, np.int64(3), np.uint8(3)])
def test_integers_are_python_or_numpy_integers(value):
    assert validation.as_int(value, "n") == 3 and type(validation.as_int(value, "n")) is int


@pytest.mark.parametrize(
    "value, error, words",
    [
        (True, TypeError, "n must be an integer, got the boolean True"),
        (np.bool_(False), TypeError, "got the boolean"),
        (3.0, TypeError, r"n must be an integer, got 3.0 \(float\)"),
        ("3", TypeError, "n must be an integer"),
        (0, ValueError, "n must be >= 1, got 0"),
        (11, ValueError, "n must be between 1 and 10, got 11"),
    ],
)
def test_what_is_not_an_integer(value, error, words):
    with pytest.raises(error, match=words):
        validation.as_int(value, "n", minimum=1, maximum=10 if value == 11 else None)


@pytest.mark.parametrize(
    "value, kwargs, error, words",
    [
        (True, {}, TypeError, "t must be a real number, got the boolean True"),
        ("1", {}, TypeError, "t must be a real number"),
        (np.nan, {}, ValueError, "t must be finite, got nan"),
        (10**400, {}, ValueError, "t must be finite"),
        (0, {"low": 0, "low_open": True}, ValueError, "t must be > 0, got 0.0"),
        (-1, {"low": 0}, ValueError, "t must be >= 0, got -1.0"),
        (
            1.0,
            {"low": 0, "high": 1, "high_open": True},
            ValueError,
            r"t must be in \[0, 1\), got 1.0",
        ),
    ],
)
def test_what_is_not_a_real_number_in_range(value, kwargs, error, words):
    with pytest.raises(error, match=words):
        validation.as_real(value, "t", **kwargs)


def test_neg_inf_is_allowed_in_logits_only():
    values = np.array([0.0, -np.inf])
    validation.check_finite(values, "z", logits=True)
    with pytest.raises(
        ValueError, match=r"z must be finite, got -inf at index 1 \(-inf is allowed"
    ):
        validation.check_finite(values, "z")
    for bad in (np.nan, np.inf):
        with pytest.raises(ValueError, match="z must be finite or -inf"):
            validation.check_finite(np.array([0.0, bad]), "z", logits=True)


@pytest.mark.parametrize("mask", [[True, False], [1, 0], np.array([1, 0], np.uint8)])
def test_a_mask_is_booleans_or_0_1_integers(mask):
    np.testing.assert_array_equal(validation.as_mask(mask, "mask", (2,)), [True, False])


@pytest.mark.parametrize(
    "mask, error, words",
    [
        ([1, 2], ValueError, r"only True/False \(or 1/0\), got values \[2\]"),
        ([1.0, 0.0], TypeError, "mask must be booleans"),
        ([True, False, True], ValueError, "does not broadcast"),
    ],
)
def test_what_is_not_a_mask(mask, error, words):
    with pytest.raises(error, match=words):
        validation.as_mask(mask, "mask", (2,))


def test_class_ids_accept_whole_floats_and_refuse_the_rest():
    np.testing.assert_array_equal(validation.as_class_ids([0.0, 2.0], 3), [0, 2])
    for labels, error in [
        ([0.5], ValueError),
        ([True], TypeError),
        ([3], ValueError),
        (["a"], TypeError),
        ([], ValueError),
        ([np.nan], ValueError),
    ]:
        with pytest.raises(error, match="labels"):
            validation.as_class_ids(labels, 3)
    with pytest.raises(ValueError, match=r"labels must have shape \(2,\)"):
        validation.as_class_ids([0, 1, 2], 3, shape=(2,))


# ---------------------------------------------------------------- the same rule in every module


@pytest.mark.parametrize(
    "call",
    [
        lambda: numerics.softmax([True, False]),
        lambda: numerics.cross_entropy([[1.0, 2.0]], [True]),
        lambda: numerics.one_hot([0], True),
        lambda: calibration.nll([[True, False]], [0]),
        lambda: attention.causal_mask(True),
        lambda: attention.scaled_dot_product_attention([[True, False]], Q, Q),
        lambda: datasets.make_blob_data(n_samples=True),
        lambda: scaling.chunked_softmax(np.zeros((2, 2)), chunk_rows=True),
        lambda: softmax_explorer(n=True),
    ],
    ids=[
        "softmax",
        "cross_entropy",
        "one_hot",
        "nll",
        "causal_mask",
        "attention",
        "blobs",
        "chunked_softmax",
        "explorer",
    ],
)
def test_booleans_are_never_numbers(call):
    with pytest.raises(TypeError, match="boolean"):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: numerics.one_hot([0], 2.0),
        lambda: numerics.top_k([0.5, 0.5], 1.0),
        lambda: attention.causal_mask(2.0),
        lambda: calibration.expected_calibration_error([[0.5, 0.5]], [0], n_bins=2.0),
        lambda: datasets.make_blob_data(seed=1.0),
        lambda: scaling.chunked_softmax(np.zeros((2, 2)), chunk_rows=2.0),
    ],
    ids=["one_hot", "top_k", "causal_mask", "ece", "blobs", "chunked_softmax"],
)
def test_a_count_is_never_a_float(call):
    with pytest.raises(TypeError, match="must be an integer"):
        call()


def test_one_mask_means_the_same_in_masked_softmax_and_attention():
    """Issue 16: numerics accepted 0/1 integer masks, attention refused them."""
    for mask in ([[1, 0], [1, 1]], [[True, False], [True, True]]):
        weights = attention.scaled_dot_product_attention(Q, Q, Q, mask=mask)[1]
        np.testing.assert_array_equal(weights, numerics.masked_softmax(Q @ Q.T / np.sqrt(2), mask))
    for call in (
        lambda m: numerics.masked_softmax(Q, m),
        lambda m: attention.scaled_dot_product_attention(Q, Q, Q, mask=m),
    ):
        with pytest.raises(ValueError, match="only True/False"):
            call([[2, 0], [1, 1]])
        with pytest.raises(TypeError, match="must be booleans"):
            call([[1.0, 0.0], [1.0, 1.0]])


def test_neg_inf_logits_give_probability_zero_and_are_refused_elsewhere():
    assert numerics.softmax([0.0, -np.inf])[1] == 0.0
    assert numerics.cross_entropy([0.0, -np.inf], 0) == 0.0
    with pytest.raises(ValueError, match="queries must be finite, got -inf"):
        attention.scaled_dot_product_attention([[0.0, -np.inf]], Q, Q)
    # The documented exception: calibration needs finite logits (see calibration._check_scores).
    with pytest.raises(ValueError, match="logits must be finite, got -inf"):
        calibration.nll([[0.0, -np.inf]], [0])


def test_whole_float_class_ids_are_accepted_by_every_loss():
    logits = np.array([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    expected = numerics.cross_entropy(logits, [0, 1])
    assert numerics.cross_entropy(logits, [0.0, 1.0]) == expected
    assert calibration.nll(logits, [0.0, 1.0]) == pytest.approx(expected, rel=1e-15)
    np.testing.assert_array_equal(numerics.one_hot([0.0, 2.0], 3), numerics.one_hot([0, 2], 3))


# ---------------------------------------------------------------- one home for the checks


def _sources():
    return {
        path.name: path.read_text(encoding="utf-8")
        for path in LAB_UTILS.glob("*.py")
        # runner.py dispatches on types to encode plain data, and must import nothing of lab_utils:
        # its source runs alone inside the grading sandbox.
        if path.name not in ("validation.py", "runner.py")
    }


def test_no_module_writes_its_own_boolean_check():
    for name, text in _sources().items():
        assert "isinstance(" not in text or ", bool)" not in text, name


def test_no_module_imports_another_modules_private_helper():
    for name, text in _sources().items():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{name} imports {private} from .{node.module}"
