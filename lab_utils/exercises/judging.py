"""From cases to verdicts: run a part here, or judge the answers a sandbox sent back.

Both paths end in :func:`judge_part`, so the self-check in the student's process and the trusted
autograder reach the same verdict from the same plain data.

Examples
--------
>>> import numpy as np
>>> from lab_utils.exercises import EXERCISES, cases
>>> exercise = EXERCISES["my_softmax"]
>>> part, part_cases = exercise.part("extreme"), cases("my_softmax")["extreme"]
>>> def stable(z):
...     e = np.exp(z - np.max(z, axis=-1, keepdims=True))
...     return e / np.sum(e, axis=-1, keepdims=True)
>>> results, seconds = run_part_here(exercise, part, part_cases, stable)
>>> judge_part(exercise, part, part_cases, results, seconds) is None     # every case passes
True
>>> def naive(z):
...     return np.exp(z) / np.sum(np.exp(z), axis=-1, keepdims=True)
>>> results, seconds = run_part_here(exercise, part, part_cases, naive)
>>> print(judge_part(exercise, part, part_cases, results, seconds).describe(exercise.name))
my_softmax: part 'extreme' (2 points) fails
  input:    z = [1000., 1000., 1000.]
  returned: [nan, nan, nan]
  expected: [0.3333, 0.3333, 0.3333]
  hint:     exp overflowed (or 0/0 happened): subtract the largest logit of each row
            before exp; softmax(z - max(z)) equals softmax(z) exactly.
"""

from __future__ import annotations

import inspect
import sys
import time
from typing import Any, Callable

from .. import runner
from .base import Case, Exercise, Failure, Opaque, Part, Result, Source, points_text

__all__ = [
    "NotWritten",
    "judge_part",
    "run_part_here",
    "part_request",
    "results_from_answers",
    "not_written_text",
]

#: Words for the library shortcut verdict.
SHORTCUT_HINT = (
    "this exercise asks you to write it yourself in NumPy: a library softmax, log-softmax, "
    "logsumexp or cross-entropy (lab_utils, SciPy, scikit-learn, TensorFlow/Keras, "
    "PyTorch, JAX) earns no points for the parts it answers."
)


class NotWritten(Exception):
    """The student's function still raises NotImplementedError (the nbgrader stub)."""


def not_written_text(exercise: Exercise) -> str:
    return (
        f"{exercise.name} is not written yet: replace `raise NotImplementedError()` in "
        f"{exercise.signature} with your code."
    )


def result_from_answer(answer: dict) -> Result:
    """A Result from one answer dict of :func:`lab_utils.runner.call` (JSON-decoded)."""
    status = str(answer.get("status", "error"))
    value = runner.decode(answer["value"], Opaque) if status == "ok" and "value" in answer else None
    forbidden = tuple(str(name) for name in answer.get("forbidden", ()))
    error = answer.get("error")
    return Result(
        status,
        value,
        None if error is None else str(error),
        float(answer.get("seconds", 0.0)),
        forbidden,
    )


def results_from_answers(answers: list) -> list[Result]:
    return [result_from_answer(answer) for answer in answers]


def _target_name(exercise: Exercise, case: Case) -> str:
    return case.function or exercise.name


def run_part_here(
    exercise: Exercise,
    part: Part,
    cases: tuple[Case, ...],
    fn: Callable,
    namespace: dict | None = None,
) -> tuple[list[Result], float]:
    """Run a part's cases in this process: the self-check's path. Returns results and wall time."""
    namespace = (
        namespace if namespace is not None else getattr(sys.modules.get("__main__"), "__dict__", {})
    )
    results = []
    start = time.perf_counter()
    for case in cases:
        name = _target_name(exercise, case)
        target = fn if name == exercise.name else namespace.get(name, _MISSING)
        if target is _MISSING:
            results.append(Result("missing", error=f"{name} is not defined"))
            continue
        if case.kind == "value":
            results.append(result_from_answer({"status": "ok", "value": runner.encode(target)}))
            continue
        if case.kind == "source":
            results.append(Result("ok", _source_of(target)))
            continue
        args = [value.build() if isinstance(value, Source) else value for _, value in case.args]
        if case.seed is not None:
            runner._seed(case.seed, tensorflow=str(case.describe or "").startswith("keras"))
        answer = runner.call(
            target,
            args,
            watch=exercise.numpy_only,
            allowed=exercise.allowed,
            describe=case.describe,
            extra=[value for _, value in case.extra],
        )
        results.append(result_from_answer(_json_round_trip(answer)))
    return results, time.perf_counter() - start


_MISSING = object()


def _source_of(target) -> str:
    try:
        return inspect.getsource(target)
    except (OSError, TypeError):
        return ""


def _json_round_trip(answer: dict) -> dict:
    """Exactly what a sandbox's answer becomes after JSON, so both paths judge the same data."""
    import json

    return json.loads(json.dumps(answer))


def part_request(exercise: Exercise, part: Part, cases: tuple[Case, ...]) -> dict:
    """The JSON request that asks a sandboxed kernel to run a part's calls (not its source cases)."""
    calls = []
    for case in cases:
        if case.kind == "source":
            continue
        calls.append(
            {
                "function": _target_name(exercise, case),
                "kind": case.kind,
                "args": [_encode_arg(value) for _, value in case.args],
                "extra": [runner.encode(value) for _, value in case.extra],
                "describe": case.describe,
                "seed": case.seed,
            }
        )
    return {"calls": calls, "watch": exercise.numpy_only, "allowed": list(exercise.allowed)}


def _encode_arg(value: Any):
    if isinstance(value, Source):
        return {"__source__": value.code}
    return runner.encode(value)


def merge_sources(
    exercise: Exercise, cases: tuple[Case, ...], results: list[Result], sources: dict[str, str]
) -> list[Result]:
    """Put the source text of each ``kind="source"`` case (read from the notebook) among the results."""
    merged, answers = [], iter(results)
    for case in cases:
        if case.kind == "source":
            text = sources.get(_target_name(exercise, case))
            merged.append(
                Result("ok", text)
                if text is not None
                else Result(
                    "missing", error=f"no def {_target_name(exercise, case)} in the notebook"
                )
            )
        else:
            nxt = next(answers, None)
            if nxt is None:
                break
            merged.append(nxt)
    return merged


def judge_part(
    exercise: Exercise,
    part: Part,
    cases: tuple[Case, ...],
    results: list[Result],
    seconds: float,
    stopped: str | None = None,
) -> Failure | None:
    """The verdict of one part: the first failing case's Failure, or None when every case passes.

    ``results`` line up with ``cases`` and may be shorter when the calls were stopped (``stopped``
    says why: a time limit, a dead kernel). Raises NotWritten when the function is still the stub.
    """
    if any(result.status == "not_written" for result in results):
        raise NotWritten  # the stub: say "not written yet" once, whatever else the part reads
    for case, result in zip(cases, results):
        verdict = _judge_status(exercise, part, case, result)
        if verdict is None and result.status == "ok":
            verdict = exercise.check(exercise, part, case, result)
        if verdict is not None:
            return verdict
    if len(results) < len(cases) or stopped:
        case = cases[len(results)] if len(results) < len(cases) else cases[-1]
        reason = stopped or "no answer came back for this case"
        return Failure(
            part.name,
            part.points,
            case.args if case.kind == "call" else (),
            problem=reason,
            hint=_stop_hint(part, reason),
        )
    if seconds > part.timeout:
        return Failure(
            part.name,
            part.points,
            problem=f"the part took {seconds:.1f} s; its time limit is {part.timeout:g} s",
            hint="make it faster: vectorise the inner loops with NumPy.",
        )
    return None


def _stop_hint(part: Part, reason: str) -> str:
    if "time limit" in reason:
        return (
            f"{part.name} must finish within its time limit: look for a loop that never ends "
            "(or one far too slow) and run the case yourself."
        )
    if "memory" in reason:
        return "the code used more memory than the grader allows: look for an array that keeps growing."
    return "run the notebook top to bottom yourself (Kernel > Restart and Run All) and read what stops it."


def _judge_status(exercise: Exercise, part: Part, case: Case, result: Result) -> Failure | None:
    inputs = case.args if case.kind == "call" else ()
    name = _target_name(exercise, case)
    if result.status == "ok":
        return None
    if result.status == "forbidden":
        names = ", ".join(result.forbidden)
        return Failure(
            part.name, part.points, inputs, problem=f"{name} called {names}", hint=SHORTCUT_HINT
        )
    if result.status == "error":
        hint = exercise.error_hint(case, result.error or "") if exercise.error_hint else None
        return Failure(
            part.name,
            part.points,
            inputs,
            problem=result.error,
            hint=hint or "call your function on this input yourself and read the error.",
        )
    if result.status == "missing":
        return Failure(
            part.name,
            part.points,
            inputs,
            problem=result.error,
            hint=f"define {name} (run its cell) before the autograder cells.",
        )
    return Failure(
        part.name,
        part.points,
        inputs,
        problem=result.error or result.status,
        hint=_stop_hint(part, result.error or ""),
    )


def summary_line(exercise: Exercise, failures: list[Failure]) -> str:
    earned = exercise.points - sum(f.points for f in failures)
    verdict = "all parts pass." if not failures else "some parts fail; details below."
    return f"{exercise.name}: {earned}/{exercise.points} points, {verdict}"


def part_line(part: Part, failed: bool) -> str:
    mark = "FAIL" if failed else "ok  "
    hidden = ", hidden in the graded version" if part.hidden else ""
    return f"  {mark} {part.name} ({points_text(part.points)}{hidden}): {part.about}"
