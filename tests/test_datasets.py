"""Tests for lab_utils.datasets: shapes, determinism, content and argument validation."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from lab_utils.datasets import (
    BLOB_CENTERS,
    DigitsSplit,
    TextCorpus,
    digits_split,
    make_blob_data,
    text_corpus,
)


# ------------------------------------------------------------------------------------------ blobs
def test_blobs_shapes_dtypes_and_balanced_classes():
    X, y = make_blob_data(n_samples=2000, seed=0)
    assert X.shape == (2000, 2) and X.dtype == np.float32
    assert y.shape == (2000,) and np.issubdtype(y.dtype, np.integer)
    assert np.bincount(y).tolist() == [500, 500, 500, 500]


def test_blobs_are_centred_on_the_documented_centres_with_unit_spread():
    X, y = make_blob_data(n_samples=4000, seed=1)
    for k, centre in enumerate(BLOB_CENTERS):
        points = X[y == k]
        # 1000 points of std 1: the mean is within a few standard errors (0.03) of the centre.
        np.testing.assert_allclose(points.mean(axis=0), centre, atol=0.12)
        np.testing.assert_allclose(points.std(axis=0), [1.0, 1.0], atol=0.08)


def test_blobs_cluster_std_is_honoured():
    X, y = make_blob_data(n_samples=4000, seed=0, cluster_std=0.5)
    np.testing.assert_allclose(X[y == 0].std(axis=0), [0.5, 0.5], atol=0.05)


def test_blobs_same_seed_same_data_other_seed_other_data():
    X1, y1 = make_blob_data(seed=3)
    X2, y2 = make_blob_data(seed=3)
    X3, _ = make_blob_data(seed=4)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


def test_blobs_match_scikit_learn_make_blobs():
    from sklearn.datasets import make_blobs

    X_ref, y_ref = make_blobs(
        n_samples=300, centers=np.array(BLOB_CENTERS), cluster_std=1.0, random_state=7
    )
    X, y = make_blob_data(n_samples=300, seed=7)
    np.testing.assert_array_equal(X, X_ref.astype(np.float32))
    np.testing.assert_array_equal(y, y_ref)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_samples": 3}, ValueError, "n_samples must be >= 4, got 3"),
        ({"n_samples": 2000.0}, TypeError, "n_samples must be an integer"),
        ({"n_samples": True}, TypeError, "n_samples must be an integer"),
        ({"seed": -1}, ValueError, "seed must be >= 0, got -1"),
        ({"seed": "0"}, TypeError, "seed must be an integer"),
        ({"cluster_std": 0.0}, ValueError, "cluster_std must be > 0, got 0.0"),
        ({"cluster_std": float("nan")}, ValueError, "cluster_std must be finite"),
        ({"cluster_std": "1"}, TypeError, "cluster_std must be a real number"),
    ],
)
def test_blobs_reject_bad_arguments_by_name(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_blob_data(**kwargs)


# ----------------------------------------------------------------------------------------- digits
def test_digits_split_shapes_scaling_and_alignment():
    split = digits_split(test_size=0.25, seed=0)
    assert isinstance(split, DigitsSplit)
    assert len(split.y_train) + len(split.y_test) == 1797
    assert split.X_train.shape == (len(split.y_train), 64)
    assert split.images_test.shape == (len(split.y_test), 8, 8)
    assert split.X_train.dtype == np.float32 and split.images_train.dtype == np.float32
    for array in (split.X_train, split.X_test):
        assert array.min() == 0.0 and array.max() == 1.0
    np.testing.assert_array_equal(split.images_test.reshape(len(split.y_test), -1), split.X_test)
    np.testing.assert_array_equal(split.images_train.reshape(len(split.y_train), -1), split.X_train)
    assert split.class_names == tuple(str(d) for d in range(10))
    assert "DigitsSplit(train=1347, test=450" in repr(split)


def test_digits_split_matches_the_raw_digits_and_is_stratified():
    from sklearn.datasets import load_digits

    digits = load_digits()
    split = digits_split(test_size=0.3, seed=2)
    # Every test image is one of the original images, scaled by 1/16, with its own label.
    raw = {
        img.tobytes(): label
        for img, label in zip((digits.data / 16).astype(np.float32), digits.target, strict=True)
    }
    for row, label in zip(split.X_test[:50], split.y_test[:50], strict=True):
        assert raw[row.tobytes()] == label
    full = np.bincount(digits.target) / len(digits.target)
    np.testing.assert_allclose(np.bincount(split.y_test) / len(split.y_test), full, atol=0.01)


def test_digits_split_is_deterministic_per_seed():
    a, b, c = digits_split(seed=5), digits_split(seed=5), digits_split(seed=6)
    np.testing.assert_array_equal(a.X_test, b.X_test)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    assert not np.array_equal(a.y_test, c.y_test)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"test_size": 0}, ValueError, r"test_size \(a fraction\) must be in \(0, 1\), got 0.0"),
        ({"test_size": 1.0}, ValueError, r"must be in \(0, 1\)"),
        ({"test_size": 450}, ValueError, r"must be in \(0, 1\)"),
        ({"test_size": "0.25"}, TypeError, r"test_size \(a fraction\) must be a real number"),
        ({"test_size": 0.001}, ValueError, "at least one image of each"),
        ({"seed": -2}, ValueError, "seed must be >= 0"),
        ({"seed": 1.5}, TypeError, "seed must be an integer"),
    ],
)
def test_digits_split_rejects_bad_arguments_by_name(kwargs, error, match):
    with pytest.raises(error, match=match):
        digits_split(**kwargs)


# ------------------------------------------------------------------------------------------- text
def test_text_corpus_content():
    corpus = text_corpus()
    assert isinstance(corpus, TextCorpus)
    assert corpus.class_names == ("sports", "weather", "food", "technology")
    assert len(corpus) == len(corpus.texts) == len(corpus.labels)
    counts = np.bincount(corpus.labels, minlength=4)
    assert all(20 <= c <= 30 for c in counts) and len(set(counts.tolist())) == 1
    assert len(set(corpus.texts)) == len(corpus.texts), "every sentence is different"
    for text in corpus.texts:
        assert text == text.strip().lower() and 3 <= len(text.split()) <= 15
    assert corpus.labels.dtype == np.int64
    assert repr(corpus).startswith(f"TextCorpus({len(corpus)} sentences")


def test_text_corpus_labels_follow_the_text():
    corpus = text_corpus()
    # A few sentences whose class nobody can doubt.
    by_text = dict(zip(corpus.texts, corpus.labels, strict=True))
    assert corpus.class_names[by_text["the striker scored twice in the second half"]] == "sports"
    assert corpus.class_names[by_text["heavy rain is expected tomorrow afternoon"]] == "weather"
    assert corpus.class_names[by_text["bake the bread for forty minutes"]] == "food"
    assert corpus.class_names[by_text["the new phone has a faster chip"]] == "technology"


def test_text_corpus_is_deterministic():
    a, b = text_corpus(), text_corpus()
    assert a.texts == b.texts and a.class_names == b.class_names
    np.testing.assert_array_equal(a.labels, b.labels)


def test_importing_datasets_is_cheap():
    code = (
        "import sys, lab_utils.datasets; "
        "print(any(m == 'sklearn' or m.startswith('sklearn.') for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
