"""plots.py draws on a given Axes and updates its artists in place; style.py holds the look."""

from __future__ import annotations

import subprocess
import sys

import matplotlib
import numpy as np
import pytest
from matplotlib.colors import is_color_like, to_rgb
from matplotlib.figure import Figure

from lab_utils import plots, style


@pytest.fixture
def ax():
    return Figure().subplots()


def heights(chart):
    return [bar.get_height() for bar in chart.bars]


def test_bar_chart_draws_one_bar_and_label_per_value(ax):
    chart = plots.bar_chart(ax, [0.1, 0.6, 0.3], labels=["a", "b", "c"], ylim=(0, 1))
    assert len(chart.bars) == 3 and len(chart.texts) == 3
    np.testing.assert_allclose(heights(chart), [0.1, 0.6, 0.3])
    assert [t.get_text() for t in chart.texts] == ["0.1000", "0.6000", "0.3000"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert ax.get_ylim() == (0.0, 1.0)
    # Every artist returned is on the axes it was given.
    assert all(a.axes is ax for a in chart.artists())


def test_update_bars_changes_the_same_artists_in_place(ax):
    chart = plots.bar_chart(ax, [0.5, 0.5], ylim=(0, 1))
    bars, texts = list(chart.bars), list(chart.texts)
    n_patches = len(ax.patches)
    plots.update_bars(chart, [0.9, 0.1])
    assert chart.bars == bars and chart.texts == texts
    assert len(ax.patches) == n_patches  # nothing new was drawn
    np.testing.assert_allclose(heights(chart), [0.9, 0.1])
    assert [t.get_text() for t in texts] == ["0.9000", "0.1000"]
    np.testing.assert_allclose(chart.values, [0.9, 0.1])


def test_non_finite_values_are_hatched_and_spelled_out_then_restored(ax):
    chart = plots.bar_chart(ax, [0.5, 0.5, 0.5], ylim=(0, 1.2), color=style.ROLE["naive"])
    plots.update_bars(chart, [np.nan, np.inf, 0.25])
    nan_bar, inf_bar, ok_bar = chart.bars
    assert [t.get_text() for t in chart.texts] == ["NaN", "inf", "0.2500"]
    for bar in (nan_bar, inf_bar):
        assert bar.get_hatch() == style.INVALID_HATCH
        assert bar.get_facecolor()[3] == 0  # unfilled: cannot be read as a real bar
        assert bar.get_y() == pytest.approx(0.0) and bar.get_height() == pytest.approx(1.2)
    assert ok_bar.get_hatch() is None
    plots.update_bars(chart, [0.2, 0.3, 0.5])
    assert nan_bar.get_hatch() is None
    np.testing.assert_allclose(nan_bar.get_facecolor()[:3], to_rgb(style.ROLE["naive"]))
    assert [t.get_text() for t in chart.texts] == ["0.2000", "0.3000", "0.5000"]


@pytest.mark.parametrize("value", [-12.0, -3.0, 0.0, 3.0, 10.5, 12.0])
def test_value_labels_stay_inside_the_y_range(ax, value):
    chart = plots.bar_chart(ax, [value, 1.0], ylim=(-11.0, 11.0), fmt="{:.2f}")
    y = chart.texts[0].get_position()[1]
    assert -11.0 < y < 11.0
    # The label sits on the side of the bar's end: above a positive bar, below a negative one.
    if 0 < value < 9:
        assert y > value
    if -9 < value < 0:
        assert y < value


def test_format_value():
    assert plots.format_value(0.123456) == "0.1235"
    assert plots.format_value(-1e-9) == "0.0000"  # no "-0.0000"
    assert plots.format_value(-0.5, "{:.2f}") == "-0.50"
    assert plots.format_value(np.nan) == "NaN"
    assert plots.format_value(np.inf) == "inf" and plots.format_value(-np.inf) == "-inf"


def test_bar_chart_rejects_bad_input(ax):
    with pytest.raises(ValueError, match="values"):
        plots.bar_chart(ax, [[1.0, 2.0]])
    with pytest.raises(ValueError, match="positions"):
        plots.bar_chart(ax, [1.0, 2.0], positions=[0.0])
    with pytest.raises(ValueError, match="labels"):
        plots.bar_chart(ax, [1.0, 2.0], labels=["a"])
    with pytest.raises(ValueError, match="colour"):
        plots.bar_chart(ax, [1.0, 2.0], color=["red", "blue", "green"])
    chart = plots.bar_chart(ax, [1.0, 2.0])
    with pytest.raises(ValueError, match="expected 2 values"):
        plots.update_bars(chart, [1.0, 2.0, 3.0])


def test_set_bar_colors_and_mark_bars(ax):
    chart = plots.bar_chart(ax, [0.2, 0.8], ylim=(0, 1))
    plots.set_bar_colors(chart, ["#009E73", "#E69F00"])
    np.testing.assert_allclose(chart.bars[0].get_facecolor()[:3], to_rgb("#009E73"))
    plots.mark_bars(chart, [False, True])
    assert chart.bars[1].get_hatch() == style.INVALID_HATCH and chart.bars[0].get_hatch() is None
    np.testing.assert_allclose(chart.bars[1].get_edgecolor()[:3], to_rgb(style.ROLE["mismatch"]))
    plots.mark_bars(chart, [False, False])
    assert chart.bars[1].get_hatch() is None
    with pytest.raises(ValueError):
        plots.mark_bars(chart, [True])


def test_lines_points_outlines_and_text(ax):
    line = plots.curve(ax, [0, 1, 2], [1, 0, 1])
    np.testing.assert_allclose(line.get_ydata(), [1, 0, 1])
    dot = plots.point(ax, 0.5, 2.0)
    dot.set_data([0.7], [1.0])
    assert list(dot.get_xdata()) == [0.7]
    outline = plots.outline_bars(ax, [1.0, 0.0])
    plots.update_outline(outline, [0.0, 1.0])
    assert [bar.get_height() for bar in outline] == [0.0, 1.0]
    assert not outline[0].get_fill()
    text = plots.status_text(ax, "hello")
    assert text.get_text() == "hello" and text.get_transform() == ax.transAxes
    ref = plots.hline(ax, 0.25)
    assert list(ref.get_ydata()) == [0.25, 0.25]


def test_animated_flag_is_passed_on(ax):
    chart = plots.bar_chart(ax, [0.5, 0.5], animated=True)
    assert all(a.get_animated() for a in chart.artists())


def test_palette_is_okabe_ito_and_roles_use_it():
    assert len(set(style.OKABE_ITO.values())) == 8
    assert all(is_color_like(c) for c in style.ROLE.values())
    palette = set(style.OKABE_ITO.values())
    for role in ("logits", "probs", "student", "target", "gradient", "naive", "stable", "invalid"):
        assert style.ROLE[role] in palette, role
    # The pairs that appear side by side must differ.
    assert style.ROLE["reference"] != style.ROLE["student"]
    assert style.ROLE["naive"] != style.ROLE["stable"]
    assert style.ROLE["target"] != style.ROLE["probs"]


def test_style_context_applies_and_restores_rcparams():
    before = dict(matplotlib.rcParams)
    with style.style_context():
        assert matplotlib.rcParams["axes.spines.top"] is False
        assert matplotlib.rcParams["figure.facecolor"] == "white"
        fig = Figure()
        ax = fig.subplots()
    assert dict(matplotlib.rcParams) == before
    assert not ax.spines["top"].get_visible()  # the look stays with what was made inside


def test_figure_size_and_subscript():
    assert style.figure_size(1) == (style.PANEL_WIDTH, style.FIGURE_HEIGHT)
    with pytest.raises(ValueError, match="n_panels"):
        style.figure_size(0)
    assert style.subscript(0) == "₀" and style.subscript(12) == "₁₂"
    with pytest.raises(ValueError):
        style.subscript(-1)


def test_importing_plots_and_style_changes_no_rcparams_and_needs_no_pyplot():
    # (Reading rcParams["backend"] would itself import pyplot to pick a backend: skip that key.)
    code = (
        "import matplotlib, sys\n"
        "def params(): return {k: str(matplotlib.rcParams[k]) for k in matplotlib.rcParams "
        "if k != 'backend'}\n"
        "before = params()\n"
        "import lab_utils.plots, lab_utils.style, lab_utils.explorers\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
        "lab_utils.explorers.softmax_explorer()\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported by an explorer'\n"
        "assert params() == before, 'rcParams changed'\n"
        "print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"
