"""Re-execute notebooks in place, each in a fresh kernel, top to bottom: ``make notebooks``.

Committed outputs come only from this command, so nbval can compare them with a re-run and a reviewer
can trust that every printed number was produced by the code above it.

Usage: ``python -m lab_utils.run_notebooks [NOTEBOOK ...]`` (default: every ``notebooks/*.ipynb``).

Examples
--------
>>> main(["no-such-folder/*.ipynb"])   # nothing matches: exit status 2, and a line on stderr
2
"""

from __future__ import annotations

import glob
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for the annotations: both load lazily, when a notebook runs
    from nbclient import NotebookClient
    from nbformat import NotebookNode


def notebook_client(path: Path, timeout: int = 900) -> tuple[NotebookNode, NotebookClient]:
    """``(notebook, client)``: ``path`` read, and an nbclient client that runs it as this module does.

    A fresh ``python3`` kernel with the notebook's own folder as working directory. Shared with
    ``benchmarks/notebook_memory.py``, which measures a notebook run exactly as it is committed.
    """
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(Path(path).parent)}},
        # Widget state is large and changes on every run; the PNG fallback in each output is what
        # renderers without a kernel (GitHub, nbviewer) show.
        store_widget_state=False,
    )
    return notebook, client


def execute_in_place(path: Path, timeout: int = 900) -> float:
    """Run one notebook in a fresh kernel with its own folder as working directory; return seconds."""
    import nbformat

    notebook, client = notebook_client(path, timeout)
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    nbformat.write(notebook, path)
    return elapsed


def main(argv: list[str]) -> int:
    patterns = argv or ["notebooks/*.ipynb"]
    paths = sorted({Path(p) for pattern in patterns for p in glob.glob(pattern)})
    if not paths:
        print(f"no notebooks match {patterns}", file=sys.stderr)
        return 2
    for path in paths:
        seconds = execute_in_place(path)
        print(f"executed {path} in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
