"""lab_utils.checks: the self-checks and grade() give each typical mistake exactly its points.

Fast (no nbgrader): the student functions below are the correct solutions and the mistakes students
really make. tests/test_classroom.py runs the same mistakes through the real nbgrader autograder.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from scipy import special

from lab_utils import checks

# The points table of classroom/README.md ("What is graded"), written out independently.
POINTS = {
    "my_softmax": {"values": 1, "batch": 1, "extreme": 2},
    "softmax_with_temperature": {"values": 1, "batch": 1, "limits": 1},
    "my_cross_entropy": {"values": 1, "batch": 1, "confident_mistakes": 2},
    # notebook 03 (issue 15): see tests/test_exercises_label_smoothing.py
    "smoothed_cross_entropy": {"labels": 1, "loss": 1, "confident_mistakes": 1},
    "train_with_tape": {"steps": 1, "last_batch": 1, "extreme": 1},
    "my_masked_softmax": {"values": 1, "batch": 1, "fully_masked": 1},
    # notebook 05 (issue 14): see tests/test_exercises_softmax_regression.py
    "softmax_loss_naive": {"loss": 1, "gradient": 1, "overflow": 1, "log_space": 1},
    "numerical_gradient": {"values": 1, "step": 1},
    "softmax_loss_vectorized": {
        "loss": 1,
        "gradient": 1,
        "overflow": 1,
        "log_space": 1,
        "no_loops": 1,
    },
    "train_softmax": {"learns": 1, "loss_decreases": 1, "other_data": 1},
    "search_hyperparameters": {"grid": 1, "chosen": 1},
}
HIDDEN = {
    "extreme",
    "limits",
    "confident_mistakes",
    "fully_masked",
    "overflow",
    "log_space",
    "step",
    "other_data",
}


# --- student functions: correct ones and typical mistakes ------------------------------------------


def softmax_correct(z):
    z = np.asarray(z)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_naive(z):  # overflows for large logits
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def softmax_axis0(z):  # stable, but normalises the columns of a batch
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def softmax_whole_array(z):  # stable, but one sum over the whole batch
    e = np.exp(z - z.max())
    return e / e.sum()


def softmax_global_max(z):  # one maximum for the whole batch: a low row underflows to 0/0
    e = np.exp(z - np.max(z))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_unnormalised(z):  # forgot to divide by the sum
    return np.exp(z - z.max(axis=-1, keepdims=True))


def softmax_in_place(z):  # correct, but scribbles over its input
    z -= z.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z


def softmax_float32_tf_style(z):  # correct in the input's own dtype
    z = np.asarray(z)
    shifted = z - z.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return (e / e.sum(axis=-1, keepdims=True)).astype(z.dtype)


def blank(*args):  # what nbgrader leaves in the solution cell
    raise NotImplementedError()


def temperature_correct(z, T):
    return softmax_correct(np.asarray(z) / T)


def temperature_naive(z, T):
    return softmax_naive(np.asarray(z) / T)


def temperature_multiplies(z, T):
    return softmax_correct(np.asarray(z) * T)


def cross_entropy_correct(logits, y):
    m = logits.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(logits - m).sum(axis=1))
    return np.mean(lse - logits[np.arange(len(y)), y])


def cross_entropy_eps(logits, y):  # log(p + eps): capped for confident mistakes
    p = softmax_correct(logits)
    return np.mean(-np.log(p[np.arange(len(y)), y] + 1e-12))


def cross_entropy_keras_eps(logits, y):  # the same with Keras' 1e-7
    p = softmax_correct(logits)
    return np.mean(-np.log(p[np.arange(len(y)), y] + 1e-7))


def cross_entropy_naive_log(logits, y):  # log of a naive softmax: inf/NaN on big logits
    p = softmax_naive(logits)
    return np.mean(-np.log(p[np.arange(len(y)), y]))


def cross_entropy_global_max(logits, y):  # logsumexp with one maximum for the whole batch
    m = logits.max()
    lse = m + np.log(np.exp(logits - m).sum(axis=1))
    return np.mean(lse - logits[np.arange(len(y)), y])


def temperature_global_max(z, T):
    return softmax_global_max(np.asarray(z) / T)


def masked_global_max(z, mask):
    e = np.where(mask, np.exp(z - np.max(z)), 0.0)
    s = e.sum(axis=-1, keepdims=True)
    return np.divide(e, s, out=np.zeros_like(e), where=s > 0)


def cross_entropy_per_example(logits, y):  # forgot the mean
    m = logits.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(logits - m).sum(axis=1))
    return lse - logits[np.arange(len(y)), y]


def masked_correct(z, mask):
    filled = np.where(mask, z, -np.inf)
    m = filled.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    e = np.where(mask, np.exp(filled - m), 0.0)
    s = e.sum(axis=-1, keepdims=True)
    return np.divide(e, s, out=np.zeros_like(e), where=s > 0)


def masked_minus_inf(z, mask):  # NaN rows when everything is masked
    return softmax_correct(np.where(mask, z, -np.inf))


def masked_large_negative(z, mask):  # uniform rows when everything is masked
    return softmax_correct(np.where(mask, z, -1e9))


def masked_ignores_mask(z, mask):
    return softmax_correct(z)


ARRAY_SUBMISSIONS = [
    ("my_softmax", softmax_correct, {"values": 1, "batch": 1, "extreme": 2}),
    ("my_softmax", softmax_float32_tf_style, {"values": 1, "batch": 1, "extreme": 2}),
    ("my_softmax", softmax_in_place, {"values": 1, "batch": 1, "extreme": 2}),
    ("my_softmax", softmax_naive, {"values": 1, "batch": 1, "extreme": 0}),
    ("my_softmax", softmax_axis0, {"values": 1, "batch": 0, "extreme": 2}),
    ("my_softmax", softmax_whole_array, {"values": 1, "batch": 0, "extreme": 2}),
    ("my_softmax", softmax_global_max, {"values": 1, "batch": 0, "extreme": 2}),
    ("my_softmax", softmax_unnormalised, {"values": 0, "batch": 0, "extreme": 0}),
    ("my_softmax", blank, {"values": 0, "batch": 0, "extreme": 0}),
    ("softmax_with_temperature", temperature_correct, {"values": 1, "batch": 1, "limits": 1}),
    ("softmax_with_temperature", temperature_naive, {"values": 1, "batch": 1, "limits": 0}),
    ("softmax_with_temperature", temperature_multiplies, {"values": 0, "batch": 0, "limits": 0}),
    ("softmax_with_temperature", temperature_global_max, {"values": 1, "batch": 0, "limits": 0}),
    ("softmax_with_temperature", blank, {"values": 0, "batch": 0, "limits": 0}),
    ("my_cross_entropy", cross_entropy_correct, {"values": 1, "batch": 1, "confident_mistakes": 2}),
    ("my_cross_entropy", cross_entropy_eps, {"values": 1, "batch": 1, "confident_mistakes": 0}),
    (
        "my_cross_entropy",
        cross_entropy_keras_eps,
        {"values": 1, "batch": 1, "confident_mistakes": 0},
    ),
    (
        "my_cross_entropy",
        cross_entropy_naive_log,
        {"values": 1, "batch": 1, "confident_mistakes": 0},
    ),
    (
        "my_cross_entropy",
        cross_entropy_per_example,
        {"values": 0, "batch": 0, "confident_mistakes": 0},
    ),
    (
        "my_cross_entropy",
        cross_entropy_global_max,
        {"values": 1, "batch": 0, "confident_mistakes": 0},
    ),
    ("my_cross_entropy", blank, {"values": 0, "batch": 0, "confident_mistakes": 0}),
    ("my_masked_softmax", masked_correct, {"values": 1, "batch": 1, "fully_masked": 1}),
    ("my_masked_softmax", masked_minus_inf, {"values": 1, "batch": 1, "fully_masked": 0}),
    ("my_masked_softmax", masked_large_negative, {"values": 1, "batch": 1, "fully_masked": 0}),
    ("my_masked_softmax", masked_ignores_mask, {"values": 0, "batch": 0, "fully_masked": 0}),
    ("my_masked_softmax", masked_global_max, {"values": 0, "batch": 0, "fully_masked": 1}),
    ("my_masked_softmax", blank, {"values": 0, "batch": 0, "fully_masked": 0}),
]
IDS = [f"{exercise}-{fn.__name__}" for exercise, fn, _ in ARRAY_SUBMISSIONS]


def check_function(exercise):
    return getattr(checks, f"check_{exercise}")


def outcome_of_grade(exercise, fn, part):
    try:
        checks.grade(exercise, fn, part)
    except AssertionError as error:
        return str(error)
    return None


# --- the points table --------------------------------------------------------------------------


def test_exercises_and_points_match_the_team_table():
    table = {name: {p.name: p.points for p in ex.parts} for name, ex in checks.EXERCISES.items()}
    assert table == POINTS
    hidden = {p.name for ex in checks.EXERCISES.values() for p in ex.parts if p.hidden}
    assert hidden == HIDDEN


def test_every_part_has_cases():
    for name, exercise in checks.EXERCISES.items():
        assert set(checks.CASES[name]) == {p.name for p in exercise.parts}
        for part, cases in checks.CASES[name].items():
            assert len(cases) >= (2), (name, part)


def test_batch_parts_name_the_row_a_global_maximum_breaks():
    for exercise, fn in (
        ("my_softmax", softmax_global_max),
        ("softmax_with_temperature", temperature_global_max),
        ("my_masked_softmax", masked_global_max),
        ("my_cross_entropy", cross_entropy_global_max),
    ):
        message = outcome_of_grade(exercise, fn, "batch")
        assert message and "row 1" in message and "whole batch" in message, (exercise, message)


# --- reference answers: computed by numerics, and right by an independent oracle ----------------


def test_softmax_references_agree_with_scipy():
    for name in ("my_softmax", "softmax_with_temperature"):
        for cases in checks.CASES[name].values():
            for case in cases:
                args = dict(case.inputs)
                z = np.asarray(args["z"], dtype=np.float64) / args.get("T", 1.0)
                np.testing.assert_allclose(
                    case.expected, special.softmax(z, axis=-1), rtol=1e-6, atol=1e-12
                )
                assert np.all(np.isfinite(case.expected))


def test_cross_entropy_references_agree_with_scipy_and_the_confident_mistake_costs_2000():
    for cases in checks.CASES["my_cross_entropy"].values():
        for case in cases:
            logits, y = (np.asarray(v) for _, v in case.inputs)
            log_probs = special.log_softmax(logits.astype(np.float64), axis=-1)
            assert case.expected == pytest.approx(
                -log_probs[np.arange(len(y)), y].mean(), rel=1e-12
            )
    first = checks.CASES["my_cross_entropy"]["confident_mistakes"][0]
    assert first.expected == 2000.0


def test_masked_references_are_exactly_zero_where_masked_and_zero_rows_when_fully_masked():
    for part, cases in checks.CASES["my_masked_softmax"].items():
        for case in cases:
            z, mask = (np.asarray(v) for _, v in case.inputs)
            assert np.all(case.expected[~mask] == 0.0)
            row_sums = case.expected.sum(axis=-1)
            np.testing.assert_allclose(row_sums, np.any(mask, axis=-1).astype(float), rtol=1e-12)
        if part == "fully_masked":
            assert any(not np.all(np.any(np.asarray(c.inputs[1][1]), axis=-1)) for c in cases)


def test_extreme_cases_really_overflow_a_naive_softmax():
    # The part exists to catch the naive formula: each of its inputs must break it.
    with np.errstate(all="ignore"):
        for case in checks.CASES["my_softmax"]["extreme"]:
            z = case.inputs[0][1]
            naive = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)
            assert not np.allclose(naive, case.expected, equal_nan=False), z


# --- scores: each mistake loses exactly its points ----------------------------------------------


@pytest.mark.parametrize("exercise, fn, expected", ARRAY_SUBMISSIONS, ids=IDS)
def test_score_and_grade_agree_on_each_part(exercise, fn, expected):
    assert checks.score(exercise, fn) == expected
    for part, points in expected.items():
        message = outcome_of_grade(exercise, fn, part)
        if points:
            assert message is None
        else:
            assert message, (exercise, part)


@pytest.mark.parametrize("exercise, fn, expected", ARRAY_SUBMISSIONS, ids=IDS)
def test_self_check_prints_the_same_verdict_the_grade_gives(exercise, fn, expected, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the verdict must not come with a RuntimeWarning
        assert check_function(exercise)(fn) is None
    out = capsys.readouterr()
    assert out.err == ""
    total = sum(POINTS[exercise].values())
    earned = sum(expected.values())
    assert out.out.startswith(f"{exercise}: {earned}/{total} points")
    assert "Traceback" not in out.out
    if fn is blank:
        assert "not written yet" in out.out
        return
    for part, points in expected.items():
        mark = "ok  " if points else "FAIL"
        assert re.search(rf"^  {mark} {part} \(", out.out, flags=re.MULTILINE), part
        if not points:
            assert f"part '{part}'" in out.out
    if earned < total:
        assert "hint:" in out.out and "expected:" in out.out and "input:" in out.out


def test_self_check_output_is_the_same_on_every_run(capsys):
    check_function("my_softmax")(softmax_naive)
    first = capsys.readouterr().out
    check_function("my_softmax")(softmax_naive)
    assert capsys.readouterr().out == first


# --- the friendly verdicts ----------------------------------------------------------------------


def test_overflow_verdict_shows_input_nan_expected_and_the_max_trick():
    message = outcome_of_grade("my_softmax", softmax_naive, "extreme")
    assert "part 'extreme' (2 points) fails" in message
    assert "z = [1000., 1000., 1000.]" in message
    assert "returned: [nan, nan, nan]" in message
    assert "expected: [0.3333, 0.3333, 0.3333]" in message
    assert "subtract the largest logit" in message


def test_wrong_axis_verdict_points_at_the_last_axis():
    for fn in (softmax_axis0, softmax_whole_array):
        message = outcome_of_grade("my_softmax", fn, "batch")
        assert "axis=-1" in message and "keepdims=True" in message


def test_unnormalised_verdict_says_divide_by_the_sum():
    message = outcome_of_grade("my_softmax", softmax_unnormalised, "values")
    assert "divide the exponentials by their sum" in message


def test_cross_entropy_verdicts_name_the_cap_and_the_missing_mean():
    message = outcome_of_grade("my_cross_entropy", cross_entropy_eps, "confident_mistakes")
    assert "returned: 27.631" in message and "expected: 2000.0" in message
    assert "log(p + eps)" in message and "logsumexp" in message
    message = outcome_of_grade("my_cross_entropy", cross_entropy_per_example, "values")
    assert "expected one (the mean loss)" in message


def test_fully_masked_verdicts_explain_nan_and_uniform_rows():
    assert "0/0 gives NaN" in outcome_of_grade(
        "my_masked_softmax", masked_minus_inf, "fully_masked"
    )
    assert "must be all zeros" in outcome_of_grade(
        "my_masked_softmax", masked_large_negative, "fully_masked"
    )


def test_not_written_yet_is_one_friendly_line():
    message = outcome_of_grade("my_softmax", blank, "values")
    assert message == (
        "my_softmax is not written yet: replace `raise NotImplementedError()` in "
        "my_softmax(z) with your code."
    )


def raises_value_error(z):
    raise ValueError("operands could not be broadcast together")


def returns_none(z):
    z.sum()


def returns_text(z):
    return "softmax!"


def returns_wrong_shape(z):
    return softmax_correct(z).ravel()[:1]


def returns_a_list(z):
    return softmax_correct(z).tolist()


def prints_and_returns(z):
    print("debugging", z.shape)
    return softmax_correct(z)


def raises_keyboard_like_system_exit(z):
    raise ZeroDivisionError


@pytest.mark.parametrize(
    "fn, says",
    [
        (raises_value_error, "raised ValueError: operands could not be broadcast together"),
        (raises_keyboard_like_system_exit, "raised ZeroDivisionError: (no message)"),
        (returns_none, "returned None: did you forget the `return` line?"),
        (returns_text, "not an array of numbers"),
        (returns_wrong_shape, "returned shape (1,), expected shape (3,)"),
    ],
)
def test_broken_functions_get_a_verdict_never_a_traceback(fn, says, capsys):
    assert checks.check_my_softmax(fn) is None
    out = capsys.readouterr().out
    assert out.startswith("my_softmax: 0/4 points")
    assert says in out
    assert "Traceback" not in out
    with pytest.raises(AssertionError, match=re.escape(says)):
        checks.grade("my_softmax", fn, "values")


def test_a_list_is_accepted_as_an_answer_and_student_prints_pass_through(capsys):
    assert checks.score("my_softmax", returns_a_list) == POINTS["my_softmax"]
    checks.check_my_softmax(prints_and_returns)
    assert "my_softmax: 4/4 points, all parts pass." in capsys.readouterr().out


def test_a_function_that_modifies_its_input_cannot_spoil_the_cases():
    before = [np.copy(v) for case in checks.CASES["my_softmax"]["values"] for _, v in case.inputs]
    checks.score("my_softmax", softmax_in_place)
    after = [v for case in checks.CASES["my_softmax"]["values"] for _, v in case.inputs]
    for old, new in zip(before, after):
        np.testing.assert_array_equal(old, new)


def test_not_a_function_is_reported_not_raised(capsys):
    assert checks.check_my_softmax(None) is None
    assert capsys.readouterr().out == "my_softmax: expected the function my_softmax(z), got None.\n"
    with pytest.raises(AssertionError, match="should be a function"):
        checks.grade("my_softmax", 3, "values")


def test_grade_rejects_unknown_exercise_or_part_by_name():
    with pytest.raises(ValueError, match=r"exercise must be one of .*'my_softmax'.* got 'softmx'"):
        checks.grade("softmx", softmax_correct, "values")
    with pytest.raises(
        ValueError, match=r"part must be one of 'values', 'batch', 'extreme' .* got 'overflow'"
    ):
        checks.grade("my_softmax", softmax_correct, "overflow")


def test_importing_checks_does_not_import_tensorflow():
    import subprocess
    import sys

    code = "import sys, lab_utils.checks; print('tensorflow' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


# --- train_with_tape (TensorFlow; a few seconds per part) ---------------------------------------


def tape_keras_trains(model, x, y, batch_size):  # Keras does the step: earns nothing
    return [
        float(model.train_on_batch(x[i : i + batch_size], y[i : i + batch_size]))
        for i in range(0, len(x), batch_size)
    ]


def _tape_loop(from_logits=True, apply=True):
    def train_with_tape(model, x, y, batch_size):
        import keras
        import tensorflow as tf

        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
        losses = []
        for i in range(0, len(x), batch_size):
            x_batch, y_batch = x[i : i + batch_size], y[i : i + batch_size]
            with tf.GradientTape() as tape:
                logits = model(x_batch, training=True)
                loss = loss_fn(y_batch, logits if from_logits else tf.nn.softmax(logits))
            grads = tape.gradient(loss, model.trainable_variables)
            if apply:
                model.optimizer.apply_gradients(zip(grads, model.trainable_variables))
            losses.append(float(loss))
        return losses

    return train_with_tape


TAPE_SUBMISSIONS = [
    ("correct", _tape_loop(), {"steps": 1, "last_batch": 1, "extreme": 1}),
    (
        "from_probabilities",
        _tape_loop(from_logits=False),
        {"steps": 1, "last_batch": 1, "extreme": 0},
    ),
    ("never_applied", _tape_loop(apply=False), {"steps": 0, "last_batch": 0, "extreme": 0}),
    ("keras_trains", tape_keras_trains, {"steps": 0, "last_batch": 0, "extreme": 0}),
]


@pytest.mark.tensorflow
@pytest.mark.parametrize(
    "name, fn, expected", TAPE_SUBMISSIONS, ids=[s[0] for s in TAPE_SUBMISSIONS]
)
def test_train_with_tape_scores(monkeypatch, name, fn, expected):
    import sys

    # The source cases read train_with_tape's source where the notebook defines it.
    monkeypatch.setitem(sys.modules["__main__"].__dict__, "train_with_tape", fn)
    assert checks.score("train_with_tape", fn) == expected


@pytest.mark.tensorflow
def test_train_with_tape_hints_name_the_mistake(monkeypatch):
    import sys

    for fn, words in (
        (_tape_loop(from_logits=False), "from_logits=True"),
        (_tape_loop(apply=False), "apply_gradients"),
        (tape_keras_trains, "Keras trains the model"),
    ):
        monkeypatch.setitem(sys.modules["__main__"].__dict__, "train_with_tape", fn)
        part = "extreme" if words == "from_logits=True" else "steps"
        message = " ".join(outcome_of_grade("train_with_tape", fn, part).split())
        assert words in message, message


def test_docstring_examples_run():
    import doctest

    results = doctest.testmod(checks, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert results.attempted >= 4 and results.failed == 0


def test_a_stub_is_not_written_yet_even_where_a_part_reads_the_source_first(capsys):
    # train_with_tape's parts read the function's source before calling it: the stub's source
    # alone would fail them, but the verdict must be the one friendly line.
    def train_with_tape(model, x, y, batch_size):
        raise NotImplementedError()

    checks.check_train_with_tape(train_with_tape)
    assert "train_with_tape is not written yet" in capsys.readouterr().out
