"""Seeded data makers for the lab: four 2-D blobs, a digits split and a tiny text corpus.

Everything here is built from scikit-learn's generators and the datasets that ship inside the
scikit-learn package, or written out below: nothing is downloaded, and the same arguments always
give the same arrays. scikit-learn is imported inside the functions, so ``import lab_utils.datasets``
stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .validation import as_int, as_positive, as_real

__all__ = [
    "BLOB_CENTERS",
    "DigitsSplit",
    "TextCorpus",
    "digits_split",
    "make_blob_data",
    "text_corpus",
]

#: Centres of the four classes of :func:`make_blob_data` (class k is centred on row k).
BLOB_CENTERS = ((-5.0, 2.0), (-2.0, -2.0), (1.0, 2.0), (5.0, -2.0))


def make_blob_data(
    n_samples: int = 2000, seed: int = 0, cluster_std: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Four Gaussian blobs in the plane, one per class, centred on :data:`BLOB_CENTERS`.

    Parameters
    ----------
    n_samples : int, default 2000
        Total number of points, shared as evenly as possible between the four classes.
    seed : int, default 0
        Seed of the random generator; the same seed always gives the same points.
    cluster_std : float, default 1.0
        Standard deviation of each blob along each axis.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), float32
        The points.
    y : ndarray of shape (n_samples,), int64
        The class of each point, 0 to 3.

    Raises
    ------
    TypeError
        If ``n_samples`` or ``seed`` is not an integer.
    ValueError
        If ``n_samples < 4``, ``seed < 0`` or ``cluster_std`` is not a positive finite number.

    Examples
    --------
    >>> X, y = make_blob_data(n_samples=8, seed=0)
    >>> X.shape, X.dtype, sorted(set(y.tolist()))
    ((8, 2), dtype('float32'), [0, 1, 2, 3])
    """
    n_samples = as_int(n_samples, "n_samples", minimum=4)
    seed = as_int(seed, "seed", minimum=0)
    cluster_std = as_positive(cluster_std, "cluster_std")

    from sklearn.datasets import make_blobs

    X, y = make_blobs(
        n_samples=n_samples,
        centers=np.array(BLOB_CENTERS),
        cluster_std=float(cluster_std),
        random_state=seed,
    )
    return X.astype(np.float32), y.astype(np.int64)


@dataclass(frozen=True)
class DigitsSplit:
    """scikit-learn's 8x8 digits, split into train and test sets, pixels scaled to [0, 1].

    ``X_*`` hold flat rows of 64 pixels (for dense models), ``images_*`` the same pixels as 8x8
    arrays (for plotting and convolutions); row i of ``X_test`` is ``images_test[i].ravel()``.
    """

    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    images_train: np.ndarray
    images_test: np.ndarray
    class_names: tuple[str, ...]

    def __repr__(self) -> str:  # the default repr would print every pixel
        return (
            f"DigitsSplit(train={len(self.y_train)}, test={len(self.y_test)}, "
            f"features={self.X_train.shape[1]}, classes={len(self.class_names)})"
        )


def digits_split(test_size: float = 0.25, seed: int = 0) -> DigitsSplit:
    """Load scikit-learn's digits (shipped with the package) and make a stratified split.

    Parameters
    ----------
    test_size : float, default 0.25
        Fraction of the 1797 images put in the test set, strictly between 0 and 1.
    seed : int, default 0
        Seed of the shuffle; the same seed always gives the same split.

    Returns
    -------
    DigitsSplit
        ``X_train``/``X_test`` float32 of shape (n, 64) in [0, 1], ``y_train``/``y_test`` int64,
        ``images_train``/``images_test`` float32 of shape (n, 8, 8), ``class_names`` "0" to "9".

    Raises
    ------
    TypeError
        If ``test_size`` is not a number or ``seed`` not an integer.
    ValueError
        If ``test_size`` is not strictly between 0 and 1 or too small/large to hold every class
        on both sides, or ``seed < 0``.

    Examples
    --------
    >>> split = digits_split(test_size=0.25, seed=0)
    >>> split.X_train.shape, split.images_test.shape
    ((1347, 64), (450, 8, 8))
    >>> float(split.X_train.min()), float(split.X_train.max())
    (0.0, 1.0)
    """
    test_size = as_real(
        test_size, "test_size (a fraction)", low=0, high=1, low_open=True, high_open=True
    )
    seed = as_int(seed, "seed", minimum=0)

    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    num_classes = len(digits.target_names)
    n_test = int(np.ceil(test_size * len(digits.target)))
    if n_test < num_classes or len(digits.target) - n_test < num_classes:
        raise ValueError(
            f"test_size={test_size} puts {n_test} of {len(digits.target)} images in the test set; "
            f"both sides need at least one image of each of the {num_classes} classes"
        )
    # The raw pixels are integers 0..16.
    images = (digits.images / 16.0).astype(np.float32)
    labels = digits.target.astype(np.int64)
    idx_train, idx_test = train_test_split(
        np.arange(len(labels)), test_size=float(test_size), random_state=seed, stratify=labels
    )
    return DigitsSplit(
        X_train=images[idx_train].reshape(len(idx_train), -1),
        X_test=images[idx_test].reshape(len(idx_test), -1),
        y_train=labels[idx_train],
        y_test=labels[idx_test],
        images_train=images[idx_train],
        images_test=images[idx_test],
        class_names=tuple(str(name) for name in digits.target_names),
    )


@dataclass(frozen=True)
class TextCorpus:
    """Short sentences with their class: ``texts[i]`` belongs to ``class_names[labels[i]]``."""

    texts: tuple[str, ...]
    labels: np.ndarray
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.texts)

    def __repr__(self) -> str:
        return f"TextCorpus({len(self.texts)} sentences, classes={list(self.class_names)})"


# Written for this lab. Every class has the same number of sentences, and the words that give a
# class away are shared just enough (e.g. "match", "cold", "chips") that a bag-of-words model makes
# a few honest mistakes instead of none.
_CORPUS = {
    "sports": (
        "the striker scored twice in the second half",
        "our team lost the final on penalties",
        "she won the marathon in record time",
        "the coach picked a young goalkeeper for the match",
        "the tennis match went to a fifth set",
        "he hit a home run in the ninth inning",
        "the referee showed a red card after ten minutes",
        "the cyclists climbed the mountain stage together",
        "the swimmer broke the world record in the relay",
        "fans cheered as the team lifted the trophy",
        "the basketball game went into overtime",
        "the boxer won the title fight on points",
        "the league season starts next weekend",
        "the runner pulled a muscle before the race",
        "the captain scored the winning goal late",
        "both teams played well in the cup match",
        "the skier crashed on the final run",
        "the players trained hard before the derby",
        "the golfer sank a long putt to win",
        "the rugby team kicked a penalty to draw level",
        "the rowing crew led the race from the start",
        "a last minute try won the game for the visitors",
        "the fast bowler took five wickets today",
        "the stadium was full for the season opener",
    ),
    "weather": (
        "heavy rain is expected tomorrow afternoon",
        "the forecast says sunny skies all weekend",
        "a cold front will bring snow to the hills",
        "strong winds knocked down trees overnight",
        "temperatures will drop below freezing tonight",
        "thunderstorms may cause flooding in the valley",
        "the morning fog will clear by noon",
        "it was the hottest summer day on record",
        "light showers will move in from the west",
        "a heat wave is building over the south",
        "frost covered the fields this morning",
        "the storm is moving north along the coast",
        "expect cloudy skies with a chance of drizzle",
        "the humidity will make it feel even warmer",
        "a blizzard closed the mountain roads",
        "the wind will ease later in the evening",
        "hail fell for ten minutes in the city centre",
        "the dry spell has lasted three weeks",
        "a rainbow appeared after the afternoon shower",
        "snow will turn to sleet by the evening",
        "the weekend looks cold but bright",
        "a tropical storm is heading for the islands",
        "mild weather will return next week",
        "the river rose after days of rain",
    ),
    "food": (
        "slice the onions and fry them in butter",
        "this soup needs a pinch more salt",
        "bake the bread for forty minutes",
        "the curry was rich and very spicy",
        "fresh basil makes the tomato sauce better",
        "we ordered fish and chips at the harbour",
        "whisk the eggs with sugar until pale",
        "the chocolate cake was still warm",
        "add garlic to the pan and stir well",
        "she makes pasta from scratch every sunday",
        "the salad had crisp lettuce and cold cucumber",
        "roast the vegetables with olive oil",
        "the restaurant serves noodles with a hot broth",
        "let the dough rest for an hour",
        "the pancakes were topped with honey",
        "grill the chicken until the skin is crisp",
        "a bowl of rice with beans and avocado",
        "the cheese melted over the warm potatoes",
        "squeeze lemon juice over the grilled fish",
        "the stew simmered slowly all afternoon",
        "stir the risotto and add the stock slowly",
        "the apple pie had a flaky crust",
        "he seasoned the steak with pepper",
        "the soup tastes better the next day",
    ),
    "technology": (
        "the new phone has a faster chip",
        "update your laptop to fix the security bug",
        "the app crashes when the screen rotates",
        "engineers trained a larger neural network",
        "the server went down during the update",
        "this keyboard connects over bluetooth",
        "the startup released an open source database",
        "cloud storage prices dropped again this year",
        "the battery lasts two days on a single charge",
        "a software patch fixed the memory leak",
        "the robot learned to sort parcels",
        "the browser now blocks tracking cookies",
        "the company unveiled a cheaper tablet",
        "the code review found a race condition",
        "the network slowed down during the match stream",
        "a new graphics card speeds up training",
        "the smart watch tracks heart rate and sleep",
        "the compiler now reports clearer errors",
        "hackers stole passwords from the website",
        "the operating system adds a dark mode",
        "the printer driver does not install",
        "the data centre is cooled with river water",
        "she wrote a script to back up the files",
        "the chips in the new console run cooler",
    ),
}


def text_corpus() -> TextCorpus:
    """A small built-in corpus of short English sentences in four classes, for text classifiers.

    The sentences are written out in this module (nothing is downloaded); the order is fixed:
    all of class 0, then class 1, and so on.

    Returns
    -------
    TextCorpus
        ``texts`` (tuple of str), ``labels`` (int64 array, same length) and ``class_names``
        ("sports", "weather", "food", "technology").

    Examples
    --------
    >>> corpus = text_corpus()
    >>> corpus.class_names
    ('sports', 'weather', 'food', 'technology')
    >>> len(corpus), corpus.class_names[corpus.labels[0]]
    (96, 'sports')
    """
    class_names = tuple(_CORPUS)
    texts = tuple(text for name in class_names for text in _CORPUS[name])
    labels = np.repeat(
        np.arange(len(class_names), dtype=np.int64), [len(_CORPUS[name]) for name in class_names]
    )
    return TextCorpus(texts=texts, labels=labels, class_names=class_names)
