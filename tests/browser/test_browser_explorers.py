"""The five explorers answer the keyboard and the mouse in JupyterLab and in Notebook 7, in a real
Chromium (every test runs once per front end, with the same assertions).

A temporary notebook displays each explorer once, and the softmax explorer a second time with its
frame patches deflated (the course notebooks are checked as a whole in
test_browser_notebooks.py; here each control is worked on its own). For one slider of every explorer
the tests press the arrow keys on the focused handle, then drag the handle with the mouse; after each
they wait for the figure's pixels to change and for the printed readout to show the slider's new
value, and check every printed number against SciPy. The cross-entropy target and the overflow dtype
are changed the way a student would: the dropdown and the toggle buttons.
"""

from __future__ import annotations

import math
import re
import time

import numpy as np
import pytest
from scipy import special

from tests.browser.browser_support import (
    FRONTENDS,
    ExplorerView,
    NotebookPage,
    jupyterlab_server,
    write_notebook,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("frontend", list(FRONTENDS), scope="module"),
]

EXPLORER_CELLS = [
    "%matplotlib widget\nimport lab_utils",
    "lab_utils.softmax_explorer()",
    "lab_utils.temperature_explorer()",
    "lab_utils.cross_entropy_explorer()",
    "lab_utils.overflow_explorer()",
    # A second softmax explorer whose patches travel deflated, as they do to a remote browser.
    "deflated = lab_utils.softmax_explorer()\ndeflated.canvas.bridge.encoding = 'deflate'\ndeflated",
    # Notebook 05's explorer, on the weights of a short seeded training, halfway through it.
    "from lab_utils import regression\n"
    "data = regression.digits_problem()\n"
    "_, _, weights = regression.train_softmax(data.X_train, data.y_train, 1.0, 0.0, 20, 64, 0, keep_weights=True)\n"
    "training = lab_utils.training_explorer(weights, data.X_test, data.images_test, data.y_test)\n"
    "training.controls['epoch'].value = 10\ntraining",
]
OVERFLOW_LOGITS = np.array([1.0, 0.8, 0.2, -1.0])  # lab_utils.explorers.OVERFLOW_LOGITS, restated


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def explorers_page(browser, tmp_path_factory, artifacts_dir, frontend):
    """One page with the explorers notebook run in ``frontend``; shared by its tests."""
    folder = tmp_path_factory.mktemp(f"explorer-notebook-{frontend}")
    # No kernel named in the file: JupyterLab asks which kernel to start, and NotebookPage.open
    # answers its dialog, as a student would, on every run (Notebook 7 starts the default one).
    write_notebook(folder / "explorers.ipynb", EXPLORER_CELLS, kernelspec=False)
    work_dir = tmp_path_factory.mktemp(f"{frontend}-explorers")
    with jupyterlab_server(folder, work_dir, frontend=frontend) as server:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(30_000)
        page = context.new_page()
        lab = NotebookPage(page, server).open("explorers.ipynb", timeout_s=90)
        lab.hide_left_sidebar()
        lab.clear_and_run_all(timeout_s=180)
        counts = lab.wait_for_painted_canvases({1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 1}, timeout_s=60)
        errors = [o for s in lab.cell_states() for o in s["outputs"] if o["output_type"] == "error"]
        assert not errors, f"the explorers notebook failed: {errors}"
        painted = [c["painted"] for c in counts[1:]]
        assert painted == [1, 1, 1, 1, 1, 1], f"explorer canvases not painted: {counts}"
        yield page
        try:
            lab.screenshot_whole_notebook(
                artifacts_dir / f"explorers-after-interaction-{frontend}.png"
            )
        finally:
            context.close()


# ------------------------------------------------------------------------------- reading the readout


# A number as the explorers print it: 0.6381, -1.0000, 1000, 1.5e+03, inf, NaN.
NUMBER = r"(-?(?:\d+(?:\.\d*)?(?:e[+-]?\d+)?|inf|NaN))"


def number(text: str, label: str) -> float:
    """The number printed right after ``label = `` in the readout."""
    match = re.search(re.escape(label) + r"\s*=\s*" + NUMBER, text)
    assert match, f"no '{label} = <number>' in the readout:\n{text}"
    return float(match.group(1))


def vector(text: str, label: str) -> np.ndarray:
    """The bracketed vector printed right after ``label = `` in the readout."""
    match = re.search(re.escape(label) + r"\s*=\s*\[([^\]]*)\]", text)
    assert match, f"no '{label} = [...]' in the readout:\n{text}"
    return np.array([float(v) for v in match.group(1).split(",")])


def slider_value(explorer: ExplorerView, name: str) -> float:
    return float(explorer.slider_text(name))


# ------------------------------------------------------------------- what the readout must say (SciPy)


def check_softmax_readout(text: str) -> None:
    z, p = vector(text, "z"), vector(text, "p")
    np.testing.assert_allclose(p, special.softmax(z), atol=6e-5, err_msg=text)
    assert number(text, "sum(p)") == pytest.approx(1.0, abs=1e-4), text


def check_temperature_readout(text: str) -> None:
    z, temperature, p = vector(text, "z"), number(text, "T"), vector(text, "p")
    # T is printed to 4 significant digits: allow for that in p and H.
    np.testing.assert_allclose(p, special.softmax(z / temperature), atol=2e-3, err_msg=text)
    entropy = float(special.entr(special.softmax(z / temperature)).sum())
    assert number(text, "H") == pytest.approx(entropy, abs=2e-3), text
    assert number(text, "max log 4") == pytest.approx(math.log(4), abs=1e-4), text


def check_cross_entropy_readout(text: str) -> None:
    z, p, grad = vector(text, "z"), vector(text, "p"), vector(text, "grad = p - e_y")
    target = int(number(text, "y"))
    np.testing.assert_allclose(p, special.softmax(z), atol=6e-5, err_msg=text)
    loss = float(special.logsumexp(z) - z[target])
    assert number(text, f"loss = -log p[{target}]") == pytest.approx(loss, abs=6e-5), text
    expected_grad = special.softmax(z) - np.eye(z.size)[target]
    np.testing.assert_allclose(grad, expected_grad, atol=6e-5, err_msg=text)


def check_overflow_readout(text: str) -> None:
    dtype = np.dtype(re.search(r"dtype = (float\d+)", text).group(1))
    scale = number(text, "scale s")
    z = vector(text, f"z = s * [{', '.join(repr(float(v)) for v in OVERFLOW_LOGITS)}]")
    naive, stable = vector(text, "naive"), vector(text, "stable")
    threshold = math.log(float(np.finfo(dtype).max))
    assert number(text, "exp overflows past z") == pytest.approx(threshold, abs=1e-4), text
    # z is scale * logits in the chosen dtype (the scale is printed to 4 significant digits).
    np.testing.assert_allclose(z, scale * OVERFLOW_LOGITS, rtol=2e-3, atol=1e-2, err_msg=text)
    tolerance = 2e-3 if dtype == np.float16 else 6e-5
    np.testing.assert_allclose(stable, special.softmax(z), atol=tolerance, err_msg=text)
    if z.max() > threshold + 0.01:
        # exp(z) is inf where z passes the threshold: inf / inf = NaN there, finite / inf = 0 elsewhere.
        overflowed = z > threshold
        assert np.all(np.isnan(naive[overflowed])), text
        np.testing.assert_array_equal(naive[~overflowed], 0.0, err_msg=text)
    elif z.max() < threshold - 0.01:
        np.testing.assert_allclose(naive, special.softmax(z), atol=tolerance, err_msg=text)


def check_training_readout(text: str) -> None:
    # z is printed with 2 decimals: p and the loss are checked to what that rounding allows.
    z, p = vector(text, "z"), vector(text, "p")
    label = int(number(text, "label y"))
    np.testing.assert_allclose(p, special.softmax(z), atol=5e-3, err_msg=text)
    assert int(number(text, "predicted")) == int(np.argmax(p)), text
    loss = float(special.logsumexp(z) - z[label])
    assert number(text, f"loss = -log p[{label}]") == pytest.approx(loss, abs=1e-2), text


CHECKS = {
    "softmax-explorer": check_softmax_readout,
    "temperature-explorer": check_temperature_readout,
    "cross-entropy-explorer": check_cross_entropy_readout,
    "overflow-explorer": check_overflow_readout,
    "training-explorer": check_training_readout,
}

# The slider each test moves, and how the readout prints that slider's value.
SLIDERS = {
    "softmax-explorer": ("z0", lambda text: vector(text, "z")[0]),
    "temperature-explorer": ("T", lambda text: number(text, "T")),
    "cross-entropy-explorer": ("z1", lambda text: vector(text, "z")[1]),
    "overflow-explorer": ("scale", lambda text: number(text, "scale s")),
    "training-explorer": ("epoch", lambda text: number(text, "epoch")),
}


def readout_follows(explorer: ExplorerView, slider: str, printed_value) -> str:
    """Wait until the readout prints the slider's current value; return the readout."""
    target = slider_value(explorer, slider)

    def shows_target(text: str) -> bool:
        try:
            return math.isclose(printed_value(text), target, rel_tol=6e-3, abs_tol=6e-3)
        except AssertionError:
            return False

    return explorer.wait_for_readout(shows_target, f"{slider} = {target}")


def bring_into_view(explorer: ExplorerView, slider: str, timeout_s: float = 15.0) -> None:
    """Scroll to the explorer and wait until its slider's readout is drawn.

    JupyterLab renders only the cells near the viewport: after the last explorer's test the first
    ones are far above it, and their readouts are empty until scrolled back into view.
    """
    explorer.control(slider).scroll_into_view_if_needed()
    deadline = time.monotonic() + timeout_s
    while not explorer.slider_text(slider):
        if time.monotonic() > deadline:
            pytest.fail(f"{explorer.kind}: slider {slider} shows no value after scrolling to it")
        explorer.page.wait_for_timeout(100)


# ------------------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("kind", list(SLIDERS))
def test_keyboard_moves_slider_and_figure_follows(explorers_page, kind):
    explorer = ExplorerView(explorers_page, kind)
    bring_into_view(explorer, SLIDERS[kind][0])
    slider, printed_value = SLIDERS[kind]
    CHECKS[kind](explorer.readout())
    before_pixels, before_value = explorer.pixels(), slider_value(explorer, slider)

    explorer.press_on_slider(slider, "ArrowRight", times=5)

    explorer.wait_for_pixels_to_change(before_pixels)
    text = readout_follows(explorer, slider, printed_value)
    after_value = slider_value(explorer, slider)
    if kind in ("temperature-explorer", "overflow-explorer"):
        # Log sliders: 5 steps of 0.01 in log10 multiply the value by 10 ** 0.05.
        expected = pytest.approx(before_value * 10**0.05, rel=1e-2)
    elif kind == "training-explorer":
        expected = before_value + 5  # an integer slider: one epoch per key press
    else:
        expected = pytest.approx(before_value + 5 * 0.1, abs=1e-9)
    assert after_value == expected, (
        f"{slider}: {before_value} -> {after_value} after 5 x ArrowRight"
    )
    CHECKS[kind](text)


@pytest.mark.parametrize("kind", list(SLIDERS))
def test_mouse_drag_moves_slider_and_figure_follows(explorers_page, kind):
    explorer = ExplorerView(explorers_page, kind)
    bring_into_view(explorer, SLIDERS[kind][0])
    slider, printed_value = SLIDERS[kind]
    before_pixels, before_value = explorer.pixels(), slider_value(explorer, slider)

    explorer.drag_handle(slider, dx=40)

    explorer.wait_for_pixels_to_change(before_pixels)
    text = readout_follows(explorer, slider, printed_value)
    assert slider_value(explorer, slider) > before_value, (
        "dragging right did not increase the value"
    )
    CHECKS[kind](text)


def wait_for_quiet_canvas(
    explorer: ExplorerView, quiet_s: float = 1.5, timeout_s: float = 30.0
) -> dict:
    """Wait until no frame has come for ``quiet_s`` (a new view's first frames, an earlier test's
    trailing whole frame); return the frame counts then."""
    deadline = time.monotonic() + timeout_s
    last = explorer.frames()
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < quiet_s:
        if time.monotonic() > deadline:
            pytest.fail(f"{explorer.kind}: frames kept coming for {timeout_s:.0f} s")
        explorer.page.wait_for_timeout(100)
        now = explorer.frames()
        if (now["patches"], now["whole"]) != (last["patches"], last["whole"]):
            last, quiet_since = now, time.monotonic()
    return last


#: Key-press sequences tried before a test gives up on reading patches with no whole frame between.
PATCH_ATTEMPTS = 3


def assert_patches_give_the_whole_frames_picture(
    explorer: ExplorerView, slider: str, printed_value
) -> None:
    """Press keys on ``slider``; the patches must be drawn and equal the next whole frame.

    The kernel repaints a whole frame ``TRAILING_FRAME_DELAY_S`` after a change. On a loaded
    machine four presses can reach it further apart than that, or a deflated patch can still be
    decoding when that frame comes (the bridge then rightly leaves the patch undrawn). Either way a
    whole frame lands among the patches: correct, but nothing left to compare. That sequence is
    tried again (the other way, so the slider never meets its end), up to ``PATCH_ATTEMPTS`` times.
    """
    for attempt in range(PATCH_ATTEMPTS):
        start = wait_for_quiet_canvas(explorer)
        explorer.press_on_slider(slider, ("ArrowLeft", "ArrowRight")[attempt % 2], times=4)
        readout_follows(explorer, slider, printed_value)
        # The kernel sends the frame before the readout; a deflated patch may still be decoding.
        patched = explorer.wait_for_frames(
            f"patches > {start['patches']} && pending === 0",
            "the key presses were not answered by patches (is the frame bridge live?)",
        )
        if (patched["whole"], patched["superseded"]) == (start["whole"], start["superseded"]):
            break
    else:
        pytest.fail(
            f"in each of {PATCH_ATTEMPTS} tries a whole frame came in before the patches were "
            f"read (last: whole frames {start['whole']} -> {patched['whole']}, patches superseded "
            f"{start['superseded']} -> {patched['superseded']})"
        )
    healed = explorer.wait_for_frames(
        f"whole > {patched['whole']}", "no whole frame followed the patches"
    )
    assert healed["patches"] == patched["patches"], "patches kept coming after the last key press"
    assert patched["pixels"] == healed["pixels"], (
        f"{explorer.kind}: the patched canvas differs from the kernel's whole frame drawn after it"
    )


@pytest.mark.parametrize(
    "kind, index",
    [(kind, 0) for kind in SLIDERS] + [("softmax-explorer", 1)],
    ids=[*SLIDERS, "softmax-explorer-deflated"],
)
def test_patches_draw_exactly_the_kernels_picture(explorers_page, kind, index):
    """The frame bridge is live, and its patches leave exactly the picture a whole frame gives.

    Key presses are answered with patches (changed rectangles, lab_utils.frames); about a second
    after the last one the kernel sends a whole frame through ipympl's own path. The canvas read
    after the patches and before that whole frame must equal the canvas after it, pixel for pixel.
    JupyterLab runs on 127.0.0.1, so patches travel raw; the second softmax explorer of the page
    sends them deflated, as to a remote browser.
    """
    slider, printed_value = SLIDERS[kind]
    assert_patches_give_the_whole_frames_picture(
        ExplorerView(explorers_page, kind, index), slider, printed_value
    )


def test_after_a_page_reload_the_explorer_answers_with_patches_again(browser, tmp_path, frontend):
    """A student reloads the tab: ipywidgets restores the explorer from the running kernel, and
    its frame bridge installs itself again (the canvas may be restored after it)."""
    write_notebook(tmp_path / "reload.ipynb", [EXPLORER_CELLS[0], EXPLORER_CELLS[1]])
    with jupyterlab_server(tmp_path, tmp_path / "lab", frontend=frontend) as server:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(30_000)
        try:
            page = context.new_page()
            lab = NotebookPage(page, server).open("reload.ipynb", timeout_s=90)
            lab.clear_and_run_all(timeout_s=120)
            assert lab.wait_for_painted_canvases({1: 1}, timeout_s=60)[1]["painted"] == 1
            page.keyboard.press("ControlOrMeta+s")  # saved: the reload asks nothing
            page.wait_for_function(
                "() => !window.jupyterapp.shell.currentWidget.context.model.dirty"
            )

            page.reload()
            explorer = ExplorerView(page, "softmax-explorer")
            explorer.canvas.wait_for(state="visible", timeout=60_000)
            assert explorer.frames()["patches"] == 0, "the reloaded page counts afresh"
            slider, printed_value = SLIDERS["softmax-explorer"]
            # The restored view asked for a full draw while the figure was being restored; the
            # first change answers it with a whole frame. Patches follow from the next one.
            explorer.press_on_slider(slider, "ArrowRight")
            readout_follows(explorer, slider, printed_value)
            assert_patches_give_the_whole_frames_picture(explorer, slider, printed_value)
            assert lab.lab_console_errors == []
        finally:
            context.close()


def test_cross_entropy_target_dropdown(explorers_page):
    explorer = ExplorerView(explorers_page, "cross-entropy-explorer")
    assert number(explorer.readout(), "y") == 0
    for target in (2, 3, 0):
        before = explorer.pixels()
        explorer.control("target").locator("select").select_option(str(target))
        explorer.wait_for_pixels_to_change(before)
        text = explorer.wait_for_readout(
            lambda t, target=target: number(t, "y") == target, f"y = {target}"
        )
        CHECKS["cross-entropy-explorer"](text)


def test_overflow_dtype_buttons(explorers_page):
    explorer = ExplorerView(explorers_page, "overflow-explorer")
    # Type s = 100 into the slider's own readout: z = [100, 80, 20, -100] passes log(max) of float16
    # (11.09) and of float32 (88.72) but not of float64 (709.78).
    before = explorer.pixels()
    explorer.type_into_slider_readout("scale", "100")
    explorer.wait_for_pixels_to_change(before)
    explorer.wait_for_readout(lambda t: number(t, "scale s") == 100, "s = 100")
    naive_broke = {}
    for dtype in ("float64", "float16", "float32"):
        before = explorer.pixels()
        explorer.control("dtype").get_by_role("button", name=dtype, exact=True).click()
        explorer.wait_for_pixels_to_change(before)
        text = explorer.wait_for_readout(
            lambda t, dtype=dtype: f"dtype = {dtype}" in t, f"dtype = {dtype}"
        )
        CHECKS["overflow-explorer"](text)
        naive_broke[dtype] = bool(np.isnan(vector(text, "naive")).any())
        assert np.isfinite(vector(text, "stable")).all(), text
    assert naive_broke == {"float64": False, "float16": True, "float32": True}


# ----------------------------------------------------------------------------------- accessibility

# Each explorer's controls by role and accessible name, as the maths names them.
ACCESSIBLE_CONTROLS = {
    "softmax-explorer": [("slider", f"z_{i}") for i in range(4)],
    "temperature-explorer": [("slider", f"z_{i}") for i in range(4)] + [("slider", "T")],
    "cross-entropy-explorer": [("slider", f"z_{i}") for i in range(4)] + [("combobox", "target y")],
    "overflow-explorer": [("slider", "scale s"), ("group", "dtype")],
    "training-explorer": [("slider", "epoch"), ("slider", "test image")],
}

# Marks every focusable element of ``root`` with its place in reading order (rows top to bottom,
# left to right within a row) and returns how many there are.
_MARK_READING_ORDER_JS = """root => {
  const focusable = [...root.querySelectorAll(
      '[tabindex]:not([tabindex="-1"]), select, button, input, [contenteditable="true"]')]
    .filter(el => !el.disabled && el.checkVisibility({visibilityProperty: true}));
  const box = el => el.getBoundingClientRect();
  focusable.sort((a, b) => Math.abs(box(a).top - box(b).top) > 8
                 ? box(a).top - box(b).top : box(a).left - box(b).left);
  focusable.forEach((el, i) => el.dataset.readingOrder = String(i));
  return focusable.length;
}"""


@pytest.mark.parametrize("kind", list(ACCESSIBLE_CONTROLS))
def test_controls_have_the_maths_names_and_tab_follows_the_layout(explorers_page, kind):
    explorer = ExplorerView(explorers_page, kind)
    bring_into_view(explorer, SLIDERS[kind][0])
    for role, name in ACCESSIBLE_CONTROLS[kind]:
        assert explorer.root.get_by_role(role, name=name, exact=True).count() == 1, (role, name)
    count = explorer.root.evaluate(_MARK_READING_ORDER_JS)
    assert count >= len(ACCESSIBLE_CONTROLS[kind])
    explorer.root.locator('[data-reading-order="0"]').focus()
    order = [0]
    for _ in range(count - 1):
        explorers_page.keyboard.press("Tab")
        order.append(
            explorers_page.evaluate(
                "() => Number(document.activeElement.dataset.readingOrder ?? -1)"
            )
        )
    assert order == list(range(count)), f"Tab visits the controls in the order {order}"
    # A click on the figure focuses ipympl's canvas box; Tab must still lead on to the controls.
    explorer.root.locator(".jupyter-matplotlib-canvas-div").click()
    explorers_page.keyboard.press("Tab")
    assert explorers_page.evaluate("() => document.activeElement.dataset.readingOrder") == "0", (
        "Tab stayed in the figure"
    )


def _first_vector(text: str, labels: tuple[str, ...]) -> np.ndarray:
    for label in labels:
        match = re.search(re.escape(label) + r"\s*=\s*\[([^\]]*)\]", text)
        if match:
            return np.array([float(v) for v in match.group(1).split(",")])
    raise AssertionError(f"none of {labels} in {text!r}")


@pytest.mark.parametrize("kind", list(SLIDERS))
def test_the_figures_text_alternative_follows_it(explorers_page, kind):
    explorer = ExplorerView(explorers_page, kind)
    bring_into_view(explorer, SLIDERS[kind][0])
    figure = explorer.root.get_by_role("img")
    slider, printed_value = SLIDERS[kind]
    before = figure.get_attribute("aria-label")
    explorer.press_on_slider(slider, "ArrowLeft", times=2)
    text = readout_follows(explorer, slider, printed_value)
    explorers_page.wait_for_function(
        "([el, before]) => el.getAttribute('aria-label') !== before",
        arg=[figure.element_handle(), before],
        timeout=20_000,
    )
    label = figure.get_attribute("aria-label")
    assert label.startswith(kind.replace("-", "_") + ": "), label
    # The label states the probabilities the readout prints (the stable ones for overflow, the
    # label's for the training explorer).
    target = re.search(r"p\[(\d+)\]=([\d.]+)", label)
    if target:
        printed = _first_vector(text, ("p",))[int(target.group(1))]
        assert float(target.group(2)) == pytest.approx(printed, abs=1e-4), (label, text)
    else:
        np.testing.assert_allclose(
            _first_vector(label, ("p", "stable")),
            _first_vector(text, ("p", "stable")),
            atol=1e-4,
            err_msg=label,
        )
