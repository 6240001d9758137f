"""Self-checks for the lab's exercises: friendly verdicts that predict the grade exactly.

Every exercise (:mod:`lab_utils.exercises`) has graded *parts*, and every part has *cases*: how to
call the student's function, and a reference answer the lab computes itself. Three functions read
them, all in the student's own process:

- ``check_<exercise>(fn)``, e.g. ``check_my_softmax(my_softmax)``: runs every case of every part and
  prints a short verdict (which part failed, on which input, what came back against what was
  expected, and a hint). It never raises, whatever ``fn`` does.
- ``grade(exercise, fn, part)``: runs one part, as the notebooks' autograder cells read, and raises
  ``AssertionError`` with the same message when a case fails.
- ``score(exercise, fn)``: points per part, no printing.

When an instructor autogrades with the repository's ``nbgrader_config.py``, the autograder cells are
not run in the student's process at all: :mod:`lab_utils.grading` calls the student's function in a
sandboxed kernel through the same runner (:mod:`lab_utils.runner`) and judges the plain data that
comes back in a separate, trusted process with the same exercise code. So a student who sees every
part pass here gets full marks, and nothing the student's code does to this module changes a grade.

With :mod:`lab_utils.exercises` (which prints nothing), this module is where verdicts are printed.
TensorFlow is imported only by the ``train_with_tape`` parts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Callable, Iterator

from .exercises import EXERCISES, cases
from .exercises.base import Case, Exercise, Failure, Part, show
from .exercises.judging import (
    NotWritten,
    judge_part,
    not_written_text,
    part_line,
    run_part_here,
    summary_line,
)

__all__ = [
    "CASES",
    "EXERCISES",
    "Failure",
    "check_my_softmax",
    "check_softmax_with_temperature",
    "check_my_cross_entropy",
    "check_train_with_tape",
    "check_my_masked_softmax",
    "grade",
    "score",
]


class _Cases(Mapping):
    """``CASES["my_softmax"]["extreme"]``: every exercise's cases by part, built on first use."""

    def __getitem__(self, name: str) -> dict[str, tuple[Case, ...]]:
        if name not in EXERCISES:
            raise KeyError(name)
        return cases(name)

    def __iter__(self) -> Iterator[str]:
        return iter(EXERCISES)

    def __len__(self) -> int:
        return len(EXERCISES)


#: The cases of every exercise and part: ``CASES["my_softmax"]["extreme"]``.
CASES: Mapping[str, dict[str, tuple[Case, ...]]] = _Cases()


def _exercise(name: str) -> Exercise:
    if name not in EXERCISES:
        known = ", ".join(repr(n) for n in EXERCISES)
        raise ValueError(f"exercise must be one of {known}, got {name!r}")
    return EXERCISES[name]


def _run_part(exercise: Exercise, part: Part, fn: Callable) -> Failure | None:
    """The first failing case of a part here, or None when all pass. Raises NotWritten."""
    part_cases = cases(exercise.name)[part.name]
    results, seconds = run_part_here(exercise, part, part_cases, fn)
    return judge_part(exercise, part, part_cases, results, seconds)


def grade(exercise: str, fn: Callable, part: str) -> None:
    """Run one graded part of an exercise; raise AssertionError with a friendly message if it fails.

    The notebooks' autograder cells read ``grade("my_softmax", my_softmax, "extreme")``: run in a
    notebook, a cell that raises earns 0 points. (The repository's nbgrader configuration decides
    these cells outside the student's process instead; see :mod:`lab_utils.grading`.)

    Parameters
    ----------
    exercise : str
        One of ``EXERCISES``, e.g. ``"my_softmax"``.
    fn : callable
        The student's function.
    part : str
        One of the exercise's parts, e.g. ``"extreme"``.

    Raises
    ------
    AssertionError
        When any case of the part fails, or fn is not written yet; the message says which input,
        what came back, what was expected, and a hint.
    ValueError
        When exercise or part is unknown (a broken autograder cell).

    Examples
    --------
    >>> import numpy as np
    >>> def naive(z):
    ...     return np.exp(z) / np.sum(np.exp(z), axis=-1, keepdims=True)
    >>> grade("my_softmax", naive, "values")  # passes: returns None
    >>> grade("my_softmax", naive, "extreme")
    Traceback (most recent call last):
    AssertionError: my_softmax: part 'extreme' (2 points) fails
      input:    z = [1000., 1000., 1000.]
      returned: [nan, nan, nan]
      expected: [0.3333, 0.3333, 0.3333]
      hint:     exp overflowed (or 0/0 happened): subtract the largest logit of each row
                before exp; softmax(z - max(z)) equals softmax(z) exactly.
    """
    spec = _exercise(exercise)
    chosen = spec.part(part)
    if not callable(fn):
        raise AssertionError(f"{spec.name} should be a function {spec.signature}, got {show(fn)}")
    try:
        failure = _run_part(spec, chosen, fn)
    except NotWritten:
        raise AssertionError(not_written_text(spec)) from None
    if failure is not None:
        raise AssertionError(failure.describe(spec.name))


def score(exercise: str, fn: Callable) -> dict[str, int]:
    """Points per part that fn earns, as the autograder gives them to this code (no printing).

    Examples
    --------
    >>> import numpy as np
    >>> score("my_softmax", lambda z: np.exp(z) / np.sum(np.exp(z), axis=-1, keepdims=True))
    {'values': 1, 'batch': 1, 'extreme': 0}
    """
    spec = _exercise(exercise)
    if not callable(fn):
        raise TypeError(f"fn must be the function {spec.signature}, got {show(fn)}")
    points = {}
    for part in spec.parts:
        try:
            points[part.name] = part.points if _run_part(spec, part, fn) is None else 0
        except NotWritten:
            points[part.name] = 0
    return points


def check(exercise: str, fn) -> None:
    """Print the self-check verdict of ``fn`` for ``exercise``. Never raises."""
    spec = _exercise(exercise)
    try:
        _print_verdict(spec, fn)
    except Exception as error:  # the self-check itself must never end in a traceback
        print(f"{spec.name}: the self-check could not run: {type(error).__name__}: {error}")


def _print_verdict(spec: Exercise, fn) -> None:
    if not callable(fn):
        print(f"{spec.name}: expected the function {spec.signature}, got {show(fn)}.")
        return
    failures: list[Failure] = []
    lines = []
    try:
        for part in spec.parts:
            failure = _run_part(spec, part, fn)
            lines.append(part_line(part, failure is not None))
            if failure is not None:
                failures.append(failure)
    except NotWritten:
        print(f"{spec.name}: 0/{spec.points} points. {not_written_text(spec)}")
        return
    print(summary_line(spec, failures))
    print("\n".join(lines))
    for failure in failures:
        print()
        print(failure.describe(spec.name))


def check_my_softmax(fn: Callable) -> None:
    """Self-check ``my_softmax(z)``: values, batches along the last axis, extreme logits.

    Prints a verdict per graded part and, for each failing part, the input, what came back against
    what was expected, and a hint. Never raises.

    Examples
    --------
    >>> def my_softmax(z):
    ...     raise NotImplementedError()
    >>> check_my_softmax(my_softmax)
    my_softmax: 0/4 points. my_softmax is not written yet: replace `raise NotImplementedError()` in my_softmax(z) with your code.
    """
    check("my_softmax", fn)


def check_softmax_with_temperature(fn: Callable) -> None:
    """Self-check ``softmax_with_temperature(z, T)``: values, batches, T = 0.001 and 1e6. Never raises."""
    check("softmax_with_temperature", fn)


def check_my_cross_entropy(fn: Callable) -> None:
    """Self-check ``my_cross_entropy(logits, y)`` (integer labels, mean loss). Never raises."""
    check("my_cross_entropy", fn)


def check_train_with_tape(fn: Callable) -> None:
    """Self-check ``train_with_tape(model, x, y, batch_size)`` against Keras' train_on_batch, step by step.

    Each part trains a seeded preferred model for a few steps (seconds) and resets the random seeds
    to 0. Never raises.
    """
    check("train_with_tape", fn)


def check_my_masked_softmax(fn: Callable) -> None:
    """Self-check ``my_masked_softmax(z, mask)`` (mask True = keep). Never raises."""
    check("my_masked_softmax", fn)


def __getattr__(name: str):
    """``check_<exercise>`` for every registered exercise, e.g. the ones of notebook 05."""
    if name.startswith("check_") and name[len("check_") :] in EXERCISES:
        exercise = name[len("check_") :]

        def self_check(fn: Callable) -> None:
            check(exercise, fn)

        self_check.__name__ = name
        self_check.__doc__ = f"Self-check ``{EXERCISES[exercise].signature}``. Never raises."
        return self_check
    raise AttributeError(f"module 'lab_utils.checks' has no attribute {name!r}")
