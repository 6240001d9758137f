"""Frames for the browser: what changed between two pictures, and the bridge that paints it.

An explorer redraws only its changing artists (see :mod:`lab_utils.explorers`); this module gets
those pixels to the browser cheaply. ipympl's own path encodes a canvas-sized PNG per frame in the
kernel, which the browser then loads through an ``<img>``; for a blitted explorer that costs more
than the blit itself.

:class:`FrameBridge` is a tiny anywidget (no build step; its JavaScript is
``lab_utils/static/frame_bridge.js``) tied to one ipympl canvas. In the browser it adds a message
type to that canvas: the changed rectangles' RGBA pixels with their positions (raw, or deflated
for a remote browser), drawn in the order sent. It answers whether it could install itself, and
the kernel sends patches only after a yes; otherwise ipympl's path stays.

Examples
--------
>>> import numpy as np
>>> before = np.zeros((4, 40), dtype=np.uint32)
>>> after = before.copy()
>>> after[1:3, 2:4] = 7       # a change on the left ...
>>> after[0, 30] = 9          # ... and one far to the right
>>> changed_rects(before, after)
[(2, 1, 2, 2), (30, 0, 1, 1)]
>>> changed_rects(before, before)
[]
"""

from __future__ import annotations

import io
import json
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["changed_rects", "encode_png", "patch_message", "frame_bridge_class", "MERGE_GAP"]

#: Changed columns closer than this many pixels go into one rectangle (fewer, larger ones).
MERGE_GAP = 16

_BRIDGE_JS = Path(__file__).with_name("static") / "frame_bridge.js"
_FRAME_BRIDGE = None


def changed_rects(
    before: np.ndarray, after: np.ndarray, gap: int = MERGE_GAP
) -> list[tuple[int, int, int, int]]:
    """Rectangles ``(x, y, width, height)`` that together cover every pixel that differs.

    ``before`` and ``after`` are pictures of the same shape (one value per pixel, e.g. RGBA viewed
    as uint32). Columns holding changes are grouped into bands, split where at least ``gap``
    unchanged columns lie between them (side-by-side panels give one band each); each band gets
    the rows it changes in. Pixels outside the rectangles are equal in both pictures.
    """
    if before.shape != after.shape or before.ndim != 2:
        raise ValueError(
            f"before and after must be 2-D pictures of one shape, got "
            f"{before.shape} and {after.shape}"
        )
    if gap < 1:
        raise ValueError(f"gap must be at least 1, got {gap}")
    changed = before != after
    columns = np.flatnonzero(changed.any(axis=0))
    if columns.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(columns) > gap)
    starts = np.concatenate(([columns[0]], columns[breaks + 1]))
    stops = np.concatenate((columns[breaks], [columns[-1]])) + 1
    rects = []
    for x0, x1 in zip(starts.tolist(), stops.tolist(), strict=True):
        rows = np.flatnonzero(changed[:, x0:x1].any(axis=1))
        rects.append((x0, int(rows[0]), x1 - x0, int(rows[-1]) + 1 - int(rows[0])))
    return rects


def encode_png(pixels: np.ndarray) -> bytes:
    """Encode an RGB(A) uint8 image as PNG, favouring speed (level 1) over size.

    Frames go over a local socket or to a browser nearby; zlib's level 1 costs a fraction of the
    default level's time for a few percent more bytes.
    """
    from PIL import Image

    with io.BytesIO() as buffer:
        Image.fromarray(pixels).save(buffer, format="png", compress_level=1)
        return buffer.getvalue()


def patch_message(
    rgba: np.ndarray, rects: Sequence[tuple[int, int, int, int]], deflate: bool
) -> tuple[dict, list[bytes]]:
    """The comm message (content, buffers) that paints ``rects`` of ``rgba`` in the browser.

    Each rectangle travels as its raw RGBA rows, deflated (zlib, level 1) when ``deflate``: raw
    is drawn by the browser in the message handler itself, deflated pixels need an asynchronous
    decompression first (a few ms) but are 5 to 30 times smaller, which a remote browser wants.
    """
    encoding = "deflate" if deflate else "raw"
    buffers = []
    for x, y, width, height in rects:
        pixels = np.ascontiguousarray(rgba[y : y + height, x : x + width]).tobytes()
        buffers.append(zlib.compress(pixels, 1) if deflate else pixels)
    content = {
        "data": json.dumps(
            {
                "type": "softmax_lab_patch",
                "encoding": encoding,
                "rects": [list(map(int, rect)) for rect in rects],
            }
        )
    }
    return content, buffers


def frame_bridge_class() -> type | None:
    """The :class:`FrameBridge` widget class, or None when anywidget is not installed."""
    global _FRAME_BRIDGE
    if _FRAME_BRIDGE is None:
        try:
            import anywidget
        except ImportError:
            return None
        import ipywidgets as widgets
        import traitlets

        class FrameBridge(anywidget.AnyWidget):
            """Teaches one ipympl canvas in the browser to draw frame patches; never displayed.

            ``ready`` turns True once a browser has answered that it can draw patches on the
            canvas; ``problem`` says why not when it cannot. ``local`` is True when that browser
            reached JupyterLab over the loopback interface (raw patches cost it nothing).
            ``encoding`` chooses how patches travel: ``"raw"``, ``"deflate"``, or None (the
            default: raw for a local browser, deflated for a remote one).
            """

            _esm = _BRIDGE_JS.read_text(encoding="utf-8")
            canvas = traitlets.Instance(widgets.DOMWidget).tag(
                sync=True, **widgets.widget_serialization
            )
            #: The figure's text alternative: the bridge puts it on every view of the canvas
            #: (``role="img"``, ``aria-label``), so a screen reader hears what the figure shows.
            alt = traitlets.Unicode("").tag(sync=True)

            def __init__(self, canvas, **kwargs):
                super().__init__(canvas=canvas, **kwargs)
                self.ready = False
                self.local = False
                self.problem = None
                self._encoding = None
                self.on_msg(self._on_browser_message)

            @property
            def encoding(self):
                return self._encoding

            @encoding.setter
            def encoding(self, value):
                if value not in (None, "raw", "deflate"):
                    raise ValueError(f"encoding must be 'raw', 'deflate' or None, got {value!r}")
                self._encoding = value

            @property
            def deflate(self) -> bool:
                """Whether the next patch is sent deflated (see ``encoding``)."""
                return self.encoding == "deflate" or (self.encoding is None and not self.local)

            def _on_browser_message(self, _widget, content, _buffers):
                if isinstance(content, dict) and content.get("type") == "ready":
                    self.ready = bool(content.get("ok"))
                    self.local = bool(content.get("local"))
                    self.problem = None if self.ready else str(content.get("reason"))

        _FRAME_BRIDGE = FrameBridge
    return _FRAME_BRIDGE
