"""How a changed explorer figure reaches the screen: blitting, ipympl's frames and their fallback.

Everything in the lab that relies on ipympl's or Matplotlib's internals is in this module, and
each private name it uses is listed once in :data:`PRIVATE_ATTRIBUTES` with the versions it was
checked against (:data:`CHECKED_AGAINST`). If one of them is missing (a newer ipympl or
Matplotlib), or ``SOFTMAX_LAB_PLAIN_FRAMES=1`` is set in the environment, or :data:`PLAIN_FRAMES`
is set to True before an explorer is made, the canvas takes ipympl's plain ``draw_idle`` path:
every change is a full draw that the browser asks for. Slower, but it needs nothing private.

One class per concern:

* :class:`Blitter`: the saved background and the animated artists drawn over it.
* :class:`DiffFrames`: which frame to send (whole, or every pixel changed since the last whole
  one), pure NumPy.
* :class:`TrailingRepaint`: a whole frame once the changes stop.
* :class:`lab_utils.ipympl_canvas.ExplorerCanvas`: ipympl's canvas, pushing a frame at once on a
  change, as ipympl PNG frames or as patches through the frame bridge (:mod:`lab_utils.frames`).
  It is in a module of its own because importing ipympl changes Matplotlib's rcParams
  (``backend_fallback``): it is imported only when ipympl is the backend.

Examples
--------
>>> import numpy as np
>>> diffs = DiffFrames(guard_s=0.0)
>>> picture = np.zeros((2, 3), dtype=np.uint32)
>>> diffs.next_frame(picture, force_full=False, now=0.0)[0]
'full'
>>> picture[0, 1] = 5
>>> mode, output = diffs.next_frame(picture, force_full=False, now=1.0)
>>> mode, output.tolist()
('diff', [[0, 5, 0], [0, 0, 0]])
"""

from __future__ import annotations

import asyncio
import math
import os
import warnings
from typing import Callable

import numpy as np
from matplotlib.backend_bases import FigureCanvasBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from . import frames

__all__ = [
    "Blitter",
    "DiffFrames",
    "TrailingRepaint",
    "make_canvas",
    "render_now",
    "ipympl_active",
    "internals_missing",
    "PLAIN_FRAMES",
    "FULL_FRAME_GUARD_S",
    "TRAILING_FRAME_DELAY_S",
    "PRIVATE_ATTRIBUTES",
    "CHECKED_AGAINST",
]

#: The versions the private attributes below were read against (the pins of requirements.txt).
CHECKED_AGAINST = {"ipympl": "0.10.0", "matplotlib": "3.11.2"}
#: Every private attribute this module reads or writes, and what it is.
PRIVATE_ATTRIBUTES = {
    "_png_is_old": "Matplotlib's FigureCanvasWebAggCore: the buffer holds a frame not yet sent",
    "_force_full": "Matplotlib's FigureCanvasWebAggCore: the next frame must be a whole one",
    "_last_buff": "Matplotlib's FigureCanvasWebAggCore: the pixels of the last frame sent",
    "_current_image_mode": "Matplotlib's FigureCanvasWebAggCore: 'full' or 'diff', this frame's",
    "_data_url": "ipympl's Canvas: the PNG a saved widget state shows (a synced traitlet)",
}
#: Use ipympl's plain draw_idle path for every explorer made from now on (see the module doc).
PLAIN_FRAMES = os.environ.get("SOFTMAX_LAB_PLAIN_FRAMES") == "1"
# The two delays are read where they are used, so a test can change them.
#: After a whole frame, the frames sent within this many seconds are whole too (see
#: :class:`DiffFrames`): time for the browser to load it before diffs build on it.
FULL_FRAME_GUARD_S = 0.5
#: A whole frame repaints the canvas this long after the last pushed frame.
TRAILING_FRAME_DELAY_S = 1.0

_IPYMPL_BACKENDS = {"widget", "ipympl", "module://ipympl.backend_nbagg"}


def ipympl_active() -> bool:
    """True when Matplotlib's backend is ipympl (``%matplotlib widget``); never selects one."""
    import matplotlib

    try:
        name = matplotlib.get_backend(auto_select=False)
    except TypeError:  # Matplotlib < 3.10
        name = matplotlib.rcParams._get_backend_or_none()
    return (name or "").lower() in _IPYMPL_BACKENDS


def internals_missing(canvas: FigureCanvasBase) -> list[str]:
    """The names of :data:`PRIVATE_ATTRIBUTES` that ``canvas`` lacks (empty when all are there)."""
    return [name for name in PRIVATE_ATTRIBUTES if not hasattr(canvas, name)]


class Blitter:
    """Redraws a figure's animated artists over a saved background.

    The background is copied at the end of every full draw (``draw_event``), which also draws the
    animated artists, so a full draw and a blitted update give identical pixels.
    """

    def __init__(self, canvas, artists):
        self.canvas = canvas
        self.figure = canvas.figure
        self.artists = list(artists)
        for artist in self.artists:
            artist.set_animated(True)
            # Changing labels must not move the axes between a full draw and a blit.
            artist.set_in_layout(False)
        self.background = None
        self._renderer = None
        self.full_draws = 0
        self.partial_draws = 0
        self._cid = canvas.mpl_connect("draw_event", self._on_draw)

    def _on_draw(self, event):
        if self.canvas.is_saving():
            return  # savefig draws animated artists itself; its buffer is not the screen's
        self.full_draws += 1
        self.background = self.canvas.copy_from_bbox(self.figure.bbox)
        self._renderer = event.renderer
        self._draw_artists(event.renderer)

    def _draw_artists(self, renderer):
        for artist in sorted(self.artists, key=lambda a: a.get_zorder()):
            if artist.get_visible():
                artist.draw(renderer)

    def valid(self) -> bool:
        """True if the saved background still matches the canvas (same renderer, size and dpi)."""
        return self.background is not None and self.canvas.get_renderer() is self._renderer

    def update(self) -> bool:
        """Paste the background and draw the animated artists; False if a full draw is needed."""
        if not self.valid():
            return False
        self.canvas.restore_region(self.background)
        self._draw_artists(self._renderer)
        self.partial_draws += 1
        return True

    def disconnect(self) -> None:
        self.canvas.mpl_disconnect(self._cid)


class DiffFrames:
    """Chooses each ipympl frame: a whole one, or every pixel changed since the last whole one.

    ipympl's frontend replaces the picture of a frame that is still loading, so a frame may be
    dropped in a fast drag. Frames therefore never build on one another: a diff holds every pixel
    that differs from the last *whole* frame (the union of all changes since then), so drawing any
    one of them over that frame gives the exact picture, whichever frames before it were lost.
    Frames within ``guard_s`` of a whole frame are whole themselves (a diff must not replace the
    frame it builds on before the browser has drawn it).
    """

    def __init__(self, guard_s: float | None = None):
        self.guard_s = guard_s  # None: read FULL_FRAME_GUARD_S at each frame
        self.base = None  # the last whole frame, which later diffs build on
        self.changed = None  # pixels that differ, or differed, from it since
        self.base_sent_at = -math.inf

    def next_frame(
        self,
        buff: np.ndarray,
        force_full: bool,
        now: float,
        opaque: bool = True,
        whole: bool = False,
    ) -> tuple[str, np.ndarray]:
        """``("full", buff)`` or ``("diff", changed pixels, 0 elsewhere)`` for picture ``buff``.

        ``buff`` is one uint32 per pixel; a diff cannot make a pixel transparent again, so a
        picture that is not ``opaque`` is always sent whole and becomes the new base, as with
        ``force_full``. ``whole`` sends it whole but keeps the base (a repaint).
        """
        guard = FULL_FRAME_GUARD_S if self.guard_s is None else self.guard_s
        new_base = force_full or self.base is None or buff.shape != self.base.shape or not opaque
        if new_base:
            self.base = buff.copy()
            self.changed = np.zeros(buff.shape, dtype=bool)
            self.base_sent_at = now
        else:
            self.changed |= buff != self.base
        if new_base or whole or now - self.base_sent_at < guard:
            return "full", buff
        # 0 is "keep the pixel"; the figure is opaque, so no drawn pixel is 0.
        return "diff", np.where(self.changed, buff, 0)


class TrailingRepaint:
    """Calls ``callback`` once, ``TRAILING_FRAME_DELAY_S`` after the last :meth:`schedule`."""

    def __init__(self, callback: Callable[[], None]):
        self.callback = callback
        self._handle = None

    def schedule(self) -> None:
        self.cancel()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (a script or a test): no timed repaint
            return
        self._handle = loop.call_later(TRAILING_FRAME_DELAY_S, self._run)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _run(self) -> None:
        self._handle = None
        self.callback()


def make_canvas(figure: Figure, use_ipympl: bool) -> FigureCanvasAgg:
    """An Agg canvas for ``figure``, or an ``ExplorerCanvas`` with its bridge, keys unbound."""
    if not use_ipympl:
        return FigureCanvasAgg(figure)
    from ipympl.backend_nbagg import FigureManager

    from .ipympl_canvas import ExplorerCanvas

    canvas = ExplorerCanvas(figure)
    with warnings.catch_warnings():
        # ipympl 0.10's Toolbar passes the canvas on to traitlets, which warns; nothing to act on.
        warnings.filterwarnings(
            "ignore",
            category=DeprecationWarning,
            message=r"Passing unrecognized arguments to super\(Toolbar\)",
        )
        manager = FigureManager(canvas, 1)
    # Matplotlib's default key bindings ('q' closes, 'l' toggles log scale, ...) make no sense
    # here; the explorer is driven by its widgets.
    for cid in (
        manager.key_press_handler_id,
        manager.button_press_handler_id,
        manager.scroll_handler_id,
    ):
        if cid is not None:
            canvas.mpl_disconnect(cid)
    canvas.toolbar_visible = False
    canvas.header_visible = False
    canvas.footer_visible = False
    canvas.resizable = False
    bridge_class = frames.frame_bridge_class()
    if bridge_class is not None and not canvas.plain:
        canvas.bridge = bridge_class(canvas)
    return canvas


def render_now(canvas: FigureCanvasAgg, blitter: Blitter) -> None:
    """Bring any explorer canvas's buffer up to date: a blit if possible, else one full draw."""
    if hasattr(canvas, "render_now"):  # an ExplorerCanvas
        canvas.render_now()
    elif not blitter.update():
        canvas.draw()
