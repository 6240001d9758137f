"""Interactive explorers: ipywidgets controls wired to the numerics and to the plots' artists.

Four explorers, each a function returning an :class:`Explorer`::

    softmax_explorer(fn=None, n=4, logits=None)  # z -> p = softmax(z); optional student fn
    temperature_explorer(logits=None)             # p = softmax(z / T), its entropy, both limits
    cross_entropy_explorer(logits=None)           # loss -log p[y] on its curve, p - onehot(y)
    overflow_explorer()                           # naive vs stable softmax, float16/32/64

An explorer shows itself when it is the last value of a notebook cell. It has ``.figure`` (the
Matplotlib figure), ``.controls`` (its ipywidgets by name) and ``.state()`` (the numbers shown
now). Setting ``explorer.controls["z0"].value = 3`` from code updates the figure and the state
exactly as dragging the slider does.

How drawing works
-----------------
The figure and all its artists are made once. The artists that change (bars, value labels, moving
points) are *animated*: a full draw leaves them out, and the explorer keeps a copy of that
background (taken on every full draw, via ``draw_event``). On a change the explorer sets new heights
and texts on the existing artists, pastes the background back and draws only the changing artists on
top: the axes, ticks, titles and static curves are never re-rendered. Then:

* with ipympl (``%matplotlib widget``) the explorer sends the frame to the browser at once,
  from the slider's callback, instead of ipympl's two trips (``draw_idle`` tells the browser a
  frame is ready and the browser asks for it). Once the browser has installed the explorer's
  frame bridge (:mod:`lab_utils.frames`, a tiny anywidget) the frame is just the changed
  rectangles, painted straight onto ipympl's canvas; until then, or where it cannot be installed,
  ipympl's own PNG frames carry it. ipympl's frontend drops a PNG frame that is still loading when
  the next one arrives, so no PNG frame builds on the one before: a diff frame holds every pixel
  changed since the last full frame, frames just after a full frame are full, and a full frame
  repaints the canvas once the changes stop. Anything else that asks for a draw (a resize, a DPI
  change, user code) gets a full draw.
* with any other backend (Agg in tests and scripts, ``%matplotlib inline``) the partial redraw is
  done at once on the Agg canvas and the picture is shown through an ``ipywidgets.Image``.

Figures are never registered with pyplot, so re-running a cell does not pile up open figures; an
explorer created by an earlier run of the same notebook cell is closed when the cell runs again.
Where widgets cannot render (nbconvert HTML, GitHub, nbviewer, nbval) the output still holds a PNG
of the figure and a short, deterministic text summary.

Examples
--------
>>> from lab_utils.explorers import softmax_explorer
>>> explorer = softmax_explorer()
>>> explorer.controls["z0"].value = 3.0
>>> explorer.state()["probs"].round(4)
array([0.8274, 0.112 , 0.0455, 0.0152])
>>> explorer
softmax_explorer: z=[3.0, 1.0, 0.1, -1.0] -> p=[0.8274, 0.1120, 0.0455, 0.0152]
"""

from __future__ import annotations

import base64
import html
import math
import sys
import time
import warnings
import weakref
from typing import Callable, Sequence

import ipywidgets as widgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from . import frames, numerics, plots, style
from .style import ROLE, subscript

__all__ = [
    "Explorer",
    "softmax_explorer",
    "temperature_explorer",
    "cross_entropy_explorer",
    "overflow_explorer",
    "check_student_softmax",
    "MIN_CLASSES",
    "MAX_CLASSES",
    "LOGIT_LIMIT",
    "T_MIN",
    "T_MAX",
]

#: Number of classes an explorer can show (sliders and bars stay readable up to 10).
MIN_CLASSES, MAX_CLASSES = 2, 10
#: Logit sliders span at least [-LOGIT_LIMIT, LOGIT_LIMIT].
LOGIT_LIMIT = 10.0
#: Range of the temperature slider (log scale).
T_MIN, T_MAX = 0.05, 20.0
#: Range of the overflow explorer's scale slider (log scale).
SCALE_MIN, SCALE_MAX = 1.0, 1000.0
#: The overflow explorer's fixed logits; ``scale * OVERFLOW_LOGITS`` is what is fed to softmax.
OVERFLOW_LOGITS = (1.0, 0.8, 0.2, -1.0)
DTYPES = ("float16", "float32", "float64")

# Default logits, of which the first n are used.
_DEFAULT_LOGITS = (2.0, 1.0, 0.1, -1.0, 0.5, -0.5, 1.5, -2.0, 3.0, 0.0)
# Student output counts as "matching" within this tolerance (float32 implementations pass).
_MATCH_ATOL, _MATCH_RTOL = 1e-6, 1e-5
_IPYMPL_BACKENDS = {"widget", "ipympl", "module://ipympl.backend_nbagg"}


# --------------------------------------------------------------------------- argument checks


def _check_logits(logits, name: str = "logits") -> np.ndarray:
    """Validate user logits: 1-D, MIN..MAX_CLASSES entries, all finite numbers."""
    try:
        values = np.asarray(logits, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a sequence of numbers, got {logits!r}") from None
    if values.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of numbers, got shape {values.shape}")
    if not MIN_CLASSES <= values.size <= MAX_CLASSES:
        raise ValueError(
            f"{name} must have between {MIN_CLASSES} and {MAX_CLASSES} values, got {values.size}")
    if not np.all(np.isfinite(values)):
        bad = int(np.flatnonzero(~np.isfinite(values))[0])
        raise ValueError(f"{name} must be finite numbers, got {values[bad]} at index {bad}")
    return values


def _check_n(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n must be an int (the number of classes), got {n!r}")
    if not MIN_CLASSES <= n <= MAX_CLASSES:
        raise ValueError(f"n must be between {MIN_CLASSES} and {MAX_CLASSES}, got {n}")
    return int(n)


def _initial_logits(n: int | None, logits) -> np.ndarray:
    if logits is None:
        n = 4 if n is None else _check_n(n)
        return np.array(_DEFAULT_LOGITS[:n])
    values = _check_logits(logits)
    if n is not None and _check_n(n) != values.size:
        raise ValueError(f"n={n} but logits has {values.size} values; give one or make them agree")
    return values


def _slider_limit(values: np.ndarray) -> float:
    """Half-range of the logit sliders: LOGIT_LIMIT, or wider if the given logits need it."""
    return float(max(LOGIT_LIMIT, math.ceil(float(np.max(np.abs(values))))))


# --------------------------------------------------------------------------- formatting


def _short(value: float) -> str:
    """A logit or setting as typed: 2.0, 0.1, -1.0 (at most 4 decimals, no '-0.0')."""
    return repr(round(float(value), 4) + 0.0)


def _vector(values, fmt: str = "{:.4f}") -> str:
    return "[" + ", ".join(plots.format_value(float(v), fmt) for v in np.asarray(values)) + "]"


def _short_vector(values) -> str:
    return "[" + ", ".join(_short(v) for v in np.asarray(values)) + "]"


def _pre(lines: Sequence[str]) -> str:
    body = "\n".join(html.escape(line) for line in lines)
    return f'<pre style="margin:0; font-size:12px; line-height:1.35">{body}</pre>'


# --------------------------------------------------------------------------- backends and canvases


def _ipympl_active() -> bool:
    """True when Matplotlib's backend is ipympl (``%matplotlib widget``); never selects one."""
    import matplotlib

    try:
        name = matplotlib.get_backend(auto_select=False)
    except TypeError:  # Matplotlib < 3.10
        name = matplotlib.rcParams._get_backend_or_none()
    return (name or "").lower() in _IPYMPL_BACKENDS


_EXPLORER_CANVAS = None
#: After a full frame, the frames sent within this many seconds are full frames too (see
#: ``ExplorerCanvas.get_diff_image``): time for the browser to load it before diffs build on it.
FULL_FRAME_GUARD_S = 0.5
#: A full frame repaints the canvas this long after the last pushed frame (see ``_repaint``).
TRAILING_FRAME_DELAY_S = 1.0


def _explorer_canvas_class():
    """ipympl's canvas, pushing the explorer's blitted frames to the browser as they change."""
    global _EXPLORER_CANVAS
    if _EXPLORER_CANVAS is None:
        from ipympl.backend_nbagg import Canvas

        class ExplorerCanvas(Canvas):
            """An ipympl canvas that sends a frame as soon as the explorer's state changes.

            ipympl's own path is two trips: ``draw_idle`` tells the browser a frame is ready, the
            browser asks for it, then the kernel draws and sends it. ``show_update`` skips the
            first trip: it draws (a blit when it can) and sends the frame at once. Every other
            ``draw_idle`` (resize, DPI change, toolbar, user code) marks the next frame as a full
            draw, and the browser's own requests are still answered.

            ipympl's frontend replaces the picture of a frame that is still loading, so a frame
            may be dropped in a fast drag. Frames therefore never build on one another: a diff
            frame holds every pixel that differs from the last *full* frame (the union of all
            changes since then), so drawing any one of them over that full frame gives the exact
            picture, whichever frames before it were lost. Frames sent within
            ``FULL_FRAME_GUARD_S`` of that full frame are full themselves (a diff must not replace
            the full frame it builds on), and a full frame repaints the canvas once the
            changes stop (``TRAILING_FRAME_DELAY_S``), so what stays on screen is always exact.
            """

            blitter = None
            full_draw_needed = True
            errors = None  # the explorer's list of errors, for the errors of a timed repaint

            def draw_idle(self, *args, **kwargs):
                self.full_draw_needed = True
                super().draw_idle(*args, **kwargs)

            def request_blit(self):
                """Tell the browser a frame is ready; it asks for it (ipympl's two-trip path)."""
                Canvas.draw_idle(self)

            def show_update(self):
                """Draw the explorer's changed artists and send the frame to the browser now."""
                if self.syncing_data_url:
                    # No view has connected yet (ipympl stops syncing the data URL when one
                    # does): nobody to send to. The view asks for a full frame when it appears.
                    self.request_blit()
                    return
                self._send_frame(patch=True)
                self._schedule_repaint()

            def draw(self):
                self.full_draw_needed = False
                super().draw()

            def handle_draw(self, event):
                # The browser asks for a frame, and waits for one through ipympl's own path (it
                # asks for no other frame until one has come): never answer with a patch.
                self._send_frame(patch=False)
                self._schedule_repaint()

            def _send_frame(self, patch: bool):
                if not self.full_draw_needed and self.blitter is not None and self.blitter.update():
                    if not (patch and self._send_patch()):
                        self.blit(self.figure.bbox)
                else:
                    self.draw()

            # -- patches (see lab_utils.frames) ----------------------------------------------------
            bridge = None  # a FrameBridge when anywidget is installed

            def _send_patch(self) -> bool:
                """Send only the changed rectangles; False if the browser cannot take patches."""
                last = getattr(self, "_last_buff", None)
                if self.bridge is None or not self.bridge.ready or last is None:
                    return False
                pixels = np.asarray(self.get_renderer().buffer_rgba())
                buff = pixels.view(np.uint32).squeeze(2)
                if buff.shape != last.shape:
                    return False
                rects = frames.changed_rects(last, buff)
                if rects:
                    content, buffers = frames.patch_message(
                        pixels, rects, deflate=self.bridge.deflate)
                    self.send(content, buffers=buffers)
                    self._last_buff = buff.copy()  # what the browser shows now
                    # The next frame through ipympl's own path is a whole one and a new base.
                    self._force_full = True
                    self._frame_mode = "patch"
                return True

            # -- the trailing full frame ---------------------------------------------------------
            _repaint_handle = None
            _frame_mode = "full"

            def _schedule_repaint(self):
                import asyncio

                if self._repaint_handle is not None:
                    self._repaint_handle.cancel()
                    self._repaint_handle = None
                if self._frame_mode == "full":
                    return  # the last frame was a full one: nothing to make sure of
                try:
                    loop = asyncio.get_running_loop()
                except RuntimeError:  # no event loop (a script or a test): no timed repaint
                    return
                self._repaint_handle = loop.call_later(TRAILING_FRAME_DELAY_S, self._repaint)

            def _repaint(self):
                """Send the current picture as a full frame (a dropped frame can leave no trace)."""
                self._repaint_handle = None
                try:
                    if self.comm is None:  # closed meanwhile
                        return
                    self._repaint_full = True
                    self._png_is_old = True
                    self.manager.refresh_all()
                except Exception as error:  # noqa: BLE001 (a timer callback: nobody would see it)
                    if self.errors is not None:
                        self.errors.append(f"{type(error).__name__}: {error}")
                finally:
                    self._repaint_full = False

            def cancel_repaint(self):
                if self._repaint_handle is not None:
                    self._repaint_handle.cancel()
                    self._repaint_handle = None

            # -- frames --------------------------------------------------------------------------
            _repaint_full = False
            _base_buff = None  # the last full frame that later diffs build on
            _changed = None  # pixels that differ, or differed, from it since
            _base_sent_at = -math.inf

            def get_diff_image(self):
                """The next frame as PNG: full, or every pixel changed since the last full frame.

                PNG compression level 1: the frame goes over a local socket, where WebAgg's
                default level 6 costs several ms per frame for a few KB saved. Falls back to
                Matplotlib's own encoder if its internals differ from Matplotlib 3.11's.
                """
                if not all(hasattr(self, name) for name in ("_png_is_old", "_force_full",
                                                            "_last_buff", "set_image_mode")):
                    return super().get_diff_image()
                if not self._png_is_old:
                    return None
                pixels = np.asarray(self.get_renderer().buffer_rgba())
                buff = pixels.view(np.uint32).squeeze(2)
                now = time.monotonic()
                new_base = (self._force_full or self._base_buff is None
                            or buff.shape != self._base_buff.shape
                            # A diff cannot make a pixel transparent again.
                            or (pixels[:, :, 3] != 255).any())
                if new_base:
                    self._base_buff = buff.copy()
                    self._changed = np.zeros(buff.shape, dtype=bool)
                    self._base_sent_at = now
                else:
                    self._changed |= buff != self._base_buff
                if new_base or self._repaint_full or now - self._base_sent_at < FULL_FRAME_GUARD_S:
                    self.set_image_mode("full")
                    output = buff
                else:
                    self.set_image_mode("diff")
                    # 0 is "keep the pixel"; the figure is opaque, so no drawn pixel is 0.
                    output = np.where(self._changed, buff, 0)
                self._frame_mode = self._current_image_mode
                self._last_buff = buff.copy()  # ipympl's data URL is made from this
                self._force_full = False
                self._png_is_old = False
                return frames.encode_png(output.view(dtype=np.uint8).reshape((*output.shape, 4)))

        _EXPLORER_CANVAS = ExplorerCanvas
    return _EXPLORER_CANVAS


def _make_canvas(figure: Figure, use_ipympl: bool):
    if not use_ipympl:
        return FigureCanvasAgg(figure)
    from ipympl.backend_nbagg import FigureManager

    canvas = _explorer_canvas_class()(figure)
    with warnings.catch_warnings():
        # ipympl 0.10's Toolbar passes the canvas on to traitlets, which warns; nothing to act on.
        warnings.filterwarnings("ignore", category=DeprecationWarning,
                                message=r"Passing unrecognized arguments to super\(Toolbar\)")
        manager = FigureManager(canvas, 1)
    # Matplotlib's default key bindings ('q' closes, 'l' toggles log scale, ...) make no sense
    # here; the explorer is driven by its widgets.
    for cid in (manager.key_press_handler_id, manager.button_press_handler_id,
                manager.scroll_handler_id):
        if cid is not None:
            canvas.mpl_disconnect(cid)
    canvas.toolbar_visible = False
    canvas.header_visible = False
    canvas.footer_visible = False
    canvas.resizable = False
    bridge_class = frames.frame_bridge_class()
    if bridge_class is not None:
        canvas.bridge = bridge_class(canvas)
    return canvas


class _Blitter:
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

    def disconnect(self):
        self.canvas.mpl_disconnect(self._cid)


# --------------------------------------------------------------------------- re-run bookkeeping

# (cell id) -> list of (execution count, weakref to explorer); see Explorer._register.
_LIVE: dict[str, list] = {}


def _cell_context() -> tuple[str, int] | None:
    """The running notebook cell's id and execution count, or None outside a Jupyter kernel."""
    if "IPython" not in sys.modules:
        return None
    try:
        from IPython import get_ipython

        shell = get_ipython()
        kernel = getattr(shell, "kernel", None)
        if kernel is None:
            return None
        parent = kernel.get_parent() if hasattr(kernel, "get_parent") else kernel._parent_header
        cell_id = (parent or {}).get("metadata", {}).get("cellId")
        if not cell_id:
            return None
        return str(cell_id), int(shell.execution_count)
    except Exception:  # an unusual kernel: keep the explorer, skip the bookkeeping
        return None


# --------------------------------------------------------------------------- the explorer base


class Explorer:
    """An interactive figure: ipywidgets controls, a Matplotlib figure and the numbers shown.

    Do not create directly; use :func:`softmax_explorer`, :func:`temperature_explorer`,
    :func:`cross_entropy_explorer` or :func:`overflow_explorer`.

    Attributes
    ----------
    figure : matplotlib.figure.Figure
    controls : dict of str to ipywidgets.Widget
    widget : ipywidgets.VBox
        The whole explorer (figure view, controls, printed numbers, messages).
    errors : list of str
        Internal errors caught in callbacks (shown in the explorer; empty when all is well).
    """

    kind = "explorer"

    def __init__(self, controls: dict, *, n_panels: int,
                 figsize: tuple[float, float] | None = None):
        self.controls = controls
        self.errors: list[str] = []
        self._state: dict = {}
        self._closed = False
        self._ipympl = _ipympl_active()
        with style.style_context():
            self.figure = Figure(figsize=figsize or style.figure_size(n_panels),
                                 layout="constrained")
            self.canvas = _make_canvas(self.figure, self._ipympl)
            axes = self.figure.subplots(1, n_panels, squeeze=False)[0]
            self.axes = list(axes)
            animated = self._build(self.axes)
        self._blitter = _Blitter(self.canvas, animated)
        # Lay the figure out once, then freeze it: a layout re-run on a later full draw could
        # shift the axes by a pixel and leave the saved background out of step with the screen.
        self.figure.get_layout_engine().execute(self.figure)
        self.figure.set_layout_engine("none")
        if self._ipympl:
            self.canvas.blitter = self._blitter
            self.canvas.errors = self.errors
            self._view = self.canvas
        else:
            width, _ = self.canvas.get_width_height()
            self._view = widgets.Image(format="png", layout=widgets.Layout(width=f"{width}px"))
        self.readout = widgets.HTML()
        self.readout.add_class("softmax-lab-readout")
        self.message = widgets.HTML()
        self.message.add_class("softmax-lab-message")
        for name, control in self.controls.items():
            control.add_class(f"softmax-lab-control-{name}")
            control.observe(self._on_change, names="value")
        columns = 1 if len(self.controls) <= 2 else 2
        controls_box = widgets.GridBox(
            list(self.controls.values()),
            layout=widgets.Layout(grid_template_columns=f"repeat({columns}, max-content)",
                                  grid_gap="2px 16px"),
        )
        # A VBox, not AppLayout: its height follows the content, so the figure is never squeezed.
        self.widget = widgets.VBox([self._view, controls_box, self.readout, self.message])
        self.widget.add_class("softmax-lab-explorer")
        self.widget.add_class(f"softmax-lab-{self.kind.replace('_', '-')}")
        self._update()
        self._register()

    # -- to be provided by each explorer -------------------------------------------------------
    def _build(self, axes) -> list:
        """Draw the static parts and the initial artists; return the artists that change."""
        raise NotImplementedError

    def _compute(self) -> dict:
        """The numbers to show, from the controls' values (pure: no drawing)."""
        raise NotImplementedError

    def _show(self, state: dict) -> None:
        """Put ``state`` on the existing artists (set heights, data, texts)."""
        raise NotImplementedError

    def _readout_lines(self, state: dict) -> list[str]:
        raise NotImplementedError

    def _summary(self) -> str:
        raise NotImplementedError

    def _message_html(self, state: dict) -> str:
        return ""

    # -- public ---------------------------------------------------------------------------------
    def state(self) -> dict:
        """Return the numbers shown now (arrays are copies; changing them changes nothing)."""
        return {key: (value.copy() if isinstance(value, np.ndarray) else value)
                for key, value in self._state.items()}

    def png(self) -> bytes:
        """Return the figure as shown now, as PNG bytes."""
        self._render_now()
        return self._encode_png()

    def close(self) -> None:
        """Close the widgets and release the figure (the output cell then shows nothing live)."""
        if self._closed:
            return
        self._closed = True
        bridge = None
        if self._ipympl:
            self.canvas.cancel_repaint()
            bridge = self.canvas.bridge
        for control in self.controls.values():
            control.unobserve(self._on_change, names="value")
        for widget in [*self.controls.values(), self.readout, self.message, self._view,
                       self.widget, bridge]:
            if widget is not None:
                widget.close()

    def __repr__(self) -> str:
        return self._summary()

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        png = base64.b64encode(self.png()).decode("ascii")
        bundle = {"text/plain": self._summary(), "image/png": png}
        if self._ipympl:
            # What ipympl itself stores, so an embedded widget state shows the figure too.
            self.canvas._data_url = f"data:image/png;base64,{png}"
        if not self._closed:  # a closed widget has no view to show
            view = (self.widget._repr_mimebundle_() or {}).get(
                "application/vnd.jupyter.widget-view+json")
            if view is not None:
                bundle["application/vnd.jupyter.widget-view+json"] = view
        if include:
            bundle = {k: v for k, v in bundle.items() if k in include}
        if exclude:
            bundle = {k: v for k, v in bundle.items() if k not in exclude}
        return bundle

    # -- internals --------------------------------------------------------------------------------
    def _on_change(self, change) -> None:
        self._update()

    def _update(self) -> None:
        """Recompute, update the artists in place and redraw what changed.

        Callback errors are invisible in ipympl and would stop a slider from working; they are
        caught and shown in the explorer instead.
        """
        try:
            state = self._compute()
            self._state = state
            self._show(state)
            self._redraw()  # first: the picture is what the eye waits for
            self.readout.value = _pre(self._readout_lines(state))
            self.message.value = self._message_html(state)
        except Exception as error:  # noqa: BLE001 (shown to the user, see docstring)
            text = f"{type(error).__name__}: {error}"
            self.errors.append(text)
            self.message.value = (
                f'<div style="color:{ROLE["invalid"]}">The explorer hit an error: '
                f"{html.escape(text)}</div>")

    def _redraw(self) -> None:
        if self._ipympl:
            self.canvas.show_update()
            return
        self._render_now()
        self._view.value = self._encode_png()

    def _render_now(self) -> None:
        """Bring the canvas buffer up to date: a blit if possible, else one full draw."""
        if self._ipympl and self.canvas.full_draw_needed or not self._blitter.update():
            FigureCanvasAgg.draw(self.canvas)
            if self._ipympl:
                # The buffer is now complete; the browser's next request can blit from it, and
                # webagg must send it (it has not been sent yet).
                self.canvas.full_draw_needed = False
                self.canvas._png_is_old = True

    def _encode_png(self) -> bytes:
        # The figure is opaque: RGB is enough.
        return frames.encode_png(np.asarray(self.canvas.buffer_rgba())[..., :3])

    def _register(self) -> None:
        """Close explorers made by an earlier run of the same notebook cell (no pile-up)."""
        context = _cell_context()
        if context is None:
            return
        cell_id, count = context
        keep = []
        for old_count, ref in _LIVE.get(cell_id, []):
            old = ref()
            if old is None:
                continue
            if old_count != count:
                old.close()
            else:
                keep.append((old_count, ref))
        keep.append((count, weakref.ref(self)))
        _LIVE[cell_id] = keep


# --------------------------------------------------------------------------- controls


# A label as wide as its text: a fixed width cut "scale s" to "scal…" (fonts differ by system).
_LABEL_STYLE = {"description_width": "initial"}


def _logit_sliders(values: np.ndarray) -> dict:
    limit = _slider_limit(values)
    return {
        f"z{i}": widgets.FloatSlider(
            value=float(v), min=-limit, max=limit, step=0.1, description=f"z{subscript(i)}",
            continuous_update=True, readout=True, readout_format=".2f",
            layout=widgets.Layout(width="330px"), style=_LABEL_STYLE)
        for i, v in enumerate(values)
    }


def _log_slider(value, low, high, description, readout_format=".3g") -> widgets.FloatLogSlider:
    return widgets.FloatLogSlider(
        value=value, base=10, min=math.log10(low), max=math.log10(high), step=0.01,
        description=description, continuous_update=True, readout=True,
        readout_format=readout_format, layout=widgets.Layout(width="330px"),
        style=_LABEL_STYLE)


def _logits_from(controls: dict, n: int) -> np.ndarray:
    return np.array([controls[f"z{i}"].value for i in range(n)], dtype=float)


def _tick_labels(letter: str, n: int) -> list[str]:
    return [f"{letter}{subscript(i)}" for i in range(n)]


# --------------------------------------------------------------------------- student functions


def check_student_softmax(fn: Callable, logits: np.ndarray, reference: np.ndarray) -> dict:
    """Run a student's softmax on ``logits`` and say, in words, how its output compares.

    Never raises, whatever ``fn`` does (except ``KeyboardInterrupt``/``SystemExit``).

    Parameters
    ----------
    fn : callable
        The student's function, called as ``fn(logits_copy)``.
    logits : numpy.ndarray
        1-D logits.
    reference : numpy.ndarray
        ``softmax(logits)``.

    Returns
    -------
    dict
        ``values`` (1-D float array to draw, or None if nothing drawable came back), ``ok`` (bool),
        ``short`` (a few words for the figure), ``message`` (a sentence for the student),
        ``mismatch`` (bool array or None) and ``max_abs_diff`` (float or None).

    Examples
    --------
    >>> import numpy as np
    >>> z = np.array([1.0, 2.0])
    >>> check_student_softmax(lambda v: np.exp(v) / np.exp(v).sum(), z, numerics.softmax(z))["ok"]
    True
    >>> def my_softmax(v):
    ...     raise NotImplementedError
    >>> check_student_softmax(my_softmax, z, numerics.softmax(z))["short"]
    'my_softmax: not written yet'
    """
    name = getattr(fn, "__name__", type(fn).__name__)
    result = {"values": None, "ok": False, "mismatch": None, "max_abs_diff": None}

    def done(short: str, message: str, **extra):
        result.update(short=f"{name}: {short}", message=message, **extra)
        return result

    with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn"):
        warnings.simplefilter("always")
        try:
            output = fn(logits.copy())
        except NotImplementedError:
            return done("not written yet",
                        f"{name} raised NotImplementedError: it is not written yet. The reference "
                        "bars still work; finish the exercise and run this cell again.")
        except Exception as error:  # noqa: BLE001 (any student error becomes a message)
            return done(f"raised {type(error).__name__}",
                        f"{name} raised {type(error).__name__}: {str(error)[:300]} "
                        f"(for z = {_short_vector(logits)}).")
    warned = sorted({str(w.message) for w in caught})
    warned_text = f" It warned: {'; '.join(warned)}." if warned else ""
    if output is None:
        return done("returned None",
                    f"{name} returned None: is the `return` statement missing?{warned_text}")
    try:
        values = np.asarray(output)
        if values.dtype.kind not in "iuf":  # NumPy would even turn "0.25" into a number
            raise TypeError
        values = values.astype(float)
    except (TypeError, ValueError):
        return done(f"returned a {type(output).__name__}",
                    f"{name} returned a {type(output).__name__}, not an array of numbers."
                    f"{warned_text}")
    if values.shape != logits.shape:
        return done(f"wrong shape {values.shape}",
                    f"{name} returned shape {values.shape}; expected {logits.shape}, one "
                    f"probability per logit.{warned_text}")
    result["values"] = values
    if not np.all(np.isfinite(values)):
        bad = int(np.flatnonzero(~np.isfinite(values))[0])
        word = plots.format_value(values[bad])
        return done(f"{word} at index {bad}",
                    f"{name} returned {word} at index {bad}: {_vector(values)}.{warned_text}",
                    mismatch=~np.isfinite(values))
    difference = np.abs(values - reference)
    mismatch = difference > _MATCH_ATOL + _MATCH_RTOL * np.abs(reference)
    result.update(mismatch=mismatch, max_abs_diff=float(difference.max()))
    if np.any(values < 0):
        bad = int(np.flatnonzero(values < 0)[0])
        return done("negative value",
                    f"{name} returned a negative value {values[bad]:.4g} at index {bad}; "
                    f"probabilities are never negative.{warned_text}")
    total = float(values.sum())
    if abs(total - 1.0) > 1e-6:
        return done(f"sums to {total:.4f}",
                    f"{name}'s values sum to {total:.6g}, not 1: divide by the sum of the "
                    f"exponentials.{warned_text}")
    if np.any(mismatch):
        where = ", ".join(f"p{subscript(i)}" for i in np.flatnonzero(mismatch))
        return done(f"differs at {where}",
                    f"{name} differs from the reference at {where} (largest difference "
                    f"{difference.max():.3g}).{warned_text}")
    result["ok"] = True
    return done("matches", f"{name} matches the reference softmax here (largest difference "
                           f"{difference.max():.1e}).{warned_text}")


# --------------------------------------------------------------------------- softmax explorer


class SoftmaxExplorer(Explorer):
    """Logit sliders, bars of z and of p = softmax(z); optionally a student's function beside it."""

    kind = "softmax_explorer"

    def __init__(self, fn: Callable | None, n: int | None, logits):
        if fn is not None and not callable(fn):
            raise TypeError(f"fn must be a function such as my_softmax, or None; got {fn!r}")
        values = _initial_logits(n, logits)
        self.fn = fn
        self.fn_name = None if fn is None else getattr(fn, "__name__", type(fn).__name__)
        self.n = values.size
        self._limit = _slider_limit(values)
        super().__init__(_logit_sliders(values), n_panels=2)

    def _build(self, axes) -> list:
        ax_z, ax_p = axes
        n, limit = self.n, self._limit
        x = np.arange(n, dtype=float)
        ax_z.set_title("logits z")
        ax_z.axhline(0.0, color="#555555", linewidth=0.8)
        self._z_bars = plots.bar_chart(ax_z, np.zeros(n), labels=_tick_labels("z", n),
                                       color=ROLE["logits"], ylim=(-1.1 * limit, 1.1 * limit),
                                       fmt="{:.2f}")
        ax_p.set_title("probabilities p = softmax(z)")
        animated = self._z_bars.artists()
        if self.fn is None:
            self._p_bars = plots.bar_chart(ax_p, np.zeros(n), color=ROLE["reference"],
                                           ylim=(0.0, 1.12))
            ax_p.set_xticks(x, _tick_labels("p", n))
            return animated + self._p_bars.artists()
        width = 0.4
        ylim = (0.0, 1.5)
        self._p_bars = plots.bar_chart(ax_p, np.zeros(n), color=ROLE["reference"], ylim=ylim,
                                       positions=x - width / 2, width=width, label="softmax",
                                       fontsize=7.0, rotation=90)
        self._s_bars = plots.bar_chart(ax_p, np.zeros(n), color=ROLE["student"], ylim=ylim,
                                       positions=x + width / 2, width=width,
                                       label=f"{self.fn_name} (yours)",
                                       fontsize=7.0, rotation=90)
        ax_p.set_xticks(x, _tick_labels("p", n))
        ax_p.legend(loc="upper left", ncols=2, fontsize=8, handlelength=1.2)
        self._status = plots.status_text(ax_p, "", y=0.86, fontsize=8.5)
        return animated + self._p_bars.artists() + self._s_bars.artists() + [self._status]

    def _compute(self) -> dict:
        logits = _logits_from(self.controls, self.n)
        state = {"logits": logits, "probs": numerics.softmax(logits)}
        if self.fn is not None:
            check = check_student_softmax(self.fn, logits, state["probs"])
            state.update(student_probs=check["values"], student_ok=check["ok"],
                         student_message=check["message"], student_short=check["short"],
                         student_mismatch=check["mismatch"], max_abs_diff=check["max_abs_diff"])
        return state

    def _show(self, state: dict) -> None:
        plots.update_bars(self._z_bars, state["logits"])
        plots.update_bars(self._p_bars, state["probs"])
        if self.fn is None:
            return
        values = state["student_probs"]
        visible = values is not None
        for artist in self._s_bars.artists():
            artist.set_visible(visible)
        if visible:
            plots.update_bars(self._s_bars, values)
            plots.mark_bars(self._s_bars, state["student_mismatch"])
        self._status.set_text(state["student_short"])
        self._status.set_color(ROLE["text"] if state["student_ok"] else ROLE["invalid"])

    def _readout_lines(self, state: dict) -> list[str]:
        probs = state["probs"]
        lines = [f"z = {_vector(state['logits'])}",
                 f"p = {_vector(probs)}   sum(p) = {probs.sum():.4f}"]
        if self.fn is not None:
            values = state["student_probs"]
            shown = _vector(values) if values is not None else "(nothing to show)"
            lines.append(f"{self.fn_name}(z) = {shown}")
        return lines

    def _message_html(self, state: dict) -> str:
        if self.fn is None:
            return ""
        color = ROLE["text"] if state["student_ok"] else ROLE["invalid"]
        return f'<div style="color:{color}">{html.escape(state["student_message"])}</div>'

    def _summary(self) -> str:
        s = self._state
        text = f"{self.kind}: z={_short_vector(s['logits'])} -> p={_vector(s['probs'])}"
        if self.fn is not None:
            text += f" | {s['student_short']}"
        return text


def softmax_explorer(fn: Callable | None = None, n: int | None = None,
                     logits: Sequence[float] | None = None) -> SoftmaxExplorer:
    """Sliders for logits z₀…z₍ₙ₋₁₎ and bars of z and of p = softmax(z), updated as you drag.

    Parameters
    ----------
    fn : callable, optional
        A student's softmax (like ``my_softmax``). Its output is drawn beside the reference and
        differing bars are hatched; if it raises, returns NaN, the wrong shape or values that do not
        sum to 1, the explorer says so in words and keeps working.
    n : int, optional
        Number of classes, 2 to 10 (default 4, or ``len(logits)``).
    logits : sequence of float, optional
        Starting logits (2 to 10 finite numbers); default ``[2.0, 1.0, 0.1, -1.0]`` for n = 4. The
        sliders span at least -10..10, wider if a starting logit needs it.

    Returns
    -------
    Explorer
        ``.controls`` has ``z0`` … ``z{n-1}``; ``.state()`` has ``logits`` and ``probs`` (and with
        ``fn``: ``student_probs``, ``student_ok``, ``student_message``, ``max_abs_diff``, ...).

    Raises
    ------
    TypeError
        If ``fn`` is not callable, ``n`` not an int or ``logits`` not numbers.
    ValueError
        If ``n`` is outside 2..10, ``logits`` has the wrong length or a non-finite value.

    Examples
    --------
    >>> softmax_explorer(logits=[1.0, 1.0]).state()["probs"]
    array([0.5, 0.5])
    """
    return SoftmaxExplorer(fn, n, logits)


# --------------------------------------------------------------------------- temperature explorer


class TemperatureExplorer(Explorer):
    """p = softmax(z / T) with its T -> 0 and T -> infinity limits, and the entropy H(T)."""

    kind = "temperature_explorer"
    _GRID = np.geomspace(T_MIN, T_MAX, 161)

    def __init__(self, logits):
        values = _initial_logits(None, logits)
        self.n = values.size
        controls = _logit_sliders(values)
        controls["T"] = _log_slider(1.0, T_MIN, T_MAX, "T")
        self._curve_key = None
        super().__init__(controls, n_panels=2)

    def _build(self, axes) -> list:
        ax_p, ax_h = axes
        n = self.n
        x = np.arange(n, dtype=float)
        ax_p.set_title("p = softmax(z / T)")
        self._p_bars = plots.bar_chart(ax_p, np.zeros(n), color=ROLE["probs"], ylim=(0.0, 1.3),
                                       label="p at T")
        ax_p.set_xticks(x, _tick_labels("p", n))
        self._limit_zero = plots.outline_bars(ax_p, np.zeros(n), label="T → 0 (argmax)")
        uniform = plots.hline(ax_p, 1.0 / n, label="T → ∞ (uniform)")
        ax_p.legend(handles=[self._p_bars.bars[0], self._limit_zero[0], uniform],
                    labels=["p at T", "T → 0 (argmax)", "T → ∞ (uniform)"], loc="upper left",
                    ncols=3, fontsize=7.5, handlelength=1.2, columnspacing=0.8)
        max_entropy = math.log(n)
        ax_h.set_title("entropy H(p)")
        ax_h.set_xscale("log")
        ax_h.set_xlim(T_MIN, T_MAX)
        ax_h.set_ylim(0.0, 1.3 * max_entropy)
        ax_h.set_xlabel("temperature T (log scale)")
        ax_h.set_ylabel("H (nats)")
        plots.hline(ax_h, max_entropy, label=f"max = log {n} = {max_entropy:.4f}")
        ax_h.legend(loc="upper left", fontsize=8)
        self._curve = plots.curve(ax_h, self._GRID, np.zeros_like(self._GRID),
                                  color=ROLE["entropy"])
        self._point = plots.point(ax_h, 1.0, 0.0, color=ROLE["entropy"])
        self._h_text = plots.status_text(ax_h, "", y=0.84, fontsize=9)
        return (self._p_bars.artists() + self._limit_zero
                + [self._curve, self._point, self._h_text])

    def _compute(self) -> dict:
        logits = _logits_from(self.controls, self.n)
        temperature = float(self.controls["T"].value)
        probs = numerics.softmax(logits, temperature=temperature)
        is_max = logits == logits.max()
        return {
            "logits": logits,
            "T": temperature,
            "probs": probs,
            "entropy": float(numerics.entropy(probs)),
            "max_entropy": math.log(self.n),
            # The limits: all mass on the largest logit(s); every class equally likely.
            "limit_T0": is_max / is_max.sum(),
            "limit_Tinf": np.full(self.n, 1.0 / self.n),
        }

    def _show(self, state: dict) -> None:
        plots.update_bars(self._p_bars, state["probs"])
        plots.update_outline(self._limit_zero, state["limit_T0"])
        key = tuple(state["logits"])
        if key != self._curve_key:  # the curve depends on the logits only, not on T
            batch = numerics.softmax(np.broadcast_to(state["logits"], (self._GRID.size, self.n))
                                     / self._GRID[:, None])
            self._curve.set_ydata(numerics.entropy(batch))
            self._curve_key = key
        self._point.set_data([state["T"]], [state["entropy"]])
        self._h_text.set_text(f"T = {state['T']:.3g}   H = {state['entropy']:.4f} nats")

    def _readout_lines(self, state: dict) -> list[str]:
        return [f"z = {_vector(state['logits'])}   T = {state['T']:.4g}",
                f"p = {_vector(state['probs'])}",
                f"H = {state['entropy']:.4f} nats   "
                f"(max log {self.n} = {state['max_entropy']:.4f})",
                f"T -> 0: {_vector(state['limit_T0'])}   T -> inf: {_vector(state['limit_Tinf'])}"]

    def _summary(self) -> str:
        s = self._state
        return (f"{self.kind}: z={_short_vector(s['logits'])}, T={_short(s['T'])} -> "
                f"p={_vector(s['probs'])}, H={s['entropy']:.4f} nats")


def temperature_explorer(logits: Sequence[float] | None = None) -> TemperatureExplorer:
    """Explore p = softmax(z / T): a temperature slider T (log scale, 0.05 to 20) and logit sliders.

    Shows the distribution at T with its two limits (T → 0: all mass on the largest logit, drawn as
    dashed bars; T → ∞: uniform, a dashed line), and its entropy H as a point on the curve H(T),
    below the maximum log n.

    Parameters
    ----------
    logits : sequence of float, optional
        Starting logits (2 to 10 finite numbers); default ``[2.0, 1.0, 0.1, -1.0]``.

    Returns
    -------
    Explorer
        ``.controls`` has ``z0`` … and ``T``; ``.state()`` has ``logits``, ``T``, ``probs``,
        ``entropy`` (nats), ``max_entropy``, ``limit_T0`` and ``limit_Tinf``.

    Raises
    ------
    TypeError, ValueError
        If ``logits`` is not 2 to 10 finite numbers.

    Examples
    --------
    >>> explorer = temperature_explorer([1.0, 0.0])
    >>> explorer.controls["T"].value = 10.0
    >>> round(explorer.state()["entropy"], 4)
    0.6919
    """
    return TemperatureExplorer(logits)


# --------------------------------------------------------------------------- cross-entropy explorer


class CrossEntropyExplorer(Explorer):
    """Probabilities with the target class marked, the loss -log p[y] on its curve, the gradient."""

    kind = "cross_entropy_explorer"
    _LOSS_TOP = 8.0

    def __init__(self, logits):
        values = _initial_logits(None, logits)
        self.n = values.size
        controls = _logit_sliders(values)
        controls["target"] = widgets.Dropdown(
            options=[(f"{i}", i) for i in range(self.n)], value=0, description="target y",
            layout=widgets.Layout(width="200px"), style=_LABEL_STYLE)
        super().__init__(controls, n_panels=3, figsize=(9.6, style.FIGURE_HEIGHT))

    def _build(self, axes) -> list:
        ax_p, ax_l, ax_g = axes
        n = self.n
        x = np.arange(n, dtype=float)
        ax_p.set_title("p = softmax(z)")
        self._p_bars = plots.bar_chart(ax_p, np.zeros(n), color=ROLE["probs"], ylim=(0.0, 1.15))
        ax_p.set_xticks(x, _tick_labels("p", n))
        ax_l.set_title("loss L = −log p_y")
        p_grid = np.linspace(np.exp(-self._LOSS_TOP), 1.0, 400)
        plots.curve(ax_l, p_grid, -np.log(p_grid), color=ROLE["limit"], linewidth=1.5)
        ax_l.set_xlim(0.0, 1.02)
        ax_l.set_ylim(0.0, self._LOSS_TOP)
        ax_l.set_xlabel("p_y, probability of the target")
        self._guide = plots.curve(ax_l, [0.0, 0.0], [0.0, 0.0], color=ROLE["loss"], linewidth=1.0,
                                  linestyle=":")
        self._point = plots.point(ax_l, 0.5, 0.0, color=ROLE["loss"])
        self._l_text = plots.status_text(ax_l, "", x=0.35, y=0.94, fontsize=9)
        ax_g.set_title("gradient ∂L/∂z = p − onehot(y)")
        ax_g.axhline(0.0, color="#555555", linewidth=0.8)
        self._g_bars = plots.bar_chart(ax_g, np.zeros(n), color=ROLE["gradient"],
                                       ylim=(-1.15, 1.15), fmt="{:.3f}")
        ax_g.set_xticks(x, _tick_labels("z", n))
        return (self._p_bars.artists() + [self._guide, self._point, self._l_text]
                + self._g_bars.artists())

    def _compute(self) -> dict:
        logits = _logits_from(self.controls, self.n)
        target = int(self.controls["target"].value)
        return {
            "logits": logits,
            "target": target,
            "probs": numerics.softmax(logits),
            "loss": float(numerics.cross_entropy(target, logits)),
            "grad": numerics.cross_entropy_grad(target, logits),
        }

    def _show(self, state: dict) -> None:
        target = state["target"]
        colors = [ROLE["target"] if i == target else ROLE["probs"] for i in range(self.n)]
        edges = [ROLE["text"] if i == target else color for i, color in enumerate(colors)]
        self._p_bars.colors, self._p_bars.edgecolors = colors, edges
        plots.update_bars(self._p_bars, state["probs"])
        for i, bar in enumerate(self._p_bars.bars):
            bar.set_linewidth(2.0 if i == target else 1.0)
        p_target, loss = float(state["probs"][target]), state["loss"]
        # A loss above the axes is pinned to the top edge and drawn as an arrow head.
        clipped = loss > 0.97 * self._LOSS_TOP
        y = min(loss, 0.97 * self._LOSS_TOP)
        self._point.set_data([p_target], [y])
        self._point.set_marker("^" if clipped else "o")
        self._guide.set_data([p_target, p_target], [0.0, y])
        self._l_text.set_text(f"L = −log {p_target:.4f} = {loss:.4f}")
        plots.update_bars(self._g_bars, state["grad"])

    def _readout_lines(self, state: dict) -> list[str]:
        return [f"z = {_vector(state['logits'])}   y = {state['target']}",
                f"p = {_vector(state['probs'])}",
                f"loss = -log p[{state['target']}] = {state['loss']:.4f}",
                f"grad = p - onehot(y) = {_vector(state['grad'])}"]

    def _summary(self) -> str:
        s = self._state
        return (f"{self.kind}: z={_short_vector(s['logits'])}, y={s['target']} -> "
                f"p={_vector(s['probs'])}, loss={s['loss']:.4f}, grad={_vector(s['grad'])}")


def cross_entropy_explorer(logits: Sequence[float] | None = None) -> CrossEntropyExplorer:
    """Explore the cross-entropy loss of one example: logit sliders and a target class y.

    Shows p = softmax(z) with the target's bar marked, the loss L = -log p_y as a point on the
    curve -log p, and the gradient dL/dz = p - onehot(y) as bars.

    Parameters
    ----------
    logits : sequence of float, optional
        Starting logits (2 to 10 finite numbers); default ``[2.0, 1.0, 0.1, -1.0]``.

    Returns
    -------
    Explorer
        ``.controls`` has ``z0`` … and ``target``; ``.state()`` has ``logits``, ``target``,
        ``probs``, ``loss`` and ``grad``.

    Raises
    ------
    TypeError, ValueError
        If ``logits`` is not 2 to 10 finite numbers.

    Examples
    --------
    >>> explorer = cross_entropy_explorer([0.0, 0.0])
    >>> round(explorer.state()["loss"], 4), explorer.state()["grad"]
    (0.6931, array([-0.5,  0.5]))
    """
    return CrossEntropyExplorer(logits)


# --------------------------------------------------------------------------- overflow explorer


class OverflowExplorer(Explorer):
    """The naive and the stable softmax of ``scale * OVERFLOW_LOGITS`` in float16/32/64."""

    kind = "overflow_explorer"

    def __init__(self):
        self.base = np.array(OVERFLOW_LOGITS)
        self.n = self.base.size
        controls = {
            "scale": _log_slider(10.0, SCALE_MIN, SCALE_MAX, "scale s", readout_format=".4g"),
            "dtype": widgets.ToggleButtons(options=list(DTYPES), value="float32",
                                           description="dtype",
                                           style={**_LABEL_STYLE, "button_width": "72px"}),
        }
        super().__init__(controls, n_panels=2)

    def _build(self, axes) -> list:
        ax_n, ax_s = axes
        n = self.n
        x = np.arange(n, dtype=float)
        ax_n.set_title("naive: exp(z) / Σ exp(z)")
        self._n_bars = plots.bar_chart(ax_n, np.zeros(n), color=ROLE["naive"], ylim=(0.0, 1.2))
        ax_n.set_xticks(x, _tick_labels("p", n))
        self._n_text = plots.status_text(ax_n, "", fontsize=8.5)
        ax_s.set_title("stable: subtract max z first")
        self._s_bars = plots.bar_chart(ax_s, np.zeros(n), color=ROLE["stable"], ylim=(0.0, 1.2))
        ax_s.set_xticks(x, _tick_labels("p", n))
        self._s_text = plots.status_text(ax_s, "", fontsize=8.5)
        return self._n_bars.artists() + self._s_bars.artists() + [self._n_text, self._s_text]

    def _compute(self) -> dict:
        scale = float(self.controls["scale"].value)
        dtype = np.dtype(self.controls["dtype"].value)
        logits = (scale * self.base).astype(dtype)
        # The overflow is the point of this explorer: show it, never warn about it.
        with np.errstate(over="ignore", invalid="ignore"):
            naive = numerics.naive_softmax(logits)
            exps = np.exp(logits)
        return {
            "scale": scale,
            "dtype": dtype.name,
            "logits": logits,
            "naive": naive,
            "stable": numerics.softmax(logits),
            "exp_overflowed": bool(np.any(np.isinf(exps))),
            # exp(z) is the largest finite number of the dtype at z = log(max): past it, inf.
            "overflow_threshold": float(np.log(np.finfo(dtype).max.astype(np.float64))),
        }

    def _show(self, state: dict) -> None:
        plots.update_bars(self._n_bars, state["naive"])
        plots.update_bars(self._s_bars, state["stable"])
        if state["exp_overflowed"]:
            self._n_text.set_text(f"exp(z) = inf in {state['dtype']}: "
                                  f"z > {state['overflow_threshold']:.2f}")
            self._n_text.set_color(ROLE["invalid"])
        else:
            self._n_text.set_text(f"max z = {float(state['logits'].max()):.4g} "
                                  f"≤ {state['overflow_threshold']:.2f}: fine")
            self._n_text.set_color(ROLE["text"])
        self._s_text.set_text(f"exp(z − {float(state['logits'].max()):.4g}) ≤ 1: never overflows")

    def _readout_lines(self, state: dict) -> list[str]:
        return [f"dtype = {state['dtype']}   scale s = {state['scale']:.4g}   "
                f"exp overflows past z = {state['overflow_threshold']:.4f}",
                f"z = s * {_short_vector(self.base)} = {_vector(state['logits'])}",
                f"naive  = {_vector(state['naive'])}",
                f"stable = {_vector(state['stable'])}"]

    def _summary(self) -> str:
        s = self._state
        return (f"{self.kind}: {s['dtype']}, s={_short(s['scale'])} -> "
                f"naive={_vector(s['naive'])}, stable={_vector(s['stable'])}")


def overflow_explorer() -> OverflowExplorer:
    """Watch the textbook softmax overflow: a scale s multiplies fixed logits, in float16/32/64.

    The naive formula exp(z) / Σ exp(z) and the stable one (subtract max z first) are shown side
    by side; a NaN or inf is drawn as a hatched bar labelled ``NaN``. NumPy's overflow warnings are
    silenced inside the explorer on purpose: the broken numbers are the lesson.

    Returns
    -------
    Explorer
        ``.controls`` has ``scale`` and ``dtype``; ``.state()`` has ``scale``, ``dtype``,
        ``logits``, ``naive``, ``stable``, ``exp_overflowed`` and ``overflow_threshold``.

    Examples
    --------
    >>> explorer = overflow_explorer()
    >>> explorer.controls["dtype"].value = "float16"
    >>> explorer.controls["scale"].value = 20.0
    >>> explorer.state()["naive"]
    array([nan, nan,  0.,  0.], dtype=float16)
    >>> explorer.state()["stable"].tolist()[:2]
    [0.98193359375, 0.0179901123046875]
    """
    return OverflowExplorer()


# --------------------------------------------------------------------------- training explorer


class TrainingExplorer(Explorer):
    """One digit, its logits x W and its softmax, at a chosen epoch of a softmax regression's training."""

    kind = "training_explorer"

    def __init__(self, weights, X, images, labels):
        self.weights = _check_weights(weights)
        d, c = self.weights.shape[1:]
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != d or len(X) == 0:
            raise ValueError(f"X must have shape (n, {d}) to match weights of shape (D, C) = ({d}, {c}), "
                             f"got shape {X.shape}")
        images = np.asarray(images, dtype=np.float64)
        labels = np.asarray(labels)
        if images.ndim != 3 or len(images) != len(X):
            raise ValueError(f"images must have shape ({len(X)}, height, width), one per row of X, "
                             f"got shape {images.shape}")
        if labels.shape != (len(X),) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"labels must be {len(X)} integer class ids, got shape {labels.shape}")
        self.X, self.images, self.labels, self.n = X, images, labels.astype(int), c
        # One y range for every epoch and image: the bars move, the axes stay still.
        logits = np.einsum("nd,edc->enc", X, self.weights)
        self._limit = max(1.0, float(np.abs(logits).max()) * 1.1)
        controls = {
            "epoch": widgets.IntSlider(value=0, min=0, max=len(self.weights) - 1, step=1,
                                       description="epoch", continuous_update=True,
                                       layout=widgets.Layout(width="330px"), style=_LABEL_STYLE),
            "image": widgets.IntSlider(value=0, min=0, max=len(X) - 1, step=1,
                                       description="test image", continuous_update=True,
                                       layout=widgets.Layout(width="330px"), style=_LABEL_STYLE),
        }
        super().__init__(controls, n_panels=3, figsize=(10.5, style.FIGURE_HEIGHT))

    def _build(self, axes) -> list:
        ax_i, ax_z, ax_p = axes
        n = self.n
        ticks = [str(k) for k in range(n)]
        self._image = ax_i.imshow(self.images[0], cmap="gray_r", vmin=0.0,
                                  vmax=max(1.0, float(self.images.max())))
        ax_i.set(xticks=[], yticks=[])
        ax_i.grid(False)
        # A static title: text outside the axes would need a full redraw to change.
        ax_i.set_title("the digit x")
        ax_z.set_title("logits z = x W")
        ax_z.axhline(0.0, color="#555555", linewidth=0.8)
        self._z_bars = plots.bar_chart(ax_z, np.zeros(n), labels=ticks, color=ROLE["logits"],
                                       ylim=(-self._limit, self._limit), fmt="{:.1f}")
        ax_p.set_title("p = softmax(z)")
        self._p_bars = plots.bar_chart(ax_p, np.zeros(n), labels=ticks, color=ROLE["probs"],
                                       ylim=(0.0, 1.25), fmt="{:.2f}")
        self._status = plots.status_text(ax_p, "", y=0.94, fontsize=8.5)
        return [self._image, *self._z_bars.artists(), *self._p_bars.artists(), self._status]

    def _compute(self) -> dict:
        epoch, index = int(self.controls["epoch"].value), int(self.controls["image"].value)
        logits = self.X[index] @ self.weights[epoch]
        probs = numerics.softmax(logits)
        label = int(self.labels[index])
        return {"epoch": epoch, "image": index, "label": label, "logits": logits, "probs": probs,
                "predicted": int(np.argmax(logits)),
                "loss": float(numerics.cross_entropy(label, logits))}

    def _show(self, state: dict) -> None:
        self._image.set_data(self.images[state["image"]])
        colors = [ROLE["target"] if k == state["label"] else ROLE["probs"] for k in range(self.n)]
        plots.set_bar_colors(self._p_bars, colors)
        plots.update_bars(self._z_bars, state["logits"])
        plots.update_bars(self._p_bars, state["probs"])
        verdict = "right" if state["predicted"] == state["label"] else "wrong"
        self._status.set_text(f"epoch {state['epoch']}, label {state['label']}: predicts "
                              f"{state['predicted']} ({verdict})")
        self._status.set_color(ROLE["text"] if verdict == "right" else ROLE["invalid"])

    def _readout_lines(self, state: dict) -> list[str]:
        return [f"epoch = {state['epoch']}   test image {state['image']}   label y = {state['label']}",
                f"z = {_vector(state['logits'], '{:.2f}')}",
                f"p = {_vector(state['probs'])}",
                f"predicted = {state['predicted']}   loss = -log p[{state['label']}] = {state['loss']:.4f}"]

    def _summary(self) -> str:
        s = self._state
        return (f"{self.kind}: epoch {s['epoch']}, image {s['image']} (label {s['label']}) -> "
                f"predicted {s['predicted']}, p[{s['label']}]={s['probs'][s['label']]:.4f}")


def _check_weights(weights) -> np.ndarray:
    try:
        stacked = np.asarray([np.asarray(w, dtype=np.float64) for w in weights])
    except (TypeError, ValueError) as error:
        raise ValueError(f"weights must be a sequence of (D, C) arrays of one shape: {error}") from None
    if stacked.ndim != 3 or len(stacked) == 0 or not 2 <= stacked.shape[2] <= 10:
        raise ValueError("weights must be a non-empty sequence of (D, C) arrays with 2 to 10 classes, "
                         f"got shape {stacked.shape}")
    if not np.all(np.isfinite(stacked)):
        raise ValueError("weights must be finite (a diverged training has inf or NaN)")
    return stacked


def training_explorer(weights, X, images, labels) -> TrainingExplorer:
    """Step through a softmax regression's training: one digit, its logits and its softmax per epoch.

    Parameters
    ----------
    weights : sequence of arrays of shape (D, C)
        The weights at the start and after each epoch (``lab_utils.regression.train_softmax(...,
        keep_weights=True)`` returns them).
    X : array of shape (n, D)
        The examples' features, one row per image (bias column included if the weights have one).
    images : array of shape (n, height, width)
        The same examples as pictures.
    labels : array of n integers
        Their classes.

    Returns
    -------
    Explorer
        ``.controls`` has ``epoch`` and ``image``; ``.state()`` has ``epoch``, ``image``, ``label``,
        ``logits``, ``probs``, ``predicted`` and ``loss``.

    Raises
    ------
    ValueError
        If the shapes do not fit together or a weight is not finite.

    Examples
    --------
    >>> W0, W1 = np.zeros((2, 2)), np.array([[1.0, -1.0], [0.0, 0.0]])
    >>> explorer = training_explorer([W0, W1], np.eye(2), np.zeros((2, 1, 1)), np.array([0, 1]))
    >>> explorer.state()["probs"]
    array([0.5, 0.5])
    >>> explorer.controls["epoch"].value = 1
    >>> explorer.state()["predicted"], round(explorer.state()["loss"], 4)
    (0, 0.1269)
    """
    return TrainingExplorer(weights, X, images, labels)
