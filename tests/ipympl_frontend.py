"""What ipympl's frontend does, played from the kernel side, for the headless explorer tests.

Used by tests/test_explorers.py, tests/test_frames.py and tests/test_canvas.py. The names prefixed
with ``_`` below are ipympl's message handler and Matplotlib's image mode: the browser's side of
the protocol, which these helpers stand in for.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def connect_frontend(canvas) -> None:
    """What ipympl's frontend sends once its view of the canvas exists."""
    canvas._handle_message(canvas, {"type": "initialized"}, [])
    canvas.handle_event({"type": "refresh"})
    canvas.handle_event({"type": "draw"})


class FrameSpy:
    """Records the frames an ipympl canvas sends (PNG bytes and image mode) and the events."""

    def __init__(self, canvas, monkeypatch):
        self.canvas, self.frames, self.events = canvas, [], []
        monkeypatch.setattr(
            canvas, "send_binary", lambda data: self.frames.append((canvas.image_mode, data))
        )
        send_event = canvas.send_event
        monkeypatch.setattr(
            canvas,
            "send_event",
            lambda kind, **kw: (self.events.append(kind), send_event(kind, **kw)),
        )

    def picture(self, frames=None) -> np.ndarray:
        """What ipympl's frontend shows after drawing ``frames`` (default: all) in order: a full
        frame replaces the picture, a diff is drawn over it (its transparent pixels keep it)."""
        shown_now = None
        for mode, data in self.frames if frames is None else frames:
            image = np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))
            if mode == "full":
                shown_now = image.copy()
            else:
                keep = image[..., 3] == 0
                shown_now = np.where(keep[..., None], shown_now, image)
        return shown_now
