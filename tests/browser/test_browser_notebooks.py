"""Every notebook, run top to bottom in JupyterLab and in Notebook 7 in headless Chromium, shows
what a student sees.

For each ``notebooks/*.ipynb`` (new notebooks are picked up automatically) and each front end
(``jupyter lab`` and ``jupyter notebook``, the same checks for both): open it, clear its saved
outputs, Run All from the Run menu and wait until the kernel is idle with every code cell executed.
Then no cell may show an error, a traceback or stderr (in its own output or inside a widget), no
widget may have fallen back to its bare text repr (``Canvas(toolbar=...)``), every explorer the
notebook displays must be a painted ipympl canvas, and every other figure canvas must be painted too.
An axe-core audit of the notebook's outputs (the lab's own, not the front end's chrome) must find
no critical or serious violation.
A screenshot of the whole notebook goes to ``test-artifacts/browser/<notebook>-<front end>.png``
either way.

A deliberately broken notebook checks that each of these checks does catch what it is meant to.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.browser.browser_support import (
    FRONTENDS,
    NOTEBOOKS,
    NotebookPage,
    axe_audit,
    blocking_violations,
    explorer_calls,
    notebook_cells,
    write_notebook,
)

pytestmark = pytest.mark.browser

NOTEBOOK_PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))


def _first_line(source: str) -> str:
    lines = [line for line in source.splitlines() if line.strip()]
    return (lines[0][:70] + ("..." if len(lines[0]) > 70 else "")) if lines else "(empty)"


def run_notebook(
    page, server, notebook: Path, screenshot: Path, canvas_timeout_s: float = 60.0
) -> dict[str, list[str]]:
    """Run ``notebook`` (a file in the server's root) with Run All; return what went wrong, by check.

    Canvases are waited for up to ``canvas_timeout_s`` after the run (the whole wait only when one
    is missing)."""
    cells = notebook_cells(notebook)
    # Cell index -> how many explorers that cell displays.
    explorers = {
        i: len(explorer_calls(c["source"])) for i, c in enumerate(cells) if c["cell_type"] == "code"
    }
    explorers = {i: n for i, n in explorers.items() if n}

    lab = NotebookPage(page, server)
    try:
        lab.open(notebook.name, timeout_s=90)
        lab.hide_left_sidebar()
        lab.seconds = lab.clear_and_run_all(timeout_s=300)
        forked = server.kernels_forked()  # while the kernel runs
        canvases = lab.wait_for_painted_canvases(explorers, timeout_s=canvas_timeout_s)
        states = lab.cell_states()
        problems = lab.visible_problems()
        audit = axe_audit(page)
        lab.dismiss_notifications()
    finally:
        try:
            lab.screenshot_whole_notebook(screenshot)
        finally:
            server.shutdown_kernels()

    found = {
        key: []
        for key in ("cells", "outputs", "page", "explorers", "blank", "console", "accessibility")
    }
    found["seconds"] = [lab.seconds]
    found["forked"] = [forked]
    if len(states) != len(cells):
        found["cells"].append(f"the page shows {len(states)} cells, the file has {len(cells)}")
    for i, state in enumerate(states):
        if state["type"] != "code":
            continue
        where = f"cell {i} `{_first_line(state['source'])}`"
        for output in state["outputs"]:
            if output["output_type"] == "error":
                found["outputs"].append(f"{where} raised {output['ename']}: {output['evalue']}")
            elif output["output_type"] == "stream" and output["name"] == "stderr":
                found["outputs"].append(f"{where} wrote to stderr: {output['text'][:300]!r}")
        if state["source"].strip() and state["count"] is None:
            found["outputs"].append(f"{where} never ran")
    found["page"] = [f"cell {p['cell']}: {p['kind']}: {p['text']!r}" for p in problems]
    found["explorers"] = [
        f"cell {i} `{_first_line(cells[i]['source'])}` displays {n} explorer(s) but shows "
        f"{canvases[i]['painted']} painted figure canvas(es) ({canvases[i]['canvases']} in all)"
        for i, n in explorers.items()
        if canvases[i]["painted"] < n
    ]
    found["blank"] = [
        f"cell {i} `{_first_line(cells[i]['source'])}`: "
        f"{c['canvases'] - c['painted']} of {c['canvases']} blank"
        for i, c in enumerate(canvases)
        if c["painted"] < c["canvases"]
    ]
    found["console"] = lab.lab_console_errors
    found["accessibility"] = blocking_violations(audit)
    return found


def test_there_are_notebooks_to_run():
    assert NOTEBOOK_PATHS, f"no notebooks in {NOTEBOOKS}"


@pytest.mark.parametrize("notebook", NOTEBOOK_PATHS, ids=[p.stem for p in NOTEBOOK_PATHS])
@pytest.mark.parametrize("frontend", list(FRONTENDS), scope="module")
def test_notebook_runs_clean(frontend, notebook, page, notebooks_lab, artifacts_dir):
    name = f"{notebook.stem}-{frontend}"
    found = run_notebook(page, notebooks_lab, notebook, artifacts_dir / f"{name}.png")
    # Kept beside the screenshot for whoever looks at CI's artifacts; never asserted (shared machines).
    seconds = round(found.pop("seconds")[0], 1)
    forked = found.pop("forked")[0]
    (artifacts_dir / f"{name}.json").write_text(
        json.dumps(
            {"notebook": notebook.name, "frontend": frontend, "run_all_seconds": seconds, **found},
            indent=1,
        )
    )
    messages = {
        "cells": "cells",
        "outputs": "errors or stderr after Run All",
        "page": "problems shown in the page",
        "explorers": "explorers not rendered",
        "blank": "figure canvases that stayed blank",
        "console": "errors in the browser console",
        "accessibility": "critical or serious axe-core violations in the lab's outputs",
    }
    report = [f"{messages[key]}:\n  " + "\n  ".join(items) for key, items in found.items() if items]
    # JupyterLab's server forks kernels from the zygote, as Binder's does; Notebook 7's does not.
    assert forked == (frontend == "jupyterlab"), f"kernel forked from the zygote: {forked}"
    assert not report, (
        f"{notebook.name} in {frontend} (screenshot: test-artifacts/browser/{name}.png):\n"
        + "\n".join(report)
    )


BROKEN_CELLS = [
    "%matplotlib widget\nimport sys\nimport ipywidgets\nimport lab_utils\n"
    "from IPython.display import display",
    "lab_utils.softmax_explorer()",
    "print('a warning a student should not see', file=sys.stderr)",
    "display({'text/plain': 'Canvas(toolbar=Toolbar(toolitems=[...]))'}, raw=True)\n"
    "print(ipywidgets.VBox([ipywidgets.IntSlider()]))",
    "hidden = lab_utils.temperature_explorer()  # made but never displayed",
    # ipympl 0.10 cannot show a canvas drawn before its view exists inside a box: blank, console error.
    "import matplotlib.pyplot as plt\nplt.ioff(); fig, ax = plt.subplots(); ax.plot([0, 1])\n"
    "fig.canvas.draw(); ipywidgets.VBox([fig.canvas])",
    "from IPython.display import HTML\nHTML('<input type=\"text\">')  # a field with no name",
    "1 / 0",
]


@pytest.mark.parametrize("frontend", list(FRONTENDS), scope="module")
def test_checks_catch_a_broken_notebook(frontend, page, notebooks_lab, artifacts_dir):
    """Each check fires on the fault it exists for (so a clean pass above means something)."""
    path = write_notebook(notebooks_lab.root_dir / "zz_broken_on_purpose.ipynb", BROKEN_CELLS)
    # One explorer is missing on purpose, so the wait for canvases runs to its end: keep it short.
    screenshot = artifacts_dir / f"zz_broken_on_purpose-{frontend}.png"
    found = run_notebook(page, notebooks_lab, path, screenshot, canvas_timeout_s=15)
    text = {
        key: "\n".join(items) for key, items in found.items() if key not in ("seconds", "forked")
    }
    assert "cell 7 `1 / 0` raised ZeroDivisionError" in text["outputs"], text
    assert "cell 2 `print('a warning" in text["outputs"] and "wrote to stderr" in text["outputs"], (
        text
    )
    assert "cell 2: stderr or traceback" in text["page"], text
    assert "cell 7: stderr or traceback" in text["page"], text
    assert "cell 3: bare widget repr: 'Canvas(toolbar=" in text["page"], text
    assert "cell 3: bare widget repr: 'VBox(children=" in text["page"], text
    assert text["explorers"].startswith("cell 4 `hidden = lab_utils.temperature_explorer()"), text
    assert "cell 1" not in text["explorers"], text  # the displayed explorer did render
    assert text["blank"].startswith("cell 5 `import matplotlib.pyplot as plt`: 1 of 1 blank"), text
    assert "Error setting state" in text["console"], text
    assert text["cells"] == "", text
    assert "critical label " in text["accessibility"], text  # the nameless field of cell 6
