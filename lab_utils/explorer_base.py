"""What every explorer shares: its layout, its redraw, its errors, its text and picture fallbacks.

:class:`Explorer` is the base of the five explorers of :mod:`lab_utils.explorers`: it lays out the
figure view, the controls, the readout and the messages; runs a subclass's ``_update`` on every
control change, catching and showing any error so that a slider never kills the explorer; hands
the changed artists to :mod:`lab_utils.canvas` to redraw; closes the explorer that an earlier run
of the same cell made (:mod:`lab_utils.cells`); and gives Jupyter a display with static fallbacks
(HTML readout, PNG, text) for front ends without widgets. The helpers below it make the controls
every explorer uses (logit sliders, log-scale sliders) with accessible names from the maths.

Examples
--------
>>> _spoken("z₁₀")         # a control's accessible name from its label
'z_10'
>>> initial_logits(3, None)
array([2. , 1. , 0.1])
"""

from __future__ import annotations

import base64
import html
import math
import re
from typing import Sequence

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from . import canvas as explorer_canvas
from . import cells, frames, style, validation
from .style import ROLE, subscript

#: Number of classes an explorer can show (sliders and bars stay readable up to 10).
MIN_CLASSES, MAX_CLASSES = 2, 10
#: Logit sliders span at least [-LOGIT_LIMIT, LOGIT_LIMIT].
LOGIT_LIMIT = 10.0

# Default logits, of which the first n are used.
_DEFAULT_LOGITS = (2.0, 1.0, 0.1, -1.0, 0.5, -0.5, 1.5, -2.0, 3.0, 0.0)


# --------------------------------------------------------------------------- argument checks


def _check_logits(logits, name: str = "logits") -> np.ndarray:
    """Validate user logits: 1-D, MIN..MAX_CLASSES entries, all finite numbers."""
    values = validation.as_float_array(logits, name).astype(float)
    if values.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of numbers, got shape {values.shape}")
    if not MIN_CLASSES <= values.size <= MAX_CLASSES:
        raise ValueError(
            f"{name} must have between {MIN_CLASSES} and {MAX_CLASSES} values, got {values.size}"
        )
    # A slider cannot stand at -inf: here logits must be finite.
    validation.check_finite(values, name)
    return values


def _check_n(n) -> int:
    return validation.as_int(
        n, "n (the number of classes)", minimum=MIN_CLASSES, maximum=MAX_CLASSES
    )


def initial_logits(n: int | None, logits) -> np.ndarray:
    if logits is None:
        n = 4 if n is None else _check_n(n)
        return np.array(_DEFAULT_LOGITS[:n])
    values = _check_logits(logits)
    if n is not None and _check_n(n) != values.size:
        raise ValueError(f"n={n} but logits has {values.size} values; give one or make them agree")
    return values


def slider_limit(values: np.ndarray) -> float:
    """Half-range of the logit sliders: LOGIT_LIMIT, or wider if the given logits need it."""
    return float(max(LOGIT_LIMIT, math.ceil(float(np.max(np.abs(values))))))


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
    canvas : matplotlib canvas
        An :class:`lab_utils.canvas.ExplorerCanvas` with ipympl, else an Agg canvas.
    view : ipywidgets.DOMWidget
        What shows the figure: the ipympl canvas, or an ``ipywidgets.Image`` of its PNG.
    blitter : lab_utils.canvas.Blitter
        Redraws the changing artists; counts full and partial draws.
    artists : dict
        The changing artists by name (bar charts as :class:`lab_utils.plots.BarArtists`).
    """

    kind = "explorer"
    #: Names of the attributes (without the leading ``_``) that :attr:`artists` shows.
    _ARTISTS: tuple[str, ...] = ()

    # Budget: 53 lines; the layout of every explorer (figure view, controls, readout, messages,
    # accessible names, the cell's bookkeeping) built once, in the order it appears on the page.
    def __init__(
        self, controls: dict, *, n_panels: int, figsize: tuple[float, float] | None = None
    ):
        self.controls = controls
        self.errors: list[str] = []
        self._state: dict = {}
        self._closed = False
        self._ipympl = explorer_canvas.ipympl_active()
        with style.style_context():
            self.figure = Figure(
                figsize=figsize or style.figure_size(n_panels), layout="constrained"
            )
            self.canvas = explorer_canvas.make_canvas(self.figure, self._ipympl)
            axes = self.figure.subplots(1, n_panels, squeeze=False)[0]
            self.axes = list(axes)
            animated = self._build(self.axes)
        self._blitter = explorer_canvas.Blitter(self.canvas, animated)
        # Lay the figure out once, then freeze it: a layout re-run on a later full draw could
        # shift the axes by a pixel and leave the saved background out of step with the screen.
        self.figure.get_layout_engine().execute(self.figure)
        self.figure.set_layout_engine("none")
        self._still = None
        if self._ipympl:
            self.canvas.blitter = self._blitter
            self.canvas.errors = self.errors
            self._view = self.canvas
            # Until a browser's ipympl says it has this canvas, the figure is shown as a picture
            # in a core widget, kept up to date: a page without ipympl's extension (where a box
            # holding the canvas fails as a whole) still shows the figure and its numbers.
            self._still = widgets.HTML()
            self._still.add_class("softmax-lab-still")
            self.canvas.on_frontend = self._show_live_canvas
        else:
            width, _ = self.canvas.get_width_height()
            self._view = widgets.Image(format="png", layout=widgets.Layout(width=f"{width}px"))
        self.readout = widgets.HTML()
        self.readout.add_class("softmax-lab-readout")
        self.message = widgets.HTML()
        self.message.add_class("softmax-lab-message")
        for name, control in self.controls.items():
            control.add_class(f"softmax-lab-control-{name}")
            if control.tooltip is None:
                # The accessible name, as the maths writes it (z_0, T, target y): the frame
                # bridge gives it to the focusable part of the control.
                control.tooltip = _spoken(control.description)
            control.observe(self._on_change, names="value")
        columns = 1 if len(self.controls) <= 2 else 2
        controls_box = widgets.GridBox(
            list(self.controls.values()),
            layout=widgets.Layout(
                grid_template_columns=f"repeat({columns}, max-content)", grid_gap="2px 16px"
            ),
        )
        # A VBox, not AppLayout: its height follows the content, so the figure is never squeezed.
        first = self._view if self._still is None else self._still
        self.widget = widgets.VBox([first, controls_box, self.readout, self.message])
        self.widget.add_class("softmax-lab-explorer")
        self.widget.add_class(f"softmax-lab-{self.kind.replace('_', '-')}")
        _enable_colab_widgets()
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
    @property
    def uses_ipympl(self) -> bool:
        """True when the figure is an ipympl canvas (``%matplotlib widget``)."""
        return self._ipympl

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def view(self):
        return self._view

    @property
    def blitter(self) -> explorer_canvas.Blitter:
        return self._blitter

    @property
    def artists(self) -> dict:
        return {
            name: getattr(self, f"_{name}") for name in self._ARTISTS if hasattr(self, f"_{name}")
        }

    def state(self) -> dict:
        """Return the numbers shown now (arrays are copies; changing them changes nothing)."""
        return {
            key: (value.copy() if isinstance(value, np.ndarray) else value)
            for key, value in self._state.items()
        }

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
        for widget in [
            *self.controls.values(),
            self.readout,
            self.message,
            self._view,
            self._still,
            self.widget,
            bridge,
        ]:
            if widget is not None:
                widget.close()

    def __repr__(self) -> str:
        return self._summary()

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        png = base64.b64encode(self.png()).decode("ascii")
        # Where the widget view cannot render (no widget manager, nbconvert, nbviewer, GitHub),
        # renderers pick the HTML (the figure and its readout) or the PNG, then the summary.
        bundle = {
            "text/plain": self._summary(),
            "image/png": png,
            "text/html": self._static_html(png),
        }
        if self._ipympl:
            # What ipympl itself stores, so an embedded widget state shows the figure too.
            self.canvas.set_snapshot(png)
        if not self._closed:  # a closed widget has no view to show
            view = (self.widget._repr_mimebundle_() or {}).get(
                "application/vnd.jupyter.widget-view+json"
            )
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
                f"{html.escape(text)}</div>"
            )

    def _redraw(self) -> None:
        if self._ipympl:
            self.canvas.show_update()
            if self.canvas.bridge is not None:
                self.canvas.bridge.alt = self._summary()
            if self._still is not None:
                self._render_now()
                self._still.value = self._still_html(
                    base64.b64encode(self._encode_png()).decode("ascii")
                )
            return
        self._render_now()
        self._view.value = self._encode_png()

    def _show_live_canvas(self) -> None:
        """A browser's ipympl has the canvas: show it in place of the still picture."""
        if self._still is None or self._closed:
            return
        still, self._still = self._still, None
        self.widget.children = (self.canvas, *self.widget.children[1:])
        still.close()

    def _still_html(self, png_base64: str) -> str:
        """The figure as an ``<img>`` with its summary as the text alternative."""
        width, height = self.canvas.get_width_height()
        return (
            f'<img src="data:image/png;base64,{png_base64}" width="{width}" '
            f'height="{height}" alt="{html.escape(self._summary())}">'
        )

    def _static_html(self, png_base64: str) -> str:
        """The whole explorer as it is now, without widgets: the figure and its readout."""
        return (
            f'<div class="softmax-lab-static">{self._still_html(png_base64)}'
            f"{_pre(self._readout_lines(self._state))}</div>"
        )

    def _render_now(self) -> None:
        """Bring the canvas buffer up to date: a blit if possible, else one full draw."""
        explorer_canvas.render_now(self.canvas, self._blitter)

    def _encode_png(self) -> bytes:
        # The figure is opaque: RGB is enough.
        return frames.encode_png(np.asarray(self.canvas.buffer_rgba())[..., :3])

    def _register(self) -> None:
        """Close explorers made by an earlier run of the same notebook cell (no pile-up)."""
        cells.track(self)


# --------------------------------------------------------------------------- controls


# A label as wide as its text: a fixed width cut "scale s" to "scal…" (fonts differ by system).
LABEL_STYLE = {"description_width": "initial"}


def logit_sliders(values: np.ndarray) -> dict:
    limit = slider_limit(values)
    return {
        f"z{i}": widgets.FloatSlider(
            value=float(v),
            min=-limit,
            max=limit,
            step=0.1,
            description=f"z{subscript(i)}",
            continuous_update=True,
            readout=True,
            readout_format=".2f",
            layout=widgets.Layout(width="330px"),
            style=LABEL_STYLE,
        )
        for i, v in enumerate(values)
    }


def log_slider(value, low, high, description, readout_format=".3g") -> widgets.FloatLogSlider:
    return widgets.FloatLogSlider(
        value=value,
        base=10,
        min=math.log10(low),
        max=math.log10(high),
        step=0.01,
        description=description,
        continuous_update=True,
        readout=True,
        readout_format=readout_format,
        layout=widgets.Layout(width="330px"),
        style=LABEL_STYLE,
    )


_SUBSCRIPTS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")


def _spoken(description: str) -> str:
    """A control's accessible name from its label: ``z₀`` -> ``z_0``; ``T`` stays ``T``."""
    return re.sub("[₀-₉]+", lambda m: "_" + m.group().translate(_SUBSCRIPTS), description)


_COLAB_WIDGETS = False


def _enable_colab_widgets() -> None:
    """On Colab, turn on its custom widget manager (needed for ipympl's and anywidget's views),
    once; elsewhere do nothing (``google.colab`` is not importable)."""
    global _COLAB_WIDGETS
    if _COLAB_WIDGETS:
        return
    _COLAB_WIDGETS = True
    try:
        from google.colab import output
    except ImportError:
        return
    output.enable_custom_widget_manager()


def _pre(lines: Sequence[str]) -> str:
    """The readout: lines of numbers as preformatted HTML."""
    body = "\n".join(html.escape(line) for line in lines)
    return f'<pre style="margin:0; font-size:12px; line-height:1.35">{body}</pre>'


def logits_from(controls: dict, n: int) -> np.ndarray:
    return np.array([controls[f"z{i}"].value for i in range(n)], dtype=float)
