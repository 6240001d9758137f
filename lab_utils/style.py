"""The look of Softmax Lab: one colour-blind-safe palette, fonts and figure defaults.

Everything visual that two figures should share lives here, so every explorer and every static
figure in the notebooks looks the same. Nothing is changed globally when this module is imported:
use :func:`style_context` (a ``matplotlib.rc_context``) around the code that creates a figure.

The palette is Okabe & Ito's eight colours ("Color Universal Design", 2008), chosen because they
stay distinguishable for the common forms of colour-vision deficiency and in greyscale print. The
roles below pick from it so that a colour means the same thing in every figure (logits are always
blue, probabilities always orange, ...). Where a distinction must not rest on colour alone (a student's
wrong bar, a NaN), a hatch or a text label is added as well.

Examples
--------
>>> from lab_utils.style import ROLE, style_context
>>> ROLE["logits"]
'#0072B2'
>>> import matplotlib
>>> with style_context():
...     matplotlib.rcParams["axes.spines.top"]
False
"""

from __future__ import annotations

import contextlib
from typing import Iterator

# Okabe-Ito palette, in its published order.
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}

#: What each colour means across the lab.
ROLE: dict[str, str] = {
    "logits": OKABE_ITO["blue"],
    "probs": OKABE_ITO["orange"],
    "reference": OKABE_ITO["orange"],
    "student": OKABE_ITO["sky_blue"],
    # A point estimated from probabilities (06's soft-argmax): light, to stand out on dark maps.
    "estimate": OKABE_ITO["sky_blue"],
    "target": OKABE_ITO["bluish_green"],
    "gradient": OKABE_ITO["reddish_purple"],
    "loss": OKABE_ITO["blue"],
    "entropy": OKABE_ITO["bluish_green"],
    "naive": OKABE_ITO["vermillion"],
    "stable": OKABE_ITO["bluish_green"],
    "invalid": OKABE_ITO["vermillion"],
    "mismatch": OKABE_ITO["vermillion"],
    "limit": "#7F7F7F",
    "axis": "#555555",
    "text": "#222222",
    "grid": "#E5E5E5",
}

#: One colour per class in scatter plots and decision regions (class 0, 1, 2, 3, ...), all distinct
#: from one another; a notebook that colours classes uses these and no other roles for them.
CLASS_COLORS: tuple[str, ...] = (
    OKABE_ITO["blue"],
    OKABE_ITO["orange"],
    OKABE_ITO["bluish_green"],
    OKABE_ITO["vermillion"],
    OKABE_ITO["reddish_purple"],
    OKABE_ITO["sky_blue"],
)

#: Hatch used wherever a value is not a number or disagrees (so it is visible without colour).
INVALID_HATCH = "///"

# Sizes in points; 10 pt reads well at 100 dpi in JupyterLab and on a projector.
FONT_SIZE = 10.0

#: rcParams applied inside :func:`style_context`.
RC: dict[str, object] = {
    # DejaVu Sans ships with Matplotlib: the same glyphs (and pixels) on every machine.
    "font.family": "DejaVu Sans",
    "font.size": FONT_SIZE,
    "axes.titlesize": FONT_SIZE + 1,
    "axes.titleweight": "bold",
    "axes.labelsize": FONT_SIZE,
    "xtick.labelsize": FONT_SIZE - 1,
    "ytick.labelsize": FONT_SIZE - 1,
    "legend.fontsize": FONT_SIZE - 1,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#555555",
    "axes.labelcolor": ROLE["text"],
    "text.color": ROLE["text"],
    "xtick.color": ROLE["axis"],
    "ytick.color": ROLE["axis"],
    "axes.grid": True,
    "axes.grid.axis": "y",
    "grid.color": ROLE["grid"],
    "grid.linewidth": 0.8,
    "axes.axisbelow": True,
    "axes.prop_cycle": None,  # filled in below (needs cycler, imported lazily with Matplotlib)
    # Opaque white: ipympl can then send only the changed pixels of a frame (transparent pixels
    # force it to send full frames), and exported PNGs look the same on dark themes.
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "hatch.linewidth": 1.0,
    "mathtext.fontset": "dejavusans",
}

#: Width of one panel and the height of every explorer figure, in inches.
PANEL_WIDTH = 3.6
FIGURE_HEIGHT = 3.2


def rc_params() -> dict[str, object]:
    """Return the lab's rcParams as a fresh dict (safe to modify).

    Returns
    -------
    dict
        Keys are Matplotlib rcParams names.
    """
    from cycler import cycler

    params = dict(RC)
    params["axes.prop_cycle"] = cycler(
        color=[
            OKABE_ITO[name]
            for name in (
                "blue",
                "orange",
                "bluish_green",
                "vermillion",
                "reddish_purple",
                "sky_blue",
                "yellow",
                "black",
            )
        ]
    )
    return params


@contextlib.contextmanager
def style_context() -> Iterator[None]:
    """Apply the lab's look for the duration of a ``with`` block.

    Figures, axes and text created inside the block keep the look after it ends; global
    ``matplotlib.rcParams`` are restored on exit, so a notebook's own settings are not changed.
    """
    import matplotlib

    with matplotlib.rc_context(rc_params()):
        yield


def figure_size(n_panels: int) -> tuple[float, float]:
    """Return the (width, height) in inches of an explorer figure with ``n_panels`` side by side.

    Parameters
    ----------
    n_panels : int
        Number of axes in one row, at least 1.

    Returns
    -------
    tuple of float

    Raises
    ------
    ValueError
        If ``n_panels`` is smaller than 1.

    Examples
    --------
    >>> figure_size(2)
    (7.2, 3.2)
    """
    if n_panels < 1:
        raise ValueError(f"n_panels must be at least 1, got {n_panels}")
    return (round(PANEL_WIDTH * n_panels, 6), FIGURE_HEIGHT)


def subscript(index: int) -> str:
    """Return ``index`` written with Unicode subscript digits, for labels such as z₀ and z₁₂.

    Examples
    --------
    >>> "z" + subscript(3)
    'z₃'
    """
    if index < 0:
        raise ValueError(f"index must be >= 0, got {index}")
    return str(index).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))
