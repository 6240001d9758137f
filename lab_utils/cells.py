"""Notebook-cell bookkeeping: which cell made an object, so a re-run can close the old one.

Re-running a cell that shows an explorer would otherwise leave the previous run's widgets and
figure alive (and their comms open). :data:`REGISTRY` remembers, per cell id, what each run made;
when the same cell runs again (a new execution count), the objects of its earlier runs are
closed. Outside a Jupyter kernel there is no cell, and nothing is tracked.

Examples
--------
>>> class Thing:
...     closed = False
...     def close(self):
...         self.closed = True
>>> registry = CellRegistry()
>>> first, second = Thing(), Thing()
>>> registry.track(first, ("cell-a", 1))
>>> registry.track(second, ("cell-a", 2))   # the cell ran again
>>> first.closed, second.closed
(True, False)
"""

from __future__ import annotations

import sys
import weakref

__all__ = ["current_cell", "CellRegistry", "REGISTRY", "track"]


def current_cell() -> tuple[str, int] | None:
    """The running notebook cell's id and execution count, or None outside a Jupyter kernel."""
    if "IPython" not in sys.modules:
        return None
    try:
        from IPython import get_ipython

        shell = get_ipython()
        kernel = getattr(shell, "kernel", None)
        if kernel is None:
            return None
        # ipykernel >= 6 has get_parent(); older kernels only the private _parent_header.
        parent = kernel.get_parent() if hasattr(kernel, "get_parent") else kernel._parent_header
        cell_id = (parent or {}).get("metadata", {}).get("cellId")
        if not cell_id:
            return None
        return str(cell_id), int(shell.execution_count)
    except Exception:  # noqa: BLE001 (an unusual kernel: keep the object, skip the bookkeeping)
        return None


class CellRegistry:
    """Per cell id, the objects each run made (weakly held, so none is kept alive)."""

    def __init__(self):
        self._live: dict[str, list[tuple[int, weakref.ref]]] = {}

    def track(self, obj, context: tuple[str, int] | None) -> None:
        """Remember ``obj`` as made by ``context`` = (cell id, execution count); close the
        objects made by earlier runs of the same cell. ``None`` (no cell) tracks nothing."""
        if context is None:
            return
        cell_id, count = context
        keep = []
        for old_count, ref in self._live.get(cell_id, []):
            old = ref()
            if old is None:
                continue
            if old_count != count:
                old.close()
            else:
                keep.append((old_count, ref))
        keep.append((count, weakref.ref(obj)))
        self._live[cell_id] = keep


#: The registry explorers use.
REGISTRY = CellRegistry()


def track(obj: object) -> None:
    """Track ``obj`` in :data:`REGISTRY` under the running cell (nothing outside a kernel)."""
    REGISTRY.track(obj, current_cell())
