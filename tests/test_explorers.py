"""The explorers: controls drive state() and pixels, on Agg and on ipympl's canvas, headless.

Each control is moved from code (``control.value = ...``, exactly what a drag does to the widget
model) and the test checks (1) ``state()`` against lab_utils.numerics and SciPy, and (2) the
rendered pixels: they change, only inside the axes, and the blitted picture equals a full redraw.
ipympl's canvas works without a browser; the browser's "draw" request is replayed by calling
``canvas.handle_event({"type": "draw"})`` as the frontend's message would.
"""

from __future__ import annotations

import base64
import html
import io
import re
import subprocess
import sys
import types

import ipywidgets as widgets
import numpy as np
import pytest
import scipy.special
import scipy.stats
from PIL import Image

import lab_utils
from lab_utils import canvas as canvas_module
from lab_utils import cells, explorer_base, explorers, numerics, style
from lab_utils.explorers import (
    cross_entropy_explorer,
    overflow_explorer,
    softmax_explorer,
    temperature_explorer,
    training_explorer,
)
from tests.ipympl_frontend import FrameSpy, connect_frontend


def small_training():
    """Weights of a short seeded softmax regression on 30 digits, and 5 test digits to look at."""
    from lab_utils import regression
    from lab_utils.datasets import digits_split

    digits = digits_split(test_size=0.25, seed=0)
    bias = lambda X: np.hstack([X, np.ones((len(X), 1))])  # noqa: E731
    _, _, weights = regression.train_softmax(
        bias(digits.X_train[:300]),
        digits.y_train[:300],
        0.5,
        1e-3,
        epochs=4,
        batch_size=50,
        seed=0,
        keep_weights=True,
    )
    return weights, bias(digits.X_test[:5]), digits.images_test[:5], digits.y_test[:5]


MAKERS = {
    "softmax": softmax_explorer,
    "temperature": temperature_explorer,
    "cross_entropy": cross_entropy_explorer,
    "overflow": overflow_explorer,
    "training": lambda: training_explorer(*small_training()),
}


@pytest.fixture(params=["agg", "ipympl"])
def backend(request, monkeypatch):
    """Run the test once with the Agg canvas and once with ipympl's canvas."""
    use_ipympl = request.param == "ipympl"
    monkeypatch.setattr(canvas_module, "ipympl_active", lambda: use_ipympl)
    return request.param


# Nothing an explorer does may warn (tests/conftest.py's no_warnings, in every test here).
pytestmark = pytest.mark.usefixtures("no_warnings")


def shown(explorer) -> np.ndarray:
    """The pixels the user sees now (for ipympl: after the frame the browser asks for)."""
    if explorer.uses_ipympl:
        explorer.canvas.handle_event({"type": "draw"})
    return np.asarray(explorer.canvas.buffer_rgba()).copy()


def full_redraw(explorer) -> np.ndarray:
    explorer.canvas.draw()
    return np.asarray(explorer.canvas.buffer_rgba()).copy()


def axes_mask(explorer, axes, pad: int = 2) -> np.ndarray:
    """Boolean image mask of the given axes' areas (display y runs up, image rows run down)."""
    height, width = np.asarray(explorer.canvas.buffer_rgba()).shape[:2]
    mask = np.zeros((height, width), dtype=bool)
    for ax in axes:
        x0, y0, x1, y1 = ax.bbox.extents
        rows = slice(max(int(height - y1) - pad, 0), min(int(np.ceil(height - y0)) + pad, height))
        cols = slice(max(int(x0) - pad, 0), min(int(np.ceil(x1)) + pad, width))
        mask[rows, cols] = True
    return mask


def changed(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    return np.any(before != after, axis=2)


def assert_redraw_is_local_and_exact(explorer, before, after, must_change):
    """Pixels changed in each axes of ``must_change``, nowhere outside the axes, and the blitted
    picture is identical to a full redraw of the same state."""
    diff = changed(before, after)
    for ax in must_change:
        assert diff[axes_mask(explorer, [ax])].any(), f"nothing changed in {ax.get_title()!r}"
    assert not diff[~axes_mask(explorer, explorer.axes)].any(), "pixels changed outside the axes"
    np.testing.assert_array_equal(after, full_redraw(explorer))


def assert_healthy(explorer):
    assert explorer.errors == []
    assert "The explorer hit an error" not in explorer.message.value


# --------------------------------------------------------------------------- softmax_explorer


@pytest.mark.parametrize("index", range(4))
def test_softmax_each_logit_slider_changes_state_and_pixels(backend, index):
    explorer = softmax_explorer()
    before = (full_redraw(explorer), shown(explorer))[1]
    explorer.controls[f"z{index}"].value = -4.5
    state = explorer.state()
    expected = np.array([2.0, 1.0, 0.1, -1.0])
    expected[index] = -4.5
    np.testing.assert_array_equal(state["logits"], expected)
    np.testing.assert_array_equal(state["probs"], numerics.softmax(expected))
    np.testing.assert_allclose(state["probs"], scipy.special.softmax(expected), rtol=1e-12)
    after = shown(explorer)
    assert_redraw_is_local_and_exact(explorer, before, after, explorer.axes)
    assert explorer.blitter.partial_draws >= 1
    assert_healthy(explorer)


def test_softmax_labels_and_readout_print_the_numbers(backend):
    explorer = softmax_explorer(logits=[0.0, np.log(3.0)])
    assert [t.get_text() for t in explorer.artists["p_bars"].texts] == ["0.2500", "0.7500"]
    assert [t.get_text() for t in explorer.artists["z_bars"].texts] == ["0.00", "1.10"]
    assert "p = [0.2500, 0.7500]" in explorer.readout.value
    assert "sum(p) = 1.0000" in explorer.readout.value


@pytest.mark.parametrize("n", [2, 3, 7, 10])
def test_softmax_num_classes(backend, n):
    explorer = softmax_explorer(n=n)
    assert list(explorer.controls) == [f"z{i}" for i in range(n)]
    assert explorer.state()["probs"].shape == (n,)
    explorer.controls[f"z{n - 1}"].value = 9.0
    assert explorer.state()["logits"][n - 1] == 9.0
    np.testing.assert_array_equal(
        explorer.state()["probs"], numerics.softmax(explorer.state()["logits"])
    )
    assert_healthy(explorer)


def test_sliders_are_labelled_keyboard_widgets_with_a_wide_range():
    import ipywidgets as widgets

    explorer = softmax_explorer(n=3)
    for i in range(3):
        slider = explorer.controls[f"z{i}"]
        assert isinstance(slider, widgets.FloatSlider)
        assert slider.description == f"z{style.subscript(i)}"
        assert slider.min <= -10 and slider.max >= 10
        assert slider.continuous_update and slider.readout
    wide = softmax_explorer(logits=[25.0, -12.5, 0.0])
    assert wide.controls["z0"].max >= 25 and wide.controls["z0"].min <= -25
    assert wide.state()["logits"].tolist() == [25.0, -12.5, 0.0]
    t = temperature_explorer().controls["T"]
    assert isinstance(t, widgets.FloatLogSlider) and t.description == "T"
    assert t.base**t.min == pytest.approx(0.05, rel=1e-6)
    assert t.base**t.max == pytest.approx(20.0, rel=1e-6)
    target = cross_entropy_explorer().controls["target"]
    assert [value for _, value in target.options] == [0, 1, 2, 3]
    dtype = overflow_explorer().controls["dtype"]
    assert list(dtype.options) == ["float16", "float32", "float64"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n": 1}, ValueError, r"n \(the number of classes\) must be between 2 and 10"),
        ({"n": 11}, ValueError, "must be between 2 and 10"),
        ({"n": 4.0}, TypeError, r"n \(the number of classes\) must be an integer"),
        ({"n": True}, TypeError, "must be an integer, got the boolean"),
        ({"logits": [1.0]}, ValueError, "between 2 and 10 values"),
        ({"logits": list(range(11))}, ValueError, "between 2 and 10 values"),
        ({"logits": [[1.0, 2.0]]}, ValueError, "1-D"),
        ({"logits": [1.0, np.nan]}, ValueError, "finite.*index 1"),
        ({"logits": [1.0, np.inf]}, ValueError, "finite"),
        ({"logits": ["a", "b"]}, TypeError, "numbers"),
        ({"logits": [True, False]}, TypeError, "logits must be real numbers, got a boolean"),
        ({"logits": [1.0, 2.0], "n": 3}, ValueError, "n=3 but logits has 2"),
        ({"fn": 3}, TypeError, "fn must be a function"),
    ],
)
def test_softmax_explorer_validates_its_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        softmax_explorer(**kwargs)


@pytest.mark.parametrize("maker", [temperature_explorer, cross_entropy_explorer])
def test_other_explorers_validate_logits(maker):
    with pytest.raises(ValueError, match="logits must be finite"):
        maker([0.0, np.nan, 1.0])
    with pytest.raises(ValueError, match="between 2 and 10"):
        maker([1.0])


# --------------------------------------------------------------------------- student functions


def correct_softmax(z):
    e = np.exp(z - np.max(z))
    return e / e.sum()


def not_written(z):
    raise NotImplementedError


def raises_value_error(z):
    raise ValueError("shapes do not match")


def forgets_return(z):
    np.exp(z)


def returns_nan(z):
    return np.full_like(z, np.nan)


def returns_batch(z):
    return correct_softmax(z)[None, :]


def unnormalised(z):
    return np.exp(z)


def returns_text(z):
    return "0.25"


def negative(z):  # sums to 1, but p0 < 0
    return correct_softmax(z) + np.array([-1.0, 1.0, 0.0, 0.0])


def overflowing(z):  # the naive formula at large scale: warns and returns NaN
    e = np.exp(1000.0 * z)
    return e / e.sum()


def exits(z):  # what `sys.exit()` or `exit()` in a student's function does
    raise SystemExit(0)


def slightly_off(z):
    p = correct_softmax(z)
    return p + np.array([0.0, 0.01, -0.01, 0.0])


BAD_STUDENTS = {
    not_written: "not written yet",
    raises_value_error: "raised ValueError",
    forgets_return: "returned None",
    returns_nan: "NaN at index 0",
    returns_batch: "wrong shape (1, 4)",
    unnormalised: "sums to",
    returns_text: "returned a str",
    negative: "negative value",
    overflowing: "NaN at index",
    exits: "raised SystemExit",
    slightly_off: "differs at p₁, p₂",
}


@pytest.mark.parametrize("fn", list(BAD_STUDENTS), ids=[f.__name__ for f in BAD_STUDENTS])
def test_a_broken_student_function_gets_a_message_and_the_explorer_keeps_working(backend, fn):
    explorer = softmax_explorer(fn=fn)
    state = explorer.state()
    assert state["student_ok"] is False
    assert state["student_short"].startswith(f"{fn.__name__}: {BAD_STUDENTS[fn]}")
    assert fn.__name__ in explorer.message.value
    assert explorer.artists["status"].get_text() == state["student_short"]
    np.testing.assert_array_equal(state["probs"], numerics.softmax(state["logits"]))
    before = (full_redraw(explorer), shown(explorer))[1]
    explorer.controls["z1"].value = 5.0  # the reference keeps working
    after = shown(explorer)
    assert explorer.state()["logits"][1] == 5.0
    np.testing.assert_array_equal(
        explorer.state()["probs"], numerics.softmax(explorer.state()["logits"])
    )
    assert_redraw_is_local_and_exact(explorer, before, after, explorer.axes)
    assert explorer.errors == []
    assert fn.__name__ in repr(explorer)


def test_overflowing_student_function_reports_the_warning_instead_of_leaking_it():
    explorer = softmax_explorer(fn=overflowing)
    assert "overflow encountered in exp" in explorer.state()["student_message"]


def test_student_mismatch_is_highlighted_on_the_right_bars(backend):
    explorer = softmax_explorer(fn=slightly_off)
    mismatch = explorer.state()["student_mismatch"]
    assert mismatch.tolist() == [False, True, True, False]
    hatches = [bar.get_hatch() for bar in explorer.artists["s_bars"].bars]
    assert hatches == [None, style.INVALID_HATCH, style.INVALID_HATCH, None]


def test_correct_student_function_matches_and_is_drawn_beside_the_reference(backend):
    explorer = softmax_explorer(fn=correct_softmax)
    state = explorer.state()
    assert state["student_ok"] is True and "matches" in state["student_short"]
    np.testing.assert_allclose(state["student_probs"], state["probs"], rtol=1e-12)
    assert state["max_abs_diff"] < 1e-12
    assert all(
        bar.get_visible() and bar.get_hatch() is None for bar in explorer.artists["s_bars"].bars
    )
    np.testing.assert_allclose(
        [b.get_height() for b in explorer.artists["s_bars"].bars], state["probs"]
    )


def test_student_function_that_fails_only_for_some_inputs(backend):
    def fails_on_negative(z):
        if np.any(z < 0):
            raise ValueError("negative logits not handled")
        return correct_softmax(z)

    explorer = softmax_explorer(fn=fails_on_negative, logits=[1.0, 2.0, 3.0])
    assert explorer.state()["student_ok"]
    explorer.controls["z0"].value = -1.0
    assert not explorer.state()["student_ok"]
    assert not any(bar.get_visible() for bar in explorer.artists["s_bars"].bars)  # nothing to draw
    explorer.controls["z0"].value = 1.0
    assert explorer.state()["student_ok"]
    assert all(bar.get_visible() for bar in explorer.artists["s_bars"].bars)


def test_student_function_gets_a_copy(backend):
    def mutates(z):
        z -= 100.0
        return correct_softmax(z)

    explorer = softmax_explorer(fn=mutates)
    np.testing.assert_array_equal(explorer.state()["logits"], [2.0, 1.0, 0.1, -1.0])
    assert explorer.state()["student_ok"]


# --------------------------------------------------------------------------- temperature_explorer


def test_temperature_slider_changes_probs_entropy_and_pixels(backend):
    explorer = temperature_explorer()
    before = (full_redraw(explorer), shown(explorer))[1]
    explorer.controls["T"].value = 4.0
    state = explorer.state()
    z = np.array([2.0, 1.0, 0.1, -1.0])
    assert state["T"] == pytest.approx(4.0)
    np.testing.assert_allclose(state["probs"], scipy.special.softmax(z / state["T"]), rtol=1e-12)
    assert state["entropy"] == pytest.approx(numerics.entropy(state["probs"]), rel=1e-12)
    assert state["entropy"] == pytest.approx(scipy.stats.entropy(state["probs"]), rel=1e-12)
    assert state["max_entropy"] == pytest.approx(np.log(4))
    after = shown(explorer)
    assert_redraw_is_local_and_exact(explorer, before, after, explorer.axes)
    # The entropy point sits on the curve at the current T.
    x, y = explorer.artists["point"].get_data()
    assert x[0] == pytest.approx(state["T"]) and y[0] == pytest.approx(state["entropy"])
    assert f"H = {state['entropy']:.4f} nats" in explorer.readout.value
    assert_healthy(explorer)


def test_temperature_limits(backend):
    explorer = temperature_explorer([1.0, 3.0, 3.0, -2.0])
    state = explorer.state()
    np.testing.assert_array_equal(state["limit_T0"], [0.0, 0.5, 0.5, 0.0])  # a tie splits
    np.testing.assert_array_equal(state["limit_Tinf"], [0.25] * 4)
    explorer.controls["T"].value = 0.05
    np.testing.assert_allclose(explorer.state()["probs"], state["limit_T0"], atol=1e-15)
    explorer.controls["T"].value = 20.0
    np.testing.assert_allclose(explorer.state()["probs"], state["limit_Tinf"], atol=0.07)
    assert explorer.state()["entropy"] <= np.log(4)
    assert [bar.get_height() for bar in explorer.artists["limit_zero"]] == [0.0, 0.5, 0.5, 0.0]


def test_temperature_logit_slider_moves_the_entropy_curve(backend):
    explorer = temperature_explorer()
    curve_before = explorer.artists["curve"].get_ydata().copy()
    before = (full_redraw(explorer), shown(explorer))[1]
    explorer.controls["z0"].value = -3.0
    state = explorer.state()
    assert state["logits"][0] == -3.0
    np.testing.assert_allclose(state["probs"], scipy.special.softmax(state["logits"]), rtol=1e-12)
    curve = explorer.artists["curve"].get_ydata()
    assert not np.allclose(curve, curve_before)
    grid = explorer._GRID
    i = int(np.argmin(np.abs(grid - 1.0)))
    expected = numerics.entropy(numerics.softmax(state["logits"], temperature=grid[i]))
    assert curve[i] == pytest.approx(expected, rel=1e-12)
    assert_redraw_is_local_and_exact(explorer, before, shown(explorer), explorer.axes)


# --------------------------------------------------------------------------- cross_entropy_explorer


def test_cross_entropy_target_changes_loss_grad_and_pixels(backend):
    explorer = cross_entropy_explorer()
    before = (full_redraw(explorer), shown(explorer))[1]
    explorer.controls["target"].value = 2
    state = explorer.state()
    z = np.array([2.0, 1.0, 0.1, -1.0])
    assert state["target"] == 2
    assert state["loss"] == pytest.approx(-scipy.special.log_softmax(z)[2], rel=1e-12)
    assert state["loss"] == numerics.cross_entropy(z, 2)
    np.testing.assert_allclose(state["grad"], scipy.special.softmax(z) - np.eye(4)[2], atol=1e-15)
    np.testing.assert_array_equal(state["grad"], numerics.cross_entropy_grad(z, 2))
    after = shown(explorer)
    # The probabilities do not change, but the target's colour does; loss and gradient move.
    assert_redraw_is_local_and_exact(explorer, before, after, explorer.axes)
    np.testing.assert_allclose(
        explorer.artists["p_bars"].bars[2].get_facecolor()[:3], matplotlib_rgb(style.ROLE["target"])
    )
    x, y = explorer.artists["point"].get_data()
    assert x[0] == pytest.approx(state["probs"][2]) and y[0] == pytest.approx(state["loss"])
    assert f"loss = -log p[2] = {state['loss']:.4f}" in explorer.readout.value
    assert_healthy(explorer)


def matplotlib_rgb(color):
    from matplotlib.colors import to_rgb

    return to_rgb(color)


def test_cross_entropy_logit_slider_and_a_confident_mistake(backend):
    explorer = cross_entropy_explorer([0.0, 0.0, 0.0])
    before = (full_redraw(explorer), shown(explorer))[1]
    explorer.controls["z0"].value = -10.0
    explorer.controls["z1"].value = 10.0
    state = explorer.state()  # target 0 at -10 while class 1 is at +10: loss about 20
    assert state["loss"] == pytest.approx(-scipy.special.log_softmax([-10.0, 10.0, 0.0])[0])
    assert state["loss"] > 19
    # Off the top of the loss axes: pinned to the edge and drawn as an arrow head.
    assert explorer.artists["point"].get_marker() == "^"
    assert explorer.artists["point"].get_data()[1][0] < explorer.axes[1].get_ylim()[1]
    assert_redraw_is_local_and_exact(explorer, before, shown(explorer), explorer.axes)
    np.testing.assert_allclose(state["grad"].sum(), 0.0, atol=1e-15)


# --------------------------------------------------------------------------- overflow_explorer


def test_overflow_dtype_and_scale_show_nan_in_naive_only(backend):
    explorer = overflow_explorer()
    state = explorer.state()
    assert state["dtype"] == "float32" and not np.isnan(state["naive"]).any()
    before = (full_redraw(explorer), shown(explorer))[1]
    explorer.controls["dtype"].value = "float16"
    explorer.controls["scale"].value = 20.0
    state = explorer.state()
    z = (20.0 * np.array(explorer.base)).astype(np.float16)
    np.testing.assert_array_equal(state["logits"], z)
    assert state["naive"].dtype == np.float16
    assert np.isnan(state["naive"][0])  # exp(20) overflows float16 (max 65504)
    np.testing.assert_array_equal(state["naive"], numerics.naive_softmax(z))
    np.testing.assert_array_equal(state["stable"], numerics.softmax(z))
    assert np.isfinite(state["stable"]).all() and state["stable"].sum() == pytest.approx(
        1, abs=1e-3
    )
    assert state["exp_overflowed"]
    assert state["overflow_threshold"] == pytest.approx(np.log(65504.0))
    labels = [t.get_text() for t in explorer.artists["n_bars"].texts]
    assert (
        labels[0] == "NaN" and explorer.artists["n_bars"].bars[0].get_hatch() == style.INVALID_HATCH
    )
    assert "NaN" not in [t.get_text() for t in explorer.artists["s_bars"].texts]
    assert "naive  = [NaN" in explorer.readout.value
    after = shown(explorer)
    assert_redraw_is_local_and_exact(explorer, before, after, explorer.axes)
    assert_healthy(explorer)


@pytest.mark.parametrize(
    ("dtype", "safe", "broken"),
    [("float16", 10.0, 12.0), ("float32", 80.0, 100.0), ("float64", 700.0, 720.0)],
)
def test_overflow_threshold_per_dtype(dtype, safe, broken):
    explorer = overflow_explorer()
    explorer.controls["dtype"].value = dtype
    explorer.controls["scale"].value = safe
    assert np.isfinite(explorer.state()["naive"]).all()
    explorer.controls["scale"].value = broken
    assert np.isnan(explorer.state()["naive"]).any()
    assert np.isfinite(explorer.state()["stable"]).all()


# --------------------------------------------------------------------------- training_explorer


def test_training_epoch_and_image_sliders_change_state_and_pixels(backend):
    weights, X, images, labels = small_training()
    explorer = training_explorer(weights, X, images, labels)
    state = explorer.state()
    assert (state["epoch"], state["image"], state["label"]) == (0, 0, labels[0])
    # Epoch 0 is the small random start: ten nearly equal probabilities.
    np.testing.assert_allclose(state["probs"], 0.1, atol=0.01)
    before = (full_redraw(explorer), shown(explorer))[1]
    explorer.controls["epoch"].value = 4
    state = explorer.state()
    np.testing.assert_allclose(state["logits"], X[0] @ weights[4], rtol=1e-12)
    np.testing.assert_allclose(state["probs"], scipy.special.softmax(X[0] @ weights[4]), rtol=1e-12)
    assert state["predicted"] == int(np.argmax(X[0] @ weights[4]))
    assert state["loss"] == pytest.approx(
        -scipy.special.log_softmax(X[0] @ weights[4])[labels[0]], rel=1e-12
    )
    after = shown(explorer)
    ax_image, ax_z, ax_p = explorer.axes
    assert_redraw_is_local_and_exact(explorer, before, after, [ax_z, ax_p])
    assert not changed(before, after)[axes_mask(explorer, [ax_image], pad=0)].any(), "same digit"
    explorer.controls["image"].value = 3
    again = shown(explorer)
    assert_redraw_is_local_and_exact(explorer, after, again, explorer.axes)
    assert explorer.state()["label"] == labels[3]
    assert f"label y = {labels[3]}" in explorer.readout.value
    assert_healthy(explorer)


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda w, X, i, y: ([], X, i, y), "non-empty sequence"),
        (lambda w, X, i, y: ([np.full_like(w[0], np.nan)], X, i, y), "must be finite"),
        (lambda w, X, i, y: (w, X[:, :-1], i, y), "X must have shape"),
        (lambda w, X, i, y: (w, X, i[:2], y), "images must have shape"),
        (lambda w, X, i, y: (w, X, i, y.astype(float)), "labels must be"),
    ],
)
def test_training_explorer_validates_its_arguments(change, match):
    with pytest.raises(ValueError, match=match):
        training_explorer(*change(*small_training()))


# --------------------------------------------------------------------------- drawing machinery


@pytest.mark.parametrize("kind", list(MAKERS))
def test_first_display_and_figure_are_complete(backend, kind):
    explorer = MAKERS[kind]()
    bundle = explorer._repr_mimebundle_()
    assert set(bundle) == {
        "text/plain",
        "image/png",
        "text/html",
        "application/vnd.jupyter.widget-view+json",
    }
    # Without widgets, the HTML is the whole explorer: the same figure and the printed readout.
    assert f'src="data:image/png;base64,{bundle["image/png"]}"' in bundle["text/html"]
    assert f'alt="{html.escape(bundle["text/plain"])}"' in bundle["text/html"]
    readout = explorer.readout.value
    assert readout.startswith("<pre") and readout in bundle["text/html"]
    png = Image.open(io.BytesIO(base64.b64decode(bundle["image/png"])))
    assert png.size == explorer.canvas.get_width_height(physical=True)
    # The static PNG is the figure as shown, animated artists included.
    pixels = np.asarray(png.convert("RGB"))
    np.testing.assert_array_equal(pixels, full_redraw(explorer)[..., :3])
    assert bundle["text/plain"].startswith(explorer.kind + ":")
    assert "0x" not in bundle["text/plain"]
    assert (
        bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == explorer.widget.model_id
    )
    assert explorer.figure is explorer.canvas.figure
    assert explorer.errors == []


def test_text_plain_is_deterministic_and_computed():
    a, b = softmax_explorer(), softmax_explorer()
    assert a._repr_mimebundle_()["text/plain"] == b._repr_mimebundle_()["text/plain"]
    p = scipy.special.softmax([2.0, 1.0, 0.1, -1.0])
    assert repr(a) == (
        "softmax_explorer: z=[2.0, 1.0, 0.1, -1.0] -> p=[" + ", ".join(f"{v:.4f}" for v in p) + "]"
    )
    assert repr(softmax_explorer(fn=not_written)).endswith("| not_written: not written yet")
    bundle = temperature_explorer()._repr_mimebundle_(include={"text/plain"})
    assert set(bundle) == {"text/plain"}


def test_agg_image_widget_follows_the_slider(monkeypatch):
    monkeypatch.setattr(canvas_module, "ipympl_active", lambda: False)
    explorer = softmax_explorer()
    first = explorer.view.value
    explorer.controls["z2"].value = 8.0
    assert explorer.view.value != first
    shown_now = np.asarray(Image.open(io.BytesIO(explorer.view.value)).convert("RGB"))
    np.testing.assert_array_equal(shown_now, full_redraw(explorer)[..., :3])
    assert explorer.blitter.partial_draws >= 1


def test_ipympl_answers_a_browser_frame_request_with_a_blit(monkeypatch):
    monkeypatch.setattr(canvas_module, "ipympl_active", lambda: True)
    explorer = softmax_explorer()
    canvas = explorer.canvas
    calls = []
    monkeypatch.setattr(canvas, "blit", lambda bbox=None: calls.append("blit"))
    full_redraw(explorer)
    full_draws = explorer.blitter.full_draws
    explorer.controls["z0"].value = 6.0
    assert calls == []  # nothing is drawn until the browser asks for a frame
    canvas.handle_event({"type": "draw"})
    assert calls == ["blit"] and explorer.blitter.full_draws == full_draws
    # Anything else asking for a draw (resize, DPI change, user code) gets a full draw.
    canvas.draw_idle()
    canvas.handle_event({"type": "draw"})
    assert explorer.blitter.full_draws == full_draws + 1 and calls == ["blit"]


def test_ipympl_canvas_sends_the_blitted_pixels(monkeypatch):
    monkeypatch.setattr(canvas_module, "ipympl_active", lambda: True)
    monkeypatch.setattr(canvas_module, "FULL_FRAME_GUARD_S", 0.0)
    explorer = softmax_explorer()
    canvas = explorer.canvas
    sent = []
    monkeypatch.setattr(canvas, "send_binary", lambda data: sent.append(data))
    canvas.handle_event({"type": "draw"})  # first frame: full
    explorer.controls["z3"].value = 7.0
    canvas.handle_event({"type": "draw"})
    assert len(sent) == 2
    assert explorer.blitter.partial_draws >= 1
    # The second frame is a diff: it holds the changed pixels only (transparent elsewhere).
    diff = np.asarray(Image.open(io.BytesIO(sent[1])))
    assert canvas.image_mode == "diff"
    assert 0 < np.count_nonzero(diff[..., 3]) < 0.5 * diff[..., 3].size


def test_ipympl_pushes_a_frame_on_a_change_without_waiting_to_be_asked(monkeypatch):
    monkeypatch.setattr(canvas_module, "ipympl_active", lambda: True)
    monkeypatch.setattr(canvas_module, "FULL_FRAME_GUARD_S", 0.0)
    explorer = softmax_explorer()
    spy = FrameSpy(explorer.canvas, monkeypatch)
    connect_frontend(explorer.canvas)
    assert [mode for mode, _ in spy.frames] == ["full"]
    del spy.events[:]
    full_draws = explorer.blitter.full_draws
    explorer.controls["z1"].value = 4.5
    # One frame went out at once, a blitted diff, and the browser was not asked to ask for one.
    assert [mode for mode, _ in spy.frames] == ["full", "diff"]
    assert "draw" not in spy.events
    assert explorer.blitter.full_draws == full_draws and explorer.blitter.partial_draws >= 1
    np.testing.assert_array_equal(spy.picture(), full_redraw(explorer))


def test_ipympl_without_a_frontend_pushes_nothing(monkeypatch):
    monkeypatch.setattr(canvas_module, "ipympl_active", lambda: True)
    explorer = softmax_explorer()
    spy = FrameSpy(explorer.canvas, monkeypatch)
    explorer.controls["z1"].value = 4.5  # e.g. nbval or nbconvert: no view, so no frames
    assert spy.frames == [] and spy.events == ["draw"]


def test_ipympl_any_pushed_frame_alone_gives_the_exact_picture(monkeypatch):
    """The frontend drops a frame whose successor arrives before it has loaded; whichever frames
    are lost in a fast drag, the last one drawn over the full frame shows the exact figure."""
    monkeypatch.setattr(canvas_module, "ipympl_active", lambda: True)
    monkeypatch.setattr(canvas_module, "FULL_FRAME_GUARD_S", 0.0)
    explorer = softmax_explorer()
    spy = FrameSpy(explorer.canvas, monkeypatch)
    connect_frontend(explorer.canvas)
    expected = []
    for name, value in [
        ("z0", 9.0),
        ("z0", -9.0),
        ("z2", 6.0),
        ("z0", 2.0),
        ("z2", 0.1),
        ("z3", 3.3),
    ]:
        explorer.controls[name].value = value
        expected.append(np.asarray(explorer.canvas.buffer_rgba()).copy())
    first, pushed = spy.frames[0], spy.frames[1:]
    assert first[0] == "full" and [mode for mode, _ in pushed] == ["diff"] * len(expected)
    for frame, picture in zip(pushed, expected, strict=True):
        np.testing.assert_array_equal(spy.picture([first, frame]), picture)
    # Drawn all in order, or with every other frame lost, the end is the same exact picture.
    np.testing.assert_array_equal(spy.picture(), full_redraw(explorer))
    np.testing.assert_array_equal(spy.picture([first, *pushed[::2], pushed[-1]]), expected[-1])
    # z2 went back to its start (0.1): its pixels are sent again, over whatever was shown.
    np.testing.assert_array_equal(spy.picture([first, pushed[2], pushed[-1]]), expected[-1])


def test_ipympl_frames_right_after_a_full_frame_are_full(monkeypatch):
    """A diff must not replace the full frame it builds on before the browser has drawn it."""
    monkeypatch.setattr(canvas_module, "ipympl_active", lambda: True)
    monkeypatch.setattr(canvas_module, "FULL_FRAME_GUARD_S", 60.0)
    explorer = softmax_explorer()
    spy = FrameSpy(explorer.canvas, monkeypatch)
    connect_frontend(explorer.canvas)
    explorer.controls["z0"].value = 5.0
    explorer.controls["z0"].value = 6.0
    assert [mode for mode, _ in spy.frames] == ["full", "full", "full"]
    np.testing.assert_array_equal(spy.picture(spy.frames[-1:]), full_redraw(explorer))


def test_ipympl_repaints_with_a_full_frame_when_the_changes_stop(monkeypatch):
    import asyncio

    monkeypatch.setattr(canvas_module, "ipympl_active", lambda: True)
    monkeypatch.setattr(canvas_module, "FULL_FRAME_GUARD_S", 0.0)
    monkeypatch.setattr(canvas_module, "TRAILING_FRAME_DELAY_S", 0.05)
    explorer = softmax_explorer()
    spy = FrameSpy(explorer.canvas, monkeypatch)
    connect_frontend(explorer.canvas)

    async def drag():  # the kernel runs the widget callbacks in its event loop
        for value in (3.0, 4.0, 5.0):
            explorer.controls["z0"].value = value
        await asyncio.sleep(0.3)

    asyncio.run(drag())
    assert [mode for mode, _ in spy.frames] == ["full", "diff", "diff", "diff", "full"]
    np.testing.assert_array_equal(spy.picture(spy.frames[-1:]), full_redraw(explorer))
    assert explorer.errors == []


def test_control_labels_are_never_cut():
    for make in MAKERS.values():
        for name, control in make().controls.items():
            assert control.style.description_width == "initial", name


def test_resize_invalidates_the_background(backend):
    explorer = softmax_explorer()
    full_redraw(explorer)
    explorer.figure.set_size_inches(8.0, 3.5)
    assert not explorer.blitter.valid()
    explorer.controls["z1"].value = 3.0
    after = shown(explorer)
    assert after.shape[:2] == (350, 800)
    np.testing.assert_array_equal(after, full_redraw(explorer))


def test_errors_inside_a_callback_are_shown_not_raised(backend, monkeypatch):
    explorer = softmax_explorer()

    def broken(state):
        raise RuntimeError("boom")

    monkeypatch.setattr(explorer, "_show", broken)
    explorer.controls["z0"].value = 1.5  # must not raise
    assert explorer.errors == ["RuntimeError: boom"]
    assert "boom" in explorer.message.value


def test_close_disconnects(backend):
    explorer = softmax_explorer()
    explorer.close()
    explorer.close()  # twice is fine
    assert explorer.widget.comm is None
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" not in bundle
    # The static picture is still complete (bars included).
    png = np.asarray(Image.open(io.BytesIO(base64.b64decode(bundle["image/png"]))).convert("RGB"))
    explorer.figure.set_size_inches(7.0, 3.0)  # forces a full draw on the next render
    np.testing.assert_array_equal(png[..., :3].shape[:2], (320, 720))
    resized = np.asarray(Image.open(io.BytesIO(explorer.png())).convert("RGB"))
    bars = explorer.artists["p_bars"].bars[0]
    x0, y0, x1, y1 = bars.get_window_extent().extents
    row, col = int(resized.shape[0] - (y0 + y1) / 2), int((x0 + x1) / 2)
    np.testing.assert_allclose(
        resized[row, col] / 255, matplotlib_rgb(style.ROLE["probs"]), atol=0.01
    )


def test_no_figure_pile_up(backend):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    made = [MAKERS[kind]() for kind in MAKERS for _ in range(5)]
    assert plt.get_fignums() == before
    assert len({id(e.figure) for e in made}) == len(made)


def test_rerunning_a_cell_closes_the_explorers_of_its_previous_run(monkeypatch):
    context = {"value": ("cell-a", 1)}
    monkeypatch.setattr(cells, "current_cell", lambda: context["value"])
    monkeypatch.setattr(cells, "REGISTRY", cells.CellRegistry())
    first, second = softmax_explorer(), temperature_explorer()  # same run: both stay
    assert not first.closed and not second.closed
    context["value"] = ("cell-b", 2)
    other = softmax_explorer()  # another cell: untouched
    context["value"] = ("cell-a", 3)  # cell a runs again
    rerun = softmax_explorer()
    assert first.closed and second.closed
    assert not other.closed and not rerun.closed


def test_real_ipympl_backend_in_a_fresh_interpreter():
    code = """
import warnings; warnings.simplefilter("error", RuntimeWarning)
import matplotlib
matplotlib.use("module://ipympl.backend_nbagg")
import ipywidgets as widgets
import numpy as np
import lab_utils
from ipympl.backend_nbagg import Canvas
for make in (lab_utils.softmax_explorer, lab_utils.temperature_explorer,
             lab_utils.cross_entropy_explorer, lab_utils.overflow_explorer):
    e = make()
    assert isinstance(e.canvas, Canvas) and e.widget.children[0] is not e.canvas  # no browser yet
    e.canvas._handle_message(e.canvas, {"type": "initialized"}, [])
    assert e.widget.children[0] is e.canvas
    e.canvas.draw()
    name = next(iter(e.controls))
    c = e.controls[name]
    c.value = c.options[-1] if hasattr(c, "options") and c.options else c.max if not hasattr(c, "base") else c.base ** c.max
    e.canvas.handle_event({"type": "draw"})
    shown = np.asarray(e.canvas.buffer_rgba()).copy()
    e.canvas.draw()
    assert np.array_equal(shown, np.asarray(e.canvas.buffer_rgba())), make.__name__
    assert e.blitter.partial_draws >= 1 and not e.errors, (make.__name__, e.errors)
import matplotlib.pyplot as plt
assert plt.get_fignums() == []
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_import_and_explorers_do_not_import_tensorflow():
    code = (
        "import sys, lab_utils\n"
        "for name in ('softmax_explorer', 'temperature_explorer', 'cross_entropy_explorer',"
        " 'overflow_explorer'):\n"
        "    getattr(lab_utils, name)()\n"
        "import numpy as np\n"
        "lab_utils.training_explorer([np.zeros((2, 2))], np.eye(2), np.zeros((2, 1, 1)), np.array([0, 1]))\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
    assert out.stderr == ""


def test_lab_utils_exports_the_explorers():
    for name in (
        "softmax_explorer",
        "temperature_explorer",
        "cross_entropy_explorer",
        "overflow_explorer",
        "training_explorer",
    ):
        assert getattr(lab_utils, name) is getattr(explorers, name)


# ------------------------------------------------------------- where the widget frontend is missing


def test_ipympl_shows_a_live_still_picture_until_a_browser_has_the_canvas(monkeypatch):
    """A page without ipympl's extension never makes the canvas's model: the explorer's box must
    not hold the canvas then (the whole box would fail), but a picture that follows the sliders."""
    monkeypatch.setattr(canvas_module, "ipympl_active", lambda: True)
    explorer = softmax_explorer()
    still = explorer.widget.children[0]
    assert isinstance(still, widgets.HTML) and still is not explorer.canvas
    first = still.value
    assert (
        first.startswith('<img src="data:image/png;base64,') and 'alt="softmax_explorer: ' in first
    )
    explorer.controls["z1"].value = 4.5
    assert still.value != first and html.escape(repr(explorer)) in still.value
    png = base64.b64decode(re.search(r"base64,([^\"]+)", still.value).group(1))
    shown = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    np.testing.assert_array_equal(shown, full_redraw(explorer)[..., :3])

    connect_frontend(explorer.canvas)  # the browser's ipympl made the canvas's model
    assert explorer.widget.children[0] is explorer.canvas
    assert still.comm is None  # closed
    connect_frontend(explorer.canvas)  # a reload: nothing more to swap
    assert explorer.widget.children[0] is explorer.canvas and explorer.errors == []


def test_controls_have_the_maths_names(backend):
    names = {kind: [c.tooltip for c in MAKERS[kind]().controls.values()] for kind in MAKERS}
    assert names["softmax"] == ["z_0", "z_1", "z_2", "z_3"]
    assert names["temperature"] == ["z_0", "z_1", "z_2", "z_3", "T"]
    assert names["cross_entropy"] == ["z_0", "z_1", "z_2", "z_3", "target y"]
    assert names["overflow"] == ["scale s", "dtype"]
    assert names["training"] == ["epoch", "test image"]
    assert explorer_base._spoken("z₁₀") == "z_10"


def test_the_figures_text_alternative_follows_it(monkeypatch):
    monkeypatch.setattr(canvas_module, "ipympl_active", lambda: True)
    explorer = cross_entropy_explorer()
    bridge = explorer.canvas.bridge
    assert bridge.alt == repr(explorer)
    explorer.controls["target"].value = 2
    assert bridge.alt == repr(explorer) and "y=2" in bridge.alt


def test_on_colab_the_custom_widget_manager_is_enabled_once(monkeypatch):
    calls = []
    output = types.ModuleType("google.colab.output")
    output.enable_custom_widget_manager = lambda: calls.append("enabled")
    colab = types.ModuleType("google.colab")
    colab.output = output
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab.output", output)
    monkeypatch.setattr(explorer_base, "_COLAB_WIDGETS", False)
    # Agg: no frame bridge, whose anywidget enables the manager too (when it sees google.colab).
    monkeypatch.setattr(canvas_module, "ipympl_active", lambda: False)
    softmax_explorer()
    temperature_explorer()
    assert calls == ["enabled"]


def test_elsewhere_nothing_is_enabled(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", None)  # import fails, as outside Colab
    monkeypatch.setattr(explorer_base, "_COLAB_WIDGETS", False)
    softmax_explorer()
    assert explorer_base._COLAB_WIDGETS is True
