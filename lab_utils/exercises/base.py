"""The parts every graded exercise is made of: parts, cases, results, failures and their texts.

An exercise is data plus one trusted function. Its *cases* say how to call the student's function
(inputs only); its ``check`` judges what one call returned, as plain data (arrays, numbers, text),
against a reference the lab computes itself. The same exercise drives the friendly self-check in the
student's own process (:mod:`lab_utils.checks`) and the autograder, which runs the student's code in
a sandboxed kernel and judges what comes back in a separate, trusted process
(:mod:`lab_utils.grading`). So for honest code the self-check predicts the grade exactly, and for
dishonest code nothing done inside the student's process can change a verdict.

Expected answers are never stored in a case: ``Case.expected`` calls the case's reference lazily,
so the autograder computes it only in the trusted process.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

__all__ = [
    "Part",
    "Source",
    "Case",
    "Result",
    "Opaque",
    "Failure",
    "Exercise",
    "show",
    "number",
    "failure",
    "compare_arrays",
    "loops_in",
]


@dataclass(frozen=True)
class Part:
    """One graded part of an exercise: its name, points, whether its tests are hidden, what it probes.

    ``timeout`` is the time the autograder gives all the part's cases together, in seconds.
    """

    name: str
    points: int
    hidden: bool
    about: str
    timeout: float = 30.0


@dataclass(frozen=True)
class Source:
    """A callable argument, written as a Python expression and evaluated where the call runs.

    The expression sees ``np`` (NumPy) and nothing else, e.g. ``Source("lambda W: float(np.sum(W ** 3))")``.
    """

    code: str

    def build(self) -> Callable:
        return eval(
            compile(self.code, "<case argument>", "eval"), {"np": np, "__builtins__": __builtins__}
        )


@dataclass(frozen=True, eq=False)
class Case:
    """One call of the student's function, and how to compute the answer it should give.

    ``args`` are named positional arguments (names are used in messages only). Every call gets
    fresh copies of the arrays, so a function that modifies its input cannot spoil later cases.
    ``kind`` is ``"call"`` (call ``function(*args)``), ``"value"`` (read the variable ``function``)
    or ``"source"`` (the source text of the function ``function``). ``describe`` names a describer
    of :mod:`lab_utils.runner` that turns a returned object into plain data where the call runs,
    given the ``extra`` arguments; ``seed`` seeds Python, NumPy (and TensorFlow for Keras
    describers) right before the call.
    """

    args: tuple[tuple[str, Any], ...]
    reference: Callable[..., Any] | None = None
    rtol: float = 1e-6
    atol: float = 1e-9
    function: str | None = None
    kind: str = "call"
    note: str = ""
    describe: str | None = None
    extra: tuple[tuple[str, Any], ...] = ()
    seed: int | None = None
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def inputs(self) -> tuple[tuple[str, Any], ...]:
        """The named arguments (the name earlier versions of the lab used)."""
        return self.args

    @property
    def expected(self) -> Any:
        """The reference answer, computed on first use (only ever where the judge runs)."""
        if "expected" not in self._cache:
            if self.reference is None:
                raise ValueError("this case has no reference answer")
            values = [
                value.build() if isinstance(value, Source) else _fresh(value)
                for _, value in self.args
            ]
            self._cache["expected"] = self.reference(*values)
        return self._cache["expected"]

    def argument(self, name: str) -> Any:
        """The value of the argument called ``name``."""
        for key, value in self.args:
            if key == name:
                return value
        raise KeyError(name)


def _fresh(value):
    if isinstance(value, np.ndarray):
        return np.copy(value)
    if isinstance(value, tuple):
        return tuple(_fresh(v) for v in value)
    return value


@dataclass(frozen=True)
class Opaque:
    """A returned object that is not plain data: its type's name and a short text of it."""

    type_name: str
    text: str


@dataclass(frozen=True)
class Result:
    """What came back from one call, as plain data.

    ``status`` is ``"ok"`` (``value`` holds the return value), ``"error"`` (``error`` says what it
    raised), ``"not_written"`` (it raised NotImplementedError, the nbgrader stub), ``"forbidden"``
    (``forbidden`` names the library functions it called), ``"timeout"`` or ``"dead"`` (the kernel
    stopped: ``error`` says why), or ``"missing"`` (the name is not defined).
    """

    status: str
    value: Any = None
    error: str | None = None
    seconds: float = 0.0
    forbidden: tuple[str, ...] = ()


@dataclass(frozen=True)
class Failure:
    """Why a part failed: on which input, what came back against what was expected, and a hint."""

    part: str
    points: int
    inputs: tuple[tuple[str, Any], ...] = ()
    returned: str | None = None
    expected: str | None = None
    problem: str | None = None
    hint: str = ""

    def describe(self, exercise: str) -> str:
        """The verdict as the student reads it: several aligned lines."""
        lines = [f"{exercise}: part '{self.part}' ({points_text(self.points)}) fails"]
        for index, (name, value) in enumerate(self.inputs):
            lines.append(_field("input:" if index == 0 else "", show(value, prefix=f"{name} = ")))
        if self.problem is not None:
            lines.append(_field("problem:", self.problem))
        if self.returned is not None:
            lines.append(_field("returned:", self.returned))
        if self.expected is not None:
            lines.append(_field("expected:", self.expected))
        lines.append(_field("hint:", self.hint))
        return "\n".join(lines)


@dataclass(frozen=True)
class Exercise:
    """A graded exercise: its parts, how to build its cases, and the trusted judge of one case.

    ``check(exercise, part, case, result)`` sees only results whose status is ``"ok"``; errors,
    unwritten stubs, forbidden library calls and time-outs are judged before it is called.
    ``numpy_only`` exercises earn nothing for a part answered by calling a library softmax,
    log-softmax, logsumexp or cross-entropy; ``allowed`` names lab_utils modules they may call.
    ``disguise(case, rng)`` returns an equivalent case (classes and rows shuffled): the autograder
    grades those, drawn with a secret seed, so an answer cannot be looked up from the open case table.
    ``error_hint(case, error)`` may name the likely mistake behind an exception (``error`` is
    "raised IndexError: ..."); otherwise the hint says to call the function on the input.
    """

    name: str
    signature: str
    parts: tuple[Part, ...]
    build_cases: Callable[[], dict[str, tuple[Case, ...]]]
    check: Callable[["Exercise", Part, Case, Result], "Failure | None"]
    numpy_only: bool = True
    allowed: tuple[str, ...] = ()
    statement: str = ""
    disguise: Callable[["Case", np.random.Generator], "Case"] | None = None
    error_hint: Callable[["Case", str], "str | None"] | None = None

    @property
    def points(self) -> int:
        return sum(part.points for part in self.parts)

    def part(self, name: str) -> Part:
        for part in self.parts:
            if part.name == name:
                return part
        known = ", ".join(repr(p.name) for p in self.parts)
        raise ValueError(f"part must be one of {known} for exercise {self.name!r}, got {name!r}")


# --------------------------------------------------------------------------------------------------
# Text: short, stable forms of arrays and numbers for verdicts.

_LABEL_WIDTH = 12


def points_text(n: int) -> str:
    """'1 point' or 'n points'."""
    return f"{n} point" if n == 1 else f"{n} points"


def _field(label: str, text: str) -> str:
    """'  label:    text', with text's own line breaks kept and long prose wrapped, all aligned."""
    width = 88 - _LABEL_WIDTH
    out = []
    for line in text.splitlines() or [""]:
        if len(line) <= width or line.lstrip().startswith("["):
            out.append(line)  # short, or an array already laid out by NumPy
            continue
        # Keep code such as "log(p + eps)" on one line: protect the spaces inside brackets.
        protected = re.sub(r"\([^()]*\)", lambda m: m.group(0).replace(" ", "\x00"), line)
        out.extend(part.replace("\x00", " ") for part in textwrap.wrap(protected, width))
    first = f"  {label:<{_LABEL_WIDTH - 2}}{out[0]}"
    return "\n".join([first] + [" " * _LABEL_WIDTH + line for line in out[1:]])


def show(value: Any, prefix: str = "") -> str:
    """A short, stable text form of an array or number: 4 decimals, long arrays elided.

    ``prefix`` (e.g. ``"z = "``) is written before the value, with continuation lines aligned to it.

    Examples
    --------
    >>> show(np.array([1000.0, 1000.0]), prefix="z = ")
    'z = [1000., 1000.]'
    >>> show(1 / 3)
    '0.3333'
    """
    if isinstance(value, Source):
        return prefix + value.code
    if isinstance(value, Opaque):
        return prefix + f"{value.text} (a {value.type_name})"
    if value is None or isinstance(value, (bool, np.bool_)):
        return prefix + repr(value if value is None else bool(value))
    plain = isinstance(value, (np.ndarray, np.generic, list, tuple, float, int))
    array = None
    if plain:
        try:
            array = np.asarray(value)
        except (TypeError, ValueError):
            array = None
    if array is None or array.dtype.kind not in "biuf":
        text = repr(value)
        return prefix + (text if len(text) <= 80 else text[:77] + "...")
    if array.ndim == 0:
        return prefix + (number(float(array)) if array.dtype.kind == "f" else str(array))
    text = np.array2string(
        array,
        precision=4,
        separator=", ",
        threshold=16,
        edgeitems=3,
        suppress_small=True,
        floatmode="maxprec_equal",
        max_line_width=76,
        prefix=prefix,
        formatter={"float_kind": number} if array.dtype.kind == "f" and _needs_sci(array) else None,
    )
    return prefix + text + (" (float32)" if array.dtype == np.float32 else "")


def _needs_sci(array: np.ndarray) -> bool:
    finite = np.abs(array[np.isfinite(array)])
    return finite.size > 0 and float(finite.max()) >= 1e6


def number(x: float) -> str:
    """4 significant decimals without trailing noise: 2000.0, 0.3333, 1e+06, 2.061e-09."""
    if not np.isfinite(x):
        return str(x)
    if x != 0 and (abs(x) >= 1e6 or abs(x) < 1e-4):
        return f"{x:.4g}"
    if x == int(x):
        return f"{x:.1f}"
    return f"{x:.4f}".rstrip("0")


# --------------------------------------------------------------------------------------------------
# Judging helpers for exercises.


def failure(
    part: Part,
    case: Case,
    hint: str,
    problem: str | None = None,
    returned: str | None = None,
    expected: str | None = "reference",
) -> Failure:
    """A Failure of this part on this case; ``expected`` defaults to the case's reference answer."""
    if expected == "reference":
        expected = show(case.expected) if case.reference is not None else None
    inputs = case.args if case.kind == "call" else ()
    return Failure(part.name, part.points, inputs, returned, expected, problem, hint)


def rejected(*args, **kwargs) -> tuple[None, None, Failure]:
    """``(None, None, failure(...))``: what a reader of a returned pair gives back when the pair
    cannot be read (not a pair, a wrong shape); the two Nones stand for the pair's two values."""
    return None, None, failure(*args, **kwargs)


def as_numbers(value: Any) -> tuple[np.ndarray | None, str | None]:
    """``value`` as a float64 array, or None and a sentence saying why it is not numbers."""
    if value is None:
        return None, "returned None: did you forget the `return` line?"
    if isinstance(value, (str, bytes, dict, Opaque)):
        return (
            None,
            f"returned {show(value)} (a {type(value).__name__ if not isinstance(value, Opaque) else value.type_name}), not an array of numbers",
        )
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None, f"returned {show(value)} (a {type(value).__name__}), not an array of numbers"
    return array, None


def compare_arrays(
    part: Part, case: Case, result: Result, hint: Callable[[Case, np.ndarray, str], str]
) -> Failure | None:
    """Judge an array answer: numbers, the reference's shape, finite, close at the case's tolerance."""
    got, problem = as_numbers(result.value)
    if problem is not None:
        return failure(part, case, "return a NumPy array of numbers.", problem)
    expected = np.asarray(case.expected)
    if got.shape != expected.shape:
        problem = f"returned shape {got.shape}, expected shape {expected.shape}"
    elif np.all(np.isfinite(got)) and np.allclose(got, expected, rtol=case.rtol, atol=case.atol):
        return None
    return failure(part, case, hint(case, got, part.name), problem, show(got))


def compare_mean_loss(
    part: Part, case: Case, result: Result, hint: Callable[[Case, float, str], str]
) -> Failure | None:
    """Judge a mean-loss answer: one finite number, close to the reference at the case's tolerance."""
    got, problem = as_numbers(result.value)
    if problem is not None:
        return failure(part, case, "return the mean loss, one number.", problem)
    if got.size != 1:
        return failure(
            part,
            case,
            "return the mean loss over the examples, e.g. np.mean(per_example_losses).",
            f"returned {got.size} numbers, expected one (the mean loss)",
            show(got),
        )
    value = float(got.reshape(-1)[0])
    if np.isfinite(value) and np.isclose(value, case.expected, rtol=case.rtol, atol=case.atol):
        return None
    return failure(part, case, hint(case, value, part.name), None, show(value))


def worst_row(got: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> int | None:
    """Index of the first row (along the first axis) of a 2-D answer that is wrong, or None."""
    if got.ndim < 2 or got.shape != expected.shape:
        return None
    with np.errstate(all="ignore"):
        bad = ~np.isclose(got, expected, rtol=rtol, atol=atol) | ~np.isfinite(got)
    rows = np.flatnonzero(bad.reshape(got.shape[0], -1).any(axis=1))
    return int(rows[0]) if rows.size else None


def shuffled(case: Case, rng: np.random.Generator, **arrays: np.ndarray) -> Case:
    """``case`` with the named arguments replaced (same reference, tolerances and note)."""
    args = tuple((name, arrays.get(name, value)) for name, value in case.args)
    return Case(
        args,
        case.reference,
        case.rtol,
        case.atol,
        case.function,
        case.kind,
        case.note,
        case.describe,
        case.extra,
        case.seed,
    )


def permutations(
    shape: tuple[int, ...], rng: np.random.Generator
) -> tuple[np.ndarray | None, np.ndarray]:
    """A shuffle of the rows (first axis, for 2-D and more) and of the last axis."""
    rows = rng.permutation(shape[0]) if len(shape) >= 2 else None
    return rows, rng.permutation(shape[-1]) if shape else np.arange(0)


def shuffle_last_axes(case: Case, rng: np.random.Generator, *names: str) -> Case:
    """Shuffle the classes (last axis) and the rows of the arguments ``names`` together.

    Softmax-like answers are equivariant: the reference of the shuffled case is the shuffled
    reference, so honest code scores the same on either.
    """
    shape = np.shape(case.argument(names[0]))
    if not shape:
        return case
    rows, columns = permutations(shape, rng)
    changed = {}
    for name in names:
        value = np.asarray(case.argument(name))
        value = np.broadcast_to(value, shape).copy()
        value = value[..., columns]
        changed[name] = value[rows] if rows is not None else value
    return shuffled(case, rng, **changed)


def loops_in(source: str, name: str) -> list[str]:
    """The Python loops and comprehensions inside ``def name`` in ``source``, as short descriptions.

    Read from the code, never run: ``for`` and ``while`` statements, list/set/dict comprehensions
    and generator expressions, each with its line number within the function.

    Examples
    --------
    >>> loops_in("def f(x):\\n    return sum(v for v in x)\\n", "f")
    ['a generator expression (line 2)']
    >>> loops_in("def f(x):\\n    return x.sum()\\n", "f")
    []
    """
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return ["code that does not parse"]
    kinds = {
        ast.For: "a for loop",
        ast.AsyncFor: "a for loop",
        ast.While: "a while loop",
        ast.ListComp: "a list comprehension",
        ast.SetComp: "a set comprehension",
        ast.DictComp: "a dict comprehension",
        ast.GeneratorExp: "a generator expression",
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            for inner in ast.walk(node):
                for kind, text in kinds.items():
                    if isinstance(inner, kind):
                        found.append(f"{text} (line {inner.lineno - node.lineno + 1})")
            break
    return found
