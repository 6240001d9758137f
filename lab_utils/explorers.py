"""Interactive explorers: ipywidgets controls wired to the numerics and to the plots' artists.

Five explorers, each a function returning an :class:`Explorer`::

    softmax_explorer(fn=None, n=4, logits=None)  # z -> p = softmax(z); optional student fn
    temperature_explorer(logits=None)             # p = softmax(z / T), its entropy, both limits
    cross_entropy_explorer(logits=None)           # loss -log p[y] on its curve, p - e_y
    overflow_explorer()                           # naive vs stable softmax, float16/32/64
    training_explorer(weights, X, images, labels) # one digit's logits and softmax, epoch by epoch

An explorer shows itself when it is the last value of a notebook cell. It has ``.figure`` (the
Matplotlib figure), ``.controls`` (its ipywidgets by name) and ``.state()`` (the numbers shown
now). Setting ``explorer.controls["z0"].value = 3`` from code updates the figure and the state
exactly as dragging the slider does.

Where things are
----------------
This module only wires controls to numbers and artists (what every explorer shares, its layout,
redraw, errors and fallbacks, is :class:`lab_utils.explorer_base.Explorer`): the numbers come from
:mod:`lab_utils.numerics`, every artist is drawn by :mod:`lab_utils.plots` (colours from
:data:`lab_utils.style.ROLE`), a student's function is run by :mod:`lab_utils.student`, the frames
reach the screen through :mod:`lab_utils.canvas` (blitting; ipympl's internals in
:mod:`lab_utils.ipympl_canvas`; patches in :mod:`lab_utils.frames`), and re-runs of a cell are
tracked by :mod:`lab_utils.cells`.

How drawing works
-----------------
The figure and all its artists are made once. The artists that change (bars, value labels, moving
points) are *animated*: a full draw leaves them out and a copy of that background is kept. On a
change the explorer sets new heights and texts on the existing artists; the canvas pastes the
background back and draws only the changing artists on top. With ipympl (``%matplotlib widget``)
the frame is sent to the browser at once from the slider's callback, as changed rectangles once
the browser has installed the frame bridge, else as ipympl's PNG frames; with any other backend
(Agg in tests and scripts, ``%matplotlib inline``) the picture is shown through an
``ipywidgets.Image``. See :mod:`lab_utils.canvas` for the details and the plain fallback.

Figures are never registered with pyplot, so re-running a cell does not pile up open figures; an
explorer created by an earlier run of the same notebook cell is closed when the cell runs again.
Where widgets cannot render (nbconvert HTML, GitHub, nbviewer, nbval, a page with no widget
manager) the output still holds the figure and its readout as HTML, a PNG of the figure and a
short, deterministic text summary. With ipympl, the explorer shows its figure as a picture in a core
widget until the browser's ipympl has made the canvas's model, then swaps in the live canvas: a
page without ipympl's extension keeps the picture, which still follows the sliders. Each control's
accessible name is its name in the maths (``z_0``, ``T``, ``target y``; kept in its tooltip) and
the live figure's text alternative is the summary; the frame bridge puts both on the page.

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

import html
import math
from typing import Callable, Sequence

import ipywidgets as widgets
import numpy as np

from . import numerics, plots, style
from .canvas import FULL_FRAME_GUARD_S, TRAILING_FRAME_DELAY_S  # noqa: F401 (public, as before)
from .explorer_base import (
    LABEL_STYLE,
    LOGIT_LIMIT,
    MAX_CLASSES,
    MIN_CLASSES,
    Explorer,
    initial_logits,
    log_slider,
    logit_sliders,
    logits_from,
    slider_limit,
)
from .plots import class_labels, format_setting, format_settings, format_vector
from .student import check_student_softmax
from .style import ROLE

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

#: Range of the temperature slider (log scale).
T_MIN, T_MAX = 0.05, 20.0
#: Range of the overflow explorer's scale slider (log scale).
SCALE_MIN, SCALE_MAX = 1.0, 1000.0
#: The overflow explorer's fixed logits; ``scale * OVERFLOW_LOGITS`` is what is fed to softmax.
OVERFLOW_LOGITS = (1.0, 0.8, 0.2, -1.0)
DTYPES = ("float16", "float32", "float64")


# --------------------------------------------------------------------------- softmax explorer


class SoftmaxExplorer(Explorer):
    """Logit sliders, bars of z and of p = softmax(z); optionally a student's function beside it."""

    kind = "softmax_explorer"
    _ARTISTS = ("z_bars", "p_bars", "s_bars", "status")

    def __init__(self, fn: Callable | None, n: int | None, logits):
        if fn is not None and not callable(fn):
            raise TypeError(f"fn must be a function such as my_softmax, or None; got {fn!r}")
        values = initial_logits(n, logits)
        self.fn = fn
        self.fn_name = None if fn is None else getattr(fn, "__name__", type(fn).__name__)
        self.n = values.size
        self._limit = slider_limit(values)
        super().__init__(logit_sliders(values), n_panels=2)

    # Budget: 53 lines as formatted; the two panels of the softmax explorer (logits, probabilities,
    # the student's bars) drawn once, each artist through plots.
    def _build(self, axes) -> list:
        ax_z, ax_p = axes
        n, limit = self.n, self._limit
        x = np.arange(n, dtype=float)
        plots.style_axes(ax_z, title="logits z")
        plots.zero_line(ax_z)
        self._z_bars = plots.bar_chart(
            ax_z,
            np.zeros(n),
            labels=class_labels("z", n),
            color=ROLE["logits"],
            ylim=(-1.1 * limit, 1.1 * limit),
            fmt="{:.2f}",
        )
        plots.style_axes(ax_p, title="probabilities p = softmax(z)")
        animated = self._z_bars.artists()
        if self.fn is None:
            self._p_bars = plots.bar_chart(
                ax_p,
                np.zeros(n),
                labels=class_labels("p", n),
                color=ROLE["reference"],
                ylim=(0.0, 1.12),
            )
            return animated + self._p_bars.artists()
        width = 0.4
        ylim = (0.0, 1.5)
        self._p_bars = plots.bar_chart(
            ax_p,
            np.zeros(n),
            color=ROLE["reference"],
            ylim=ylim,
            positions=x - width / 2,
            width=width,
            label="softmax",
            fontsize=7.0,
            rotation=90,
        )
        self._s_bars = plots.bar_chart(
            ax_p,
            np.zeros(n),
            color=ROLE["student"],
            ylim=ylim,
            positions=x + width / 2,
            width=width,
            label=f"{self.fn_name} (yours)",
            fontsize=7.0,
            rotation=90,
        )
        plots.class_ticks(ax_p, "p", n)
        plots.legend(ax_p, ncols=2)
        self._status = plots.status_text(ax_p, "", y=0.86, fontsize=8.5)
        return animated + self._p_bars.artists() + self._s_bars.artists() + [self._status]

    def _compute(self) -> dict:
        logits = logits_from(self.controls, self.n)
        state = {"logits": logits, "probs": numerics.softmax(logits)}
        if self.fn is not None:
            check = check_student_softmax(self.fn, logits, state["probs"])
            state.update(
                student_probs=check["values"],
                student_ok=check["ok"],
                student_message=check["message"],
                student_short=check["short"],
                student_mismatch=check["mismatch"],
                max_abs_diff=check["max_abs_diff"],
            )
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
        lines = [
            f"z = {format_vector(state['logits'])}",
            f"p = {format_vector(probs)}   sum(p) = {probs.sum():.4f}",
        ]
        if self.fn is not None:
            values = state["student_probs"]
            shown = format_vector(values) if values is not None else "(nothing to show)"
            lines.append(f"{self.fn_name}(z) = {shown}")
        return lines

    def _message_html(self, state: dict) -> str:
        if self.fn is None:
            return ""
        color = ROLE["text"] if state["student_ok"] else ROLE["invalid"]
        return f'<div style="color:{color}">{html.escape(state["student_message"])}</div>'

    def _summary(self) -> str:
        s = self._state
        text = f"{self.kind}: z={format_settings(s['logits'])} -> p={format_vector(s['probs'])}"
        if self.fn is not None:
            text += f" | {s['student_short']}"
        return text


def softmax_explorer(
    fn: Callable | None = None, n: int | None = None, logits: Sequence[float] | None = None
) -> SoftmaxExplorer:
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
    _ARTISTS = ("p_bars", "limit_zero", "curve", "point", "h_text")
    _GRID = np.geomspace(T_MIN, T_MAX, 161)

    def __init__(self, logits):
        values = initial_logits(None, logits)
        self.n = values.size
        controls = logit_sliders(values)
        controls["T"] = log_slider(1.0, T_MIN, T_MAX, "T")
        self._curve_key = None
        super().__init__(controls, n_panels=2)

    def _build(self, axes) -> list:
        ax_p, ax_h = axes
        n = self.n
        plots.style_axes(ax_p, title="p = softmax(z / T)")
        self._p_bars = plots.bar_chart(
            ax_p,
            np.zeros(n),
            labels=class_labels("p", n),
            color=ROLE["probs"],
            ylim=(0.0, 1.3),
            label="p at T",
        )
        self._limit_zero = plots.outline_bars(ax_p, np.zeros(n), label="T → 0 (argmax)")
        uniform = plots.hline(ax_p, 1.0 / n, label="T → ∞ (uniform)")
        plots.legend(
            ax_p,
            [self._p_bars.bars[0], self._limit_zero[0], uniform],
            ["p at T", "T → 0 (argmax)", "T → ∞ (uniform)"],
            ncols=3,
            fontsize=7.5,
            columnspacing=0.8,
        )
        max_entropy = math.log(n)
        plots.style_axes(
            ax_h,
            title="entropy H(p)",
            xscale="log",
            xlim=(T_MIN, T_MAX),
            ylim=(0.0, 1.3 * max_entropy),
            xlabel="temperature T (log scale)",
            ylabel="H (nats)",
        )
        plots.hline(ax_h, max_entropy, label=f"max = log {n} = {max_entropy:.4f}")
        plots.legend(ax_h, handlelength=2.0)
        self._curve = plots.curve(
            ax_h, self._GRID, np.zeros_like(self._GRID), color=ROLE["entropy"]
        )
        self._point = plots.point(ax_h, 1.0, 0.0, color=ROLE["entropy"])
        self._h_text = plots.status_text(ax_h, "", y=0.84, fontsize=9)
        return self._p_bars.artists() + self._limit_zero + [self._curve, self._point, self._h_text]

    def _compute(self) -> dict:
        logits = logits_from(self.controls, self.n)
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
            self._curve.set_ydata(numerics.entropy_vs_temperature(state["logits"], self._GRID))
            self._curve_key = key
        self._point.set_data([state["T"]], [state["entropy"]])
        self._h_text.set_text(f"T = {state['T']:.3g}   H = {state['entropy']:.4f} nats")

    def _readout_lines(self, state: dict) -> list[str]:
        return [
            f"z = {format_vector(state['logits'])}   T = {state['T']:.4g}",
            f"p = {format_vector(state['probs'])}",
            f"H = {state['entropy']:.4f} nats   (max log {self.n} = {state['max_entropy']:.4f})",
            f"T -> 0: {format_vector(state['limit_T0'])}   T -> inf: {format_vector(state['limit_Tinf'])}",
        ]

    def _summary(self) -> str:
        s = self._state
        return (
            f"{self.kind}: z={format_settings(s['logits'])}, T={format_setting(s['T'])} -> "
            f"p={format_vector(s['probs'])}, H={s['entropy']:.4f} nats"
        )


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
    _ARTISTS = ("p_bars", "guide", "point", "l_text", "g_bars")
    _LOSS_TOP = 8.0

    def __init__(self, logits):
        values = initial_logits(None, logits)
        self.n = values.size
        controls = logit_sliders(values)
        controls["target"] = widgets.Dropdown(
            options=[(f"{i}", i) for i in range(self.n)],
            value=0,
            description="target y",
            layout=widgets.Layout(width="200px"),
            style=LABEL_STYLE,
        )
        super().__init__(controls, n_panels=3, figsize=(9.6, style.FIGURE_HEIGHT))

    def _build(self, axes) -> list:
        ax_p, ax_l, ax_g = axes
        n = self.n
        plots.style_axes(ax_p, title="p = softmax(z)")
        self._p_bars = plots.bar_chart(
            ax_p, np.zeros(n), labels=class_labels("p", n), color=ROLE["probs"], ylim=(0.0, 1.15)
        )
        plots.style_axes(
            ax_l,
            title="loss L = −log p_y",
            xlim=(0.0, 1.02),
            ylim=(0.0, self._LOSS_TOP),
            xlabel="p_y, probability of the target",
        )
        p_grid = np.linspace(np.exp(-self._LOSS_TOP), 1.0, 400)
        plots.curve(ax_l, p_grid, numerics.neg_log(p_grid), color=ROLE["limit"], linewidth=1.5)
        self._guide = plots.curve(
            ax_l, [0.0, 0.0], [0.0, 0.0], color=ROLE["loss"], linewidth=1.0, linestyle=":"
        )
        self._point = plots.point(ax_l, 0.5, 0.0, color=ROLE["loss"])
        self._l_text = plots.status_text(ax_l, "", x=0.35, y=0.94, fontsize=9)
        plots.style_axes(ax_g, title="gradient ∂L/∂z = p − e_y")
        plots.zero_line(ax_g)
        self._g_bars = plots.bar_chart(
            ax_g,
            np.zeros(n),
            labels=class_labels("z", n),
            color=ROLE["gradient"],
            ylim=(-1.15, 1.15),
            fmt="{:.3f}",
        )
        return (
            self._p_bars.artists()
            + [self._guide, self._point, self._l_text]
            + self._g_bars.artists()
        )

    def _compute(self) -> dict:
        logits = logits_from(self.controls, self.n)
        target = int(self.controls["target"].value)
        return {
            "logits": logits,
            "target": target,
            "probs": numerics.softmax(logits),
            "loss": float(numerics.cross_entropy(logits, target)),
            "grad": numerics.cross_entropy_grad(logits, target),
        }

    def _show(self, state: dict) -> None:
        target = state["target"]
        plots.highlight_bar(self._p_bars, state["probs"], target)
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
        return [
            f"z = {format_vector(state['logits'])}   y = {state['target']}",
            f"p = {format_vector(state['probs'])}",
            f"loss = -log p[{state['target']}] = {state['loss']:.4f}",
            f"grad = p - e_y = {format_vector(state['grad'])}",
        ]

    def _summary(self) -> str:
        s = self._state
        return (
            f"{self.kind}: z={format_settings(s['logits'])}, y={s['target']} -> "
            f"p={format_vector(s['probs'])}, loss={s['loss']:.4f}, grad={format_vector(s['grad'])}"
        )


def cross_entropy_explorer(logits: Sequence[float] | None = None) -> CrossEntropyExplorer:
    """Explore the cross-entropy loss of one example: logit sliders and a target class y.

    Shows p = softmax(z) with the target's bar marked, the loss L = -log p_y as a point on the
    curve -log p, and the gradient dL/dz = p - e_y as bars (e_y the one-hot row of y).

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
    _ARTISTS = ("n_bars", "s_bars", "n_text", "s_text")

    def __init__(self):
        self.base = np.array(OVERFLOW_LOGITS)
        self.n = self.base.size
        controls = {
            "scale": log_slider(10.0, SCALE_MIN, SCALE_MAX, "scale s", readout_format=".4g"),
            "dtype": widgets.ToggleButtons(
                options=list(DTYPES),
                value="float32",
                description="dtype",
                style={**LABEL_STYLE, "button_width": "72px"},
            ),
        }
        super().__init__(controls, n_panels=2)

    def _build(self, axes) -> list:
        ax_n, ax_s = axes
        n = self.n
        plots.style_axes(ax_n, title="naive: exp(z) / Σ exp(z)")
        self._n_bars = plots.bar_chart(
            ax_n, np.zeros(n), labels=class_labels("p", n), color=ROLE["naive"], ylim=(0.0, 1.2)
        )
        self._n_text = plots.status_text(ax_n, "", fontsize=8.5)
        plots.style_axes(ax_s, title="stable: subtract max z first")
        self._s_bars = plots.bar_chart(
            ax_s, np.zeros(n), labels=class_labels("p", n), color=ROLE["stable"], ylim=(0.0, 1.2)
        )
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
            "overflow_threshold": numerics.exp_overflow_threshold(dtype),
        }

    def _show(self, state: dict) -> None:
        plots.update_bars(self._n_bars, state["naive"])
        plots.update_bars(self._s_bars, state["stable"])
        if state["exp_overflowed"]:
            self._n_text.set_text(
                f"exp(z) = inf in {state['dtype']}: z > {state['overflow_threshold']:.2f}"
            )
            self._n_text.set_color(ROLE["invalid"])
        else:
            self._n_text.set_text(
                f"max z = {float(state['logits'].max()):.4g} "
                f"≤ {state['overflow_threshold']:.2f}: fine"
            )
            self._n_text.set_color(ROLE["text"])
        self._s_text.set_text(f"exp(z − {float(state['logits'].max()):.4g}) ≤ 1: never overflows")

    def _readout_lines(self, state: dict) -> list[str]:
        return [
            f"dtype = {state['dtype']}   scale s = {state['scale']:.4g}   "
            f"exp overflows past z = {state['overflow_threshold']:.4f}",
            f"z = s * {format_settings(self.base)} = {format_vector(state['logits'])}",
            f"naive  = {format_vector(state['naive'])}",
            f"stable = {format_vector(state['stable'])}",
        ]

    def _summary(self) -> str:
        s = self._state
        return (
            f"{self.kind}: {s['dtype']}, s={format_setting(s['scale'])} -> "
            f"naive={format_vector(s['naive'])}, stable={format_vector(s['stable'])}"
        )


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
    _ARTISTS = ("image", "z_bars", "p_bars", "status")

    def __init__(self, weights, X, images, labels):
        self.weights = _check_weights(weights)
        d, c = self.weights.shape[1:]
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != d or len(X) == 0:
            raise ValueError(
                f"X must have shape (m, {d}) to match weights of shape (D, N) = ({d}, {c}), "
                f"got shape {X.shape}"
            )
        images = np.asarray(images, dtype=np.float64)
        labels = np.asarray(labels)
        if images.ndim != 3 or len(images) != len(X):
            raise ValueError(
                f"images must have shape ({len(X)}, height, width), one per row of X, "
                f"got shape {images.shape}"
            )
        if labels.shape != (len(X),) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"labels must be {len(X)} integer class ids, got shape {labels.shape}")
        self.X, self.images, self.labels, self.n = X, images, labels.astype(int), c
        # One y range for every epoch and image: the bars move, the axes stay still.
        logits = np.einsum("nd,edc->enc", X, self.weights)
        self._limit = max(1.0, float(np.abs(logits).max()) * 1.1)
        controls = {
            "epoch": widgets.IntSlider(
                value=0,
                min=0,
                max=len(self.weights) - 1,
                step=1,
                description="epoch",
                continuous_update=True,
                layout=widgets.Layout(width="330px"),
                style=LABEL_STYLE,
            ),
            "image": widgets.IntSlider(
                value=0,
                min=0,
                max=len(X) - 1,
                step=1,
                description="test image",
                continuous_update=True,
                layout=widgets.Layout(width="330px"),
                style=LABEL_STYLE,
            ),
        }
        super().__init__(controls, n_panels=3, figsize=(10.5, style.FIGURE_HEIGHT))

    def _build(self, axes) -> list:
        ax_i, ax_z, ax_p = axes
        n = self.n
        ticks = [str(k) for k in range(n)]
        self._image = plots.picture(ax_i, self.images[0], vmax=max(1.0, float(self.images.max())))
        # A static title: text outside the axes would need a full redraw to change.
        plots.style_axes(ax_i, title="the digit x")
        plots.style_axes(ax_z, title="logits z = x W")
        plots.zero_line(ax_z)
        self._z_bars = plots.bar_chart(
            ax_z,
            np.zeros(n),
            labels=ticks,
            color=ROLE["logits"],
            ylim=(-self._limit, self._limit),
            fmt="{:.1f}",
        )
        plots.style_axes(ax_p, title="p = softmax(z)")
        self._p_bars = plots.bar_chart(
            ax_p, np.zeros(n), labels=ticks, color=ROLE["probs"], ylim=(0.0, 1.25), fmt="{:.2f}"
        )
        self._status = plots.status_text(ax_p, "", y=0.94, fontsize=8.5)
        return [self._image, *self._z_bars.artists(), *self._p_bars.artists(), self._status]

    def _compute(self) -> dict:
        epoch, index = int(self.controls["epoch"].value), int(self.controls["image"].value)
        logits = self.X[index] @ self.weights[epoch]
        probs = numerics.softmax(logits)
        label = int(self.labels[index])
        return {
            "epoch": epoch,
            "image": index,
            "label": label,
            "logits": logits,
            "probs": probs,
            "predicted": int(np.argmax(logits)),
            "loss": float(numerics.cross_entropy(logits, label)),
        }

    def _show(self, state: dict) -> None:
        self._image.set_data(self.images[state["image"]])
        colors = [ROLE["target"] if k == state["label"] else ROLE["probs"] for k in range(self.n)]
        plots.set_bar_colors(self._p_bars, colors)
        plots.update_bars(self._z_bars, state["logits"])
        plots.update_bars(self._p_bars, state["probs"])
        verdict = "right" if state["predicted"] == state["label"] else "wrong"
        self._status.set_text(
            f"epoch {state['epoch']}, label {state['label']}: predicts "
            f"{state['predicted']} ({verdict})"
        )
        self._status.set_color(ROLE["text"] if verdict == "right" else ROLE["invalid"])

    def _readout_lines(self, state: dict) -> list[str]:
        return [
            f"epoch = {state['epoch']}   test image {state['image']}   label y = {state['label']}",
            f"z = {format_vector(state['logits'], '{:.2f}')}",
            f"p = {format_vector(state['probs'])}",
            f"predicted = {state['predicted']}   loss = -log p[{state['label']}] = {state['loss']:.4f}",
        ]

    def _summary(self) -> str:
        s = self._state
        return (
            f"{self.kind}: epoch {s['epoch']}, image {s['image']} (label {s['label']}) -> "
            f"predicted {s['predicted']}, p[{s['label']}]={s['probs'][s['label']]:.4f}"
        )


def _check_weights(weights) -> np.ndarray:
    try:
        stacked = np.asarray([np.asarray(w, dtype=np.float64) for w in weights])
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"weights must be a sequence of (D, N) arrays of one shape: {error}"
        ) from None
    if stacked.ndim != 3 or len(stacked) == 0 or not 2 <= stacked.shape[2] <= 10:
        raise ValueError(
            "weights must be a non-empty sequence of (D, N) arrays with 2 to 10 classes, "
            f"got shape {stacked.shape}"
        )
    if not np.all(np.isfinite(stacked)):
        raise ValueError("weights must be finite (a diverged training has inf or NaN)")
    return stacked


def training_explorer(
    weights: Sequence[np.ndarray], X: np.ndarray, images: np.ndarray, labels: np.ndarray
) -> TrainingExplorer:
    """Step through a softmax regression's training: one digit, its logits and its softmax per epoch.

    Parameters
    ----------
    weights : sequence of arrays of shape (D, N)
        The weights at the start and after each epoch (``lab_utils.regression.train_softmax(...,
        keep_weights=True)`` returns them).
    X : array of shape (m, D)
        The examples' features, one row per image (bias column included if the weights have one).
    images : array of shape (m, height, width)
        The same examples as pictures.
    labels : array of m integers
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
