"""Every notebook has the lab's shape (issue 15): title, a short motivation, one "Learning goals" box,
a link to the notation card, navigation at the top and at the bottom, "## N. Title" headings numbered
from 1 (then Summary and Exercises), and the points in every exercise heading. And the notation card
holds everywhere: no CS231n letters (C classes, N rows) in notebook 05 or anywhere else, one epsilon.

Read from the committed .ipynb files (fast, no kernel). No notebook is exempt.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted(
    (Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb")
)
NOTATION_LINK = "../README.md#notation"

#: Drift from the notation card (README.md, "## Notation") that has crept in before (issue 15): CS231n's
#: letters (C classes, N rows, so "W of shape (D, C)", "log C", "scores[np.arange(N), y]"), the
#: old keyword ``n_classes`` for what the card calls ``num_classes``, and a second way to write epsilon.
NOTATION_DRIFT = {
    "cs231n_shape": r"\((?:D, ?C|N, ?C|N, ?D)\)",
    "cs231n_log_C": r"\blog\s*C\b",
    "cs231n_rows": r"\[np\.arange\(N\), ?y\]",  # one entry per row; np.arange(N) over classes is fine
    "cs231n_classes": r"\bC\s*=\s*(?:y\.max|10\b)",
    "n_classes": r"\bn_classes\b",
    "varepsilon": r"\\varepsilon",
}


def _markdown_lines(notebook):
    return [
        line
        for cell in notebook.cells
        if cell.cell_type == "markdown"
        for line in cell.source.splitlines()
    ]


def _navigation(line: str) -> list[str]:
    return re.findall(r"\]\(([0-9][0-9]_[a-z_]+\.ipynb)\)", line)


def notation_drift(notebook) -> dict[str, list[str]]:
    """Each drift pattern found in the notebook's cells (prose and code), with the lines that hold it."""
    found = {}
    for name, pattern in NOTATION_DRIFT.items():
        lines = [
            line.strip()
            for cell in notebook.cells
            for line in cell.source.splitlines()
            if re.search(pattern, line)
        ]
        if lines:
            found[name] = lines
    return found


def shape_failures(path: Path) -> dict[str, str]:
    """The shape checks this notebook fails, by name, with what is wrong."""
    notebook = nbformat.read(path, as_version=4)
    index = NOTEBOOKS.index(path)
    neighbours = [
        p.name
        for p in (
            NOTEBOOKS[index - 1] if index else None,
            NOTEBOOKS[index + 1] if index + 1 < len(NOTEBOOKS) else None,
        )
        if p
    ]
    failures = {}
    header = notebook.cells[0].source.strip().splitlines()
    if not re.match(rf"^# {path.name[:2]} · \S", header[0]):
        failures["title"] = f"first line {header[0]!r} is not '# {path.name[:2]} · Title'"
    motivation = []
    for line in header[2:]:
        if not line.strip():
            break
        motivation.append(line)
    if not 2 <= len(motivation) <= 4:
        failures["motivation"] = (
            f"the motivation after the title has {len(motivation)} lines, expected 2 to 4"
        )
    goal_titles = [line for line in header if re.match(r"^\*\*[^*]+\*\*$", line.strip())]
    if goal_titles != ["**Learning goals**"]:
        failures["goals_box"] = (
            f"goal box titles {goal_titles}, expected exactly ['**Learning goals**']"
        )
    if not any(NOTATION_LINK in line for line in header):
        failures["notation_link"] = f"the header does not link the notation card ({NOTATION_LINK})"
    top = header[-1]
    links = _navigation(top)
    if index + 1 == len(NOTEBOOKS) and NOTEBOOKS[0].name in links:
        links.remove(NOTEBOOKS[0].name)  # the last notebook may link back to the start
    if sorted(links) != sorted(neighbours):
        failures["top_navigation"] = f"the header's last line {top!r} does not link {neighbours}"
    bottom = notebook.cells[-1].source.strip().splitlines()[-1]
    if bottom != top:
        failures["bottom_navigation"] = (
            "the last cell does not end with the header's navigation line"
        )
    headings = [line for line in _markdown_lines(notebook) if line.startswith("## ")]
    numbered = [h for h in headings if h not in ("## Summary", "## Exercises")]
    numbers = [re.match(r"^## (\d+)\. \S", h) for h in numbered]
    if not all(numbers) or [int(n.group(1)) for n in numbers] != list(range(1, len(numbered) + 1)):
        failures["headings"] = f"headings must read '## 1. Title', '## 2. ...' in order: {numbered}"
    if headings[-2:] != ["## Summary", "## Exercises"]:
        failures["closing"] = (
            f"the last headings are {headings[-2:]}, expected Summary then Exercises"
        )
    exercise_headings = [
        line for line in _markdown_lines(notebook) if re.match(r"^#{2,4} .*\bExercise:", line)
    ]
    unpointed = [h for h in exercise_headings if not re.search(r"\(\d+ points?\)\s*$", h)]
    if unpointed:
        failures["exercise_points"] = f"exercise headings without '(K points)': {unpointed}"
    drift = notation_drift(notebook)
    if drift:
        failures["notation"] = f"drift from the notation card: {drift}"
    return failures


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 6


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_has_the_lab_shape(path):
    failures = shape_failures(path)
    assert failures == {}


def test_the_shape_check_catches_a_broken_header(tmp_path):
    source = NOTEBOOKS[1]
    notebook = nbformat.read(source, as_version=4)
    notebook.cells[0].source = notebook.cells[0].source.replace(
        "**Learning goals**", "**You will learn**"
    )
    notebook.cells.append(nbformat.v4.new_markdown_cell("## Extra section"))
    broken = tmp_path / source.name
    nbformat.write(notebook, broken)
    NOTEBOOKS.append(broken)
    try:
        failures = shape_failures(broken)
    finally:
        NOTEBOOKS.remove(broken)
    assert {"goals_box", "bottom_navigation", "headings", "closing"} <= set(failures)


def test_the_notation_check_catches_cs231n_letters(tmp_path):
    source = next(p for p in NOTEBOOKS if p.name.startswith("05_"))
    notebook = nbformat.read(source, as_version=4)
    assert notation_drift(notebook) == {}
    notebook.cells.insert(
        1,
        nbformat.v4.new_markdown_cell(
            r"With weights $W$ of shape $(D, C)$ the loss starts at about $\log C$; the scores are $(N, C)$."
        ),
    )
    notebook.cells.insert(
        2,
        nbformat.v4.new_code_cell(
            "C = y.max() + 1\ncorrect = scores[np.arange(N), y]\nbuild_small_cnn(n_classes=C)"
        ),
    )
    assert set(notation_drift(notebook)) == {
        "cs231n_shape",
        "cs231n_log_C",
        "cs231n_rows",
        "cs231n_classes",
        "n_classes",
    }
    broken = tmp_path / source.name
    nbformat.write(notebook, broken)
    NOTEBOOKS.append(broken)
    try:
        assert "notation" in shape_failures(broken)
    finally:
        NOTEBOOKS.remove(broken)
