"""The trusted judge's reading of a notebook: which cells are autograder cells, and the verdict text.

Everything here reads the notebook file (nbgrader's autograded copy, with the instructor's test
cells restored) and plain data; nothing runs student code.

Examples
--------
>>> grader = {"nbgrader": {"grade": True, "grade_id": "my_softmax_extreme", "points": 2}}
>>> grade_calls(v4.new_code_cell('grade("my_softmax", my_softmax, "extreme")', metadata=grader))
[('my_softmax', 'extreme')]
>>> grade_calls(v4.new_code_cell("assert my_softmax([0.0]) == 1.0", metadata=grader)) is None
True
>>> verdict_outputs("my_softmax: part 'extreme' (2 points) fails", "")[0].output_type   # 0 points
'error'
"""

from __future__ import annotations

import ast
import re

from nbformat import NotebookNode, v4

from ..exercises import EXERCISES

__all__ = ["grade_calls", "function_sources", "verdict_outputs", "is_student_cell", "SANDBOX_NOTE"]

SANDBOX_NOTE = (
    "**Graded without a sandbox.** bubblewrap (`bwrap`) was not found on the grading "
    "machine, so this notebook ran with the grader's own rights (its verdicts were still "
    "decided outside your notebook's process)."
)


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _python(source: str) -> str:
    """Cell source with IPython-only lines (magics, shell escapes) blanked, so ast can read it."""
    return "\n".join("" if re.match(r"\s*[%!]", line) else line for line in source.splitlines())


def grade_calls(cell) -> list[tuple[str, str]] | None:
    """``[(exercise, part), ...]`` when a grade cell holds only ``grade(...)`` calls (and imports).

    Returns None for any other cell: such cells run as nbgrader runs them.
    """
    if cell.cell_type != "code" or not _nbgrader(cell).get("grade"):
        return None
    try:
        tree = ast.parse(_python(cell.source))
    except SyntaxError:
        return None
    calls = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        call = node.value if isinstance(node, ast.Expr) else None
        if not (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id == "grade"
            and len(call.args) == 3
            and not call.keywords
        ):
            return None
        exercise, function, part = call.args
        if not (
            isinstance(exercise, ast.Constant)
            and isinstance(part, ast.Constant)
            and isinstance(function, ast.Name)
            and exercise.value in EXERCISES
            and function.id == exercise.value
        ):
            return None
        calls.append((exercise.value, part.value))
    return calls or None


def is_student_cell(cell) -> bool:
    """Cells whose code the student wrote or runs: solution cells and self-check cells."""
    meta = _nbgrader(cell)
    return bool(meta.get("solution")) or str(meta.get("grade_id", "")).endswith("_selfcheck")


def function_sources(cells: list) -> dict[str, str]:
    """The source of the last top-level ``def`` of each name in these code cells, in order."""
    sources: dict[str, str] = {}
    for cell in cells:
        if cell.cell_type != "code":
            continue
        text = _python(cell.source)
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                sources[node.name] = ast.get_source_segment(text, node) or ""
    return sources


def verdict_outputs(message: str | None, passed_text: str) -> list[NotebookNode]:
    """Outputs of an autograder cell: a line on stdout when it passes, an error when it fails.

    nbgrader's SaveAutoGrades gives a grade cell 0 points when it has an error output (or any
    stderr), else full points: these outputs are how the trusted verdict reaches the gradebook.
    """
    if message is None:
        return [v4.new_output("stream", name="stdout", text=passed_text + "\n")]
    return [
        v4.new_output(
            "error",
            ename="AssertionError",
            evalue=message,
            traceback=["AssertionError: " + message.splitlines()[0], *message.splitlines()[1:]],
        )
    ]
