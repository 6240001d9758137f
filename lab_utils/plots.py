"""Drawing helpers: each draws on an Axes it is given and returns the artists it made.

Numbers come from :mod:`lab_utils.numerics`; the functions here only draw them. They never create
a figure and know nothing about widgets, so any figure can use them; today their users are the
explorers (every Axes call of an explorer is here: titles, limits, ticks, legends, reference lines)
and the full-redraw baseline of ``benchmarks/bench_explorers.py``. An explorer keeps the returned
artists and changes them in place with :func:`update_bars`, :func:`highlight_bar`,
``Line2D.set_data`` and ``Text.set_text``; it never draws a new bar chart for a new value.
Colours come from :data:`lab_utils.style.ROLE`.

Examples
--------
>>> import numpy as np
>>> from matplotlib.figure import Figure
>>> ax = Figure().subplots()
>>> bars = bar_chart(ax, [0.25, 0.75], labels=["a", "b"], ylim=(0, 1))
>>> [text.get_text() for text in bars.texts]
['0.2500', '0.7500']
>>> update_bars(bars, [1.0, np.nan])
>>> [text.get_text() for text in bars.texts]
['1.0000', 'NaN']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from matplotlib.colors import is_color_like

from .style import INVALID_HATCH, ROLE, subscript

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.image import AxesImage
    from matplotlib.legend import Legend
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle
    from matplotlib.text import Text
    from matplotlib.typing import ColorType

__all__ = [
    "BarArtists",
    "bar_chart",
    "update_bars",
    "set_bar_colors",
    "mark_bars",
    "outline_bars",
    "update_outline",
    "curve",
    "point",
    "hline",
    "status_text",
    "format_value",
    "format_vector",
    "format_setting",
    "format_settings",
    "class_labels",
    "class_ticks",
    "style_axes",
    "zero_line",
    "legend",
    "highlight_bar",
    "picture",
]


@dataclass
class BarArtists:
    """The artists of one bar chart made by :func:`bar_chart`.

    Attributes
    ----------
    ax : matplotlib.axes.Axes
    bars : list of matplotlib.patches.Rectangle
        One bar per value, in order.
    texts : list of matplotlib.text.Text
        The printed value of each bar.
    positions : numpy.ndarray
        x position of each bar's centre.
    ylim : tuple of float
        The y range the labels are kept inside.
    fmt : str
        Format of the printed values, e.g. ``"{:.4f}"``.
    colors : list
        The face colour of each bar for a finite value (restored after a NaN/inf is shown).
    values : numpy.ndarray
        The values shown now.
    edgecolors : list
        The edge colour of each bar for a finite value.
    base_colors : list
        The colours given to :func:`bar_chart` (what :func:`highlight_bar` returns bars to).
    """

    ax: object
    bars: list
    texts: list
    positions: np.ndarray
    ylim: tuple
    fmt: str
    colors: list
    values: np.ndarray = field(default_factory=lambda: np.zeros(0))
    edgecolors: list = field(default_factory=list)
    base_colors: list = field(default_factory=list)

    def artists(self) -> list:
        """Return every artist of the chart (bars first, then texts)."""
        return [*self.bars, *self.texts]


def format_value(value: float, fmt: str = "{:.4f}") -> str:
    """Format one number for a bar label; NaN and infinities are spelled out.

    Examples
    --------
    >>> format_value(0.5), format_value(float("nan")), format_value(-float("inf"))
    ('0.5000', 'NaN', '-inf')
    """
    if np.isnan(value):
        return "NaN"
    if np.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = fmt.format(value)
    # "-0.0000" reads as a bug to a student; a value that rounds to zero is printed as zero.
    if text.startswith("-") and float(text) == 0.0:
        text = text[1:]
    return text


def format_vector(values: Sequence[float], fmt: str = "{:.4f}") -> str:
    """Format numbers as a bracketed list with :func:`format_value`.

    Examples
    --------
    >>> format_vector([0.25, float("nan")])
    '[0.2500, NaN]'
    """
    return "[" + ", ".join(format_value(float(v), fmt) for v in np.asarray(values)) + "]"


def format_setting(value: float) -> str:
    """A logit or setting as typed: at most 4 decimals, no ``-0.0``.

    Examples
    --------
    >>> format_setting(2), format_setting(-0.0), format_setting(0.123456)
    ('2.0', '0.0', '0.1235')
    """
    return repr(round(float(value), 4) + 0.0)


def format_settings(values: Sequence[float]) -> str:
    """Format numbers as a bracketed list with :func:`format_setting`.

    Examples
    --------
    >>> format_settings([2, 0.1])
    '[2.0, 0.1]'
    """
    return "[" + ", ".join(format_setting(v) for v in np.asarray(values)) + "]"


def class_labels(letter: str, n: int) -> list[str]:
    """Tick labels ``z₀, z₁, ...`` for ``n`` classes.

    Examples
    --------
    >>> class_labels("p", 3)
    ['p₀', 'p₁', 'p₂']
    """
    return [f"{letter}{subscript(i)}" for i in range(n)]


def class_ticks(ax: Axes, letter: str, n: int) -> None:
    """Label the x ticks ``0 .. n-1`` of ``ax`` with :func:`class_labels`."""
    ax.set_xticks(np.arange(n, dtype=float), class_labels(letter, n))


def style_axes(
    ax: Axes,
    *,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
    xscale: str | None = None,
) -> None:
    """Set the given title, labels, limits and x scale of ``ax`` (the ones left None stay)."""
    if title is not None:
        ax.set_title(title)
    if xscale is not None:
        ax.set_xscale(xscale)
    if xlim is not None:
        ax.set_xlim(*xlim)
    if ylim is not None:
        ax.set_ylim(*ylim)
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)


def zero_line(ax: Axes) -> Line2D:
    """Draw the thin y = 0 line that bars of either sign stand on, and return it."""
    return ax.axhline(0.0, color=ROLE["axis"], linewidth=0.8)


def legend(
    ax: Axes,
    handles: Sequence | None = None,
    labels: Sequence[str] | None = None,
    *,
    loc: str = "upper left",
    fontsize: float = 8.0,
    **kwargs: Any,
) -> Legend:
    """Draw a compact legend on ``ax`` (of ``handles`` and ``labels`` if given) and return it."""
    if handles is not None:
        kwargs["handles"] = list(handles)
    if labels is not None:
        kwargs["labels"] = list(labels)
    kwargs.setdefault("handlelength", 1.2)
    return ax.legend(loc=loc, fontsize=fontsize, **kwargs)


def picture(ax: Axes, pixels: np.ndarray, *, vmax: float = 1.0, cmap: str = "gray_r") -> AxesImage:
    """Show a grey-scale picture (e.g. a digit) without ticks or grid; return the ``AxesImage``
    (change it in place with ``set_data``)."""
    image = ax.imshow(pixels, cmap=cmap, vmin=0.0, vmax=vmax)
    ax.set(xticks=[], yticks=[])
    ax.grid(False)
    return image


def _label_position(value: float, ylim: tuple) -> tuple[float, str]:
    """Where to put a bar's value label: just past the bar's end, kept inside ``ylim``."""
    low, high = ylim
    pad = 0.02 * (high - low)
    if not np.isfinite(value):
        return (low + high) / 2 if low < 0 < high else low + 0.5 * (high - low), "center"
    if value >= 0:
        y = value + pad
        if y > high - 0.08 * (high - low):
            return min(value, high) - pad, "top"
        return y, "bottom"
    y = value - pad
    if y < low + 0.08 * (high - low):
        return max(value, low) + pad, "bottom"
    return y, "top"


def _fitted_ylim(values: np.ndarray) -> tuple[float, float]:
    """A y range holding 0 to 1 and the finite values, with 15 % room for their labels."""
    finite = values[np.isfinite(values)]
    if not finite.size:
        return 0.0, 1.0
    return min(0.0, float(finite.min()) * 1.15), max(1.0, float(finite.max()) * 1.15)


# Budget: 73 lines as formatted, 50 without the one-argument-per-line calls; one drawing of one
# chart, kept whole so that what it makes (bars, labels, ticks) reads in one place.
def bar_chart(
    ax: Axes,
    values: Sequence[float],
    labels: Sequence[str] | None = None,
    *,
    color: ColorType | Sequence[ColorType] = ROLE["probs"],
    positions: Sequence[float] | None = None,
    width: float = 0.7,
    ylim: tuple[float, float] | None = None,
    fmt: str = "{:.4f}",
    fontsize: float | None = None,
    rotation: float | None = None,
    animated: bool = False,
    label: str | None = None,
) -> BarArtists:
    """Draw one bar per value with its value printed at the bar's end.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    values : sequence of float
        Bar heights; NaN and infinities are drawn as hatched, labelled bars.
    labels : sequence of str, optional
        Tick label of each bar (set only if given).
    color : colour or sequence of colours
        Face colour(s) of the bars.
    positions : sequence of float, optional
        x of each bar's centre; default ``0, 1, ..., n-1``.
    width : float
        Bar width in data units.
    ylim : (float, float), optional
        y range of the axes; also keeps the value labels in view. Default: fitted to the values.
    fmt : str
        Format of the printed values.
    fontsize : float, optional
        Size of the printed values; default depends on the number of bars.
    rotation : float, optional
        Angle of the printed values; default 0, or 90 (vertical) for more than 6 bars.
    animated : bool
        Mark the artists animated, so a full draw skips them and a caller can blit them.
    label : str, optional
        Legend label of the bars.

    Returns
    -------
    BarArtists
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"values must be a non-empty 1-D sequence, got shape {values.shape}")
    n = values.size
    x = np.arange(n, dtype=float) if positions is None else np.asarray(positions, dtype=float)
    if x.shape != (n,):
        raise ValueError(f"positions must have {n} entries, got shape {x.shape}")
    ylim = _fitted_ylim(values) if ylim is None else ylim
    ax.set_ylim(*ylim)
    colors = [color] * n if is_color_like(color) else list(color)
    if len(colors) != n:
        raise ValueError(f"color must be one colour or {n} colours, got {len(colors)}")
    container = ax.bar(
        x,
        np.zeros(n),
        width=width,
        color=colors,
        label=label,
        edgecolor=colors,
        linewidth=1.0,
        animated=animated,
    )
    if fontsize is None:
        fontsize = 8.5 if n <= 5 else 7.0
    if rotation is None:
        rotation = 0 if n <= 6 else 90
    texts = [
        ax.text(
            xi,
            0.0,
            "",
            ha="center",
            va="bottom",
            fontsize=fontsize,
            rotation=rotation,
            animated=animated,
            color=ROLE["text"],
            clip_on=False,
        )
        for xi in x
    ]
    if labels is not None:
        if len(labels) != n:
            raise ValueError(f"labels must have {n} entries, got {len(labels)}")
        ax.set_xticks(x, list(labels))
    artists = BarArtists(
        ax=ax,
        bars=list(container.patches),
        texts=texts,
        positions=x,
        ylim=tuple(float(v) for v in ylim),
        fmt=fmt,
        colors=colors,
        edgecolors=list(colors),
        base_colors=list(colors),
    )
    update_bars(artists, values)
    return artists


def update_bars(artists: BarArtists, values: Sequence[float]) -> None:
    """Set the bars' heights and printed values in place.

    A NaN or infinite value is drawn as a hatched outline filling the y range, labelled ``NaN``,
    ``inf`` or ``-inf``, so it cannot be mistaken for a zero.

    Parameters
    ----------
    artists : BarArtists
        Made by :func:`bar_chart`.
    values : sequence of float
        One value per bar.

    Raises
    ------
    ValueError
        If the number of values differs from the number of bars.
    """
    values = np.asarray(values, dtype=float)
    if values.shape != (len(artists.bars),):
        raise ValueError(f"expected {len(artists.bars)} values, got shape {values.shape}")
    low, high = artists.ylim
    for bar, text, value, color, edge in zip(
        artists.bars, artists.texts, values, artists.colors, artists.edgecolors, strict=True
    ):
        y, va = _label_position(value, artists.ylim)
        if np.isfinite(value):
            bar.set_y(0.0)
            bar.set_height(value)
            bar.set_facecolor(color)
            bar.set_edgecolor(edge)
            bar.set_hatch(None)
            text.set_color(ROLE["text"])
            text.set_fontweight("normal")
        else:
            # Fill the visible range: the bar says "no number here" as loudly as the label.
            bar.set_y(low)
            bar.set_height(high - low)
            bar.set_facecolor("none")
            bar.set_edgecolor(ROLE["invalid"])
            bar.set_hatch(INVALID_HATCH)
            text.set_color(ROLE["invalid"])
            text.set_fontweight("bold")
        text.set_position((text.get_position()[0], y))
        text.set_verticalalignment(va)
        text.set_text(format_value(value, artists.fmt))
    artists.values = values.copy()


def set_bar_colors(
    artists: BarArtists,
    colors: ColorType | Sequence[ColorType],
    edgecolors: ColorType | Sequence[ColorType] | None = None,
) -> None:
    """Change the face (and edge) colour of each bar, e.g. to highlight the target class.

    Parameters
    ----------
    artists : BarArtists
    colors : colour or sequence of colours
    edgecolors : colour or sequence of colours, optional
        Default: the face colours.
    """
    n = len(artists.bars)
    colors = [colors] * n if is_color_like(colors) else list(colors)
    edgecolors = (
        colors
        if edgecolors is None
        else ([edgecolors] * n if is_color_like(edgecolors) else list(edgecolors))
    )
    if len(colors) != n or len(edgecolors) != n:
        raise ValueError(f"expected {n} colours")
    artists.colors = colors
    artists.edgecolors = edgecolors
    update_bars(artists, artists.values)


def highlight_bar(
    artists: BarArtists,
    values: Sequence[float],
    index: int,
    *,
    color: ColorType = ROLE["target"],
    edgecolor: ColorType = ROLE["text"],
) -> None:
    """Show ``values`` with bar ``index`` in ``color``, outlined thick; the others in their base
    colour (the ``color`` given to :func:`bar_chart`), e.g. to mark the target class."""
    n = len(artists.bars)
    if not 0 <= index < n:
        raise ValueError(f"index must be in 0..{n - 1}, got {index}")
    base = artists.base_colors
    artists.colors = [color if i == index else base[i] for i in range(n)]
    artists.edgecolors = [edgecolor if i == index else base[i] for i in range(n)]
    update_bars(artists, values)
    for i, bar in enumerate(artists.bars):
        bar.set_linewidth(2.0 if i == index else 1.0)


def mark_bars(
    artists: BarArtists, mask: Sequence[bool], *, color: ColorType = ROLE["mismatch"]
) -> None:
    """Outline and hatch the bars where ``mask`` is true (e.g. a student's value that differs).

    Bars where ``mask`` is false get their normal look back. Call after :func:`update_bars`.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (len(artists.bars),):
        raise ValueError(f"mask must have {len(artists.bars)} entries, got shape {mask.shape}")
    for bar, flagged, value, edge in zip(
        artists.bars, mask, artists.values, artists.edgecolors, strict=True
    ):
        if not np.isfinite(value):
            continue
        bar.set_edgecolor(color if flagged else edge)
        bar.set_linewidth(2.0 if flagged else 1.0)
        bar.set_hatch(INVALID_HATCH if flagged else None)


def outline_bars(
    ax: Axes,
    values: Sequence[float],
    *,
    positions: Sequence[float] | None = None,
    width: float = 0.7,
    color: ColorType = ROLE["limit"],
    animated: bool = False,
    label: str | None = None,
) -> list[Rectangle]:
    """Draw dashed, unfilled bars: a faint reference (such as a limit) behind or over real bars.

    Returns
    -------
    list of matplotlib.patches.Rectangle
    """
    values = np.asarray(values, dtype=float)
    x = np.arange(values.size, dtype=float) if positions is None else np.asarray(positions, float)
    container = ax.bar(
        x,
        values,
        width=width,
        fill=False,
        edgecolor=color,
        linestyle="--",
        linewidth=1.2,
        animated=animated,
        label=label,
        zorder=3,
    )
    return list(container.patches)


def update_outline(bars: list, values: Sequence[float]) -> None:
    """Set the heights of bars made by :func:`outline_bars`."""
    values = np.asarray(values, dtype=float)
    if values.shape != (len(bars),):
        raise ValueError(f"expected {len(bars)} values, got shape {values.shape}")
    for bar, value in zip(bars, values, strict=True):
        bar.set_height(value)


def curve(
    ax: Axes,
    x: Sequence[float],
    y: Sequence[float],
    *,
    color: ColorType = ROLE["loss"],
    animated: bool = False,
    **kwargs: Any,
) -> Line2D:
    """Draw a line through (x, y) and return the ``Line2D``."""
    (line,) = ax.plot(
        x, y, color=color, animated=animated, linewidth=kwargs.pop("linewidth", 2.0), **kwargs
    )
    return line


def point(
    ax: Axes,
    x: float,
    y: float,
    *,
    color: ColorType = ROLE["loss"],
    animated: bool = False,
    **kwargs: Any,
) -> Line2D:
    """Draw one marker at (x, y) and return the ``Line2D`` (move it with ``set_data``)."""
    kwargs.setdefault("marker", "o")
    kwargs.setdefault("markersize", 8)
    (line,) = ax.plot(
        [x], [y], color=color, animated=animated, linestyle="none", zorder=5, **kwargs
    )
    return line


def hline(
    ax: Axes,
    y: float,
    *,
    color: ColorType = ROLE["limit"],
    label: str | None = None,
    animated: bool = False,
) -> Line2D:
    """Draw a dashed horizontal reference line across the axes and return it."""
    return ax.axhline(
        y, color=color, linestyle="--", linewidth=1.2, label=label, animated=animated, zorder=2
    )


def status_text(
    ax: Axes,
    text: str = "",
    *,
    x: float = 0.02,
    y: float = 0.96,
    animated: bool = False,
    **kwargs: Any,
) -> Text:
    """Put a line of text at (x, y) in axes coordinates (top left by default) and return it."""
    kwargs.setdefault("fontsize", 9)
    kwargs.setdefault("va", "top")
    kwargs.setdefault("ha", "left")
    # A light box keeps the text readable over bars and hatching.
    kwargs.setdefault(
        "bbox", {"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1.5}
    )
    return ax.text(x, y, text, transform=ax.transAxes, animated=animated, **kwargs)
