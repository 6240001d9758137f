"""Slider-to-pixels latency in JupyterLab: ``softmax_explorer`` against full-redraw baselines.

Run by hand (not a test: timings on a shared machine are noisy, so the ratios measured in the same
run are the figures that count)::

    .venv/bin/python -m benchmarks.browser_latency [--presses 30] [--json result.json]

from the repository's root (``-m`` puts the root on ``sys.path``, so the browser helpers of the
tests import as ``tests.browser.browser_support``).

What is measured
----------------
A private JupyterLab (as in ``tests/browser``) runs a notebook that shows, one under the other,

(a) ``lab_utils.softmax_explorer()``: bars and labels are updated in place and only they are
    redrawn over a saved background (a blit); the changed rectangles go to the browser as raw
    pixels through the explorer's frame bridge (``lab_utils.frames``), JupyterLab being local;
(a') the same explorer with its patches deflated, as they travel to a remote browser;
(b) *classic*: the pattern of the best-known softmax course lab: bars updated in place
    (``set_height``), then ``fig.canvas.draw_idle()``, which renders the whole figure;
(c) *redraw*: an ipywidgets slider whose callback clears both axes, plots new bars and value
    labels and calls ``fig.canvas.draw()`` (a full redraw without waiting for the browser);
(d) *floor*, for scale: a slider whose callback only sets the text of an ``ipywidgets.HTML``. No
    figure can answer faster than this one trip browser -> kernel -> browser.

(a) to (c): same figure size, dpi and style (``lab_utils.style``), same four logits, an ipywidgets
slider with the same range and step (the classic lab's own Matplotlib sliders take no keyboard).

Headless Chromium focuses a slider handle and presses an arrow key. In the page, the ``keydown``
event's timestamp is the start; the end is the moment the figure's canvas holds different pixels,
caught by wrapping ``CanvasRenderingContext2D.drawImage`` (which is how ipympl puts every frame on
the canvas) and hashing the canvas after each draw on it (for (d): a MutationObserver on the text).
Both clocks are the page's ``performance.now()``. Presses go round (a) to (d); each waits until the
kernel is idle and the page has been quiet for a moment (and, after an explorer's press, until
the whole frame it sends a second later has come), so every sample meets the same, unloaded
pipeline. The first few rounds are a warm-up and are not counted.

Goal: median of (a) well under 100 ms, and at most a quarter of a full-redraw baseline's median (issue 16).
Where the time goes: every case pays one trip browser -> kernel -> browser (the floor), and (b)
a second one (ipympl's ``draw_idle`` asks the browser to ask for a frame). (b) and (c) then render
the whole figure in the kernel (about 40 ms of CPU alone, more beside a busy browser) and send a
whole-canvas PNG that the browser loads through an ``<img>``. (a) blits a few artists (about 6 ms
of CPU) and sends only the changed rectangles, which the bridge paints in the message handler.
The printout ends with how many frames each figure's canvas drew as patches: (a) must draw them
all that way, or the bridge was not live and (a) measured ipympl's own path.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tests.browser.browser_support import (
    FIGURE_CANVAS,
    NO_CHROMIUM_HINT,
    NotebookPage,
    find_chromium,
    jupyterlab_server,
    launch_chromium,
    write_notebook,
)

SETUP = """\
%matplotlib widget
import numpy as np
import ipywidgets as widgets
import matplotlib.pyplot as plt
import lab_utils

def baseline_figure():
    plt.ioff()
    with lab_utils.style.style_context():
        fig, axes = plt.subplots(1, 2, figsize=lab_utils.style.figure_size(2), layout="constrained")
    fig.canvas.header_visible = fig.canvas.footer_visible = fig.canvas.toolbar_visible = False
    slider = widgets.FloatSlider(value=2.0, min=-10.0, max=10.0, step=0.1, description="z0")
    return fig, axes, slider

def logits_and_probs(z0):
    z = np.array([z0, 1.0, 0.1, -1.0])
    return z, np.exp(z - z.max()) / np.exp(z - z.max()).sum()"""

EXPLORER = """\
explorer = lab_utils.softmax_explorer()
explorer.widget.add_class("latency-explorer")
explorer"""

DEFLATED = """\
deflated = lab_utils.softmax_explorer()
deflated.canvas.bridge.encoding = "deflate"  # as for a browser on another machine
deflated.widget.add_class("latency-deflated")
deflated"""

CLASSIC = """\
fig_c, (ax_z, ax_p), slider_c = baseline_figure()
z, p = logits_and_probs(slider_c.value)
with lab_utils.style.style_context():
    bars_z, bars_p = ax_z.bar(range(4), z), ax_p.bar(range(4), p)
    labels_z = [ax_z.text(i, v, f"{v:.2f}", ha="center") for i, v in enumerate(z)]
    labels_p = [ax_p.text(i, v, f"{v:.4f}", ha="center") for i, v in enumerate(p)]
    ax_z.set_ylim(-11, 11), ax_p.set_ylim(0, 1.12)
    ax_z.set_title("logits z"), ax_p.set_title("p = softmax(z)")

def update(change):
    z, p = logits_and_probs(slider_c.value)
    for bars, labels, values, fmt in ((bars_z, labels_z, z, "{:.2f}"), (bars_p, labels_p, p, "{:.4f}")):
        for bar, label, v in zip(bars, labels, values):
            bar.set_height(v)
            label.set_y(v)
            label.set_text(fmt.format(v))
    fig_c.canvas.draw_idle()

slider_c.observe(update, names="value")
box = widgets.VBox([fig_c.canvas, slider_c])
box.add_class("latency-classic")
box"""

REDRAW = """\
fig_r, (ax_z, ax_p), slider_r = baseline_figure()

def redraw(change=None):
    z, p = logits_and_probs(slider_r.value)
    with lab_utils.style.style_context():
        for ax, values, title, fmt, ylim in ((ax_z, z, "logits z", "{:.2f}", (-11, 11)),
                                             (ax_p, p, "p = softmax(z)", "{:.4f}", (0, 1.12))):
            ax.clear()
            ax.bar(range(4), values)
            for i, v in enumerate(values):
                ax.text(i, v, fmt.format(v), ha="center")
            ax.set_ylim(*ylim)
            ax.set_title(title)
    if change is not None:  # (ipympl 0.10 breaks a canvas drawn before its view exists)
        fig_r.canvas.draw()

slider_r.observe(redraw, names="value")
redraw()
box = widgets.VBox([fig_r.canvas, slider_r])
box.add_class("latency-redraw")
box"""

FLOOR = """\
slider_f = widgets.FloatSlider(value=2.0, min=-10.0, max=10.0, step=0.1, description="z0")
text_f = widgets.HTML("z0 = 2.0")
slider_f.observe(lambda change: setattr(text_f, "value", f"z0 = {change['new']:.1f}"), names="value")
box = widgets.VBox([slider_f, text_f])
box.add_class("latency-floor")
box"""

# name -> (notebook cell, CSS selector of its box, label in the printout); all but the floor draw
# their figure in an ipympl canvas.
FIGURES = {
    "explorer": (EXPLORER, ".latency-explorer", "softmax_explorer (blit, raw patches)"),
    "deflated": (DEFLATED, ".latency-deflated", "softmax_explorer, deflated patches"),
    "classic": (CLASSIC, ".latency-classic", "classic: in place + draw_idle()"),
    "redraw": (REDRAW, ".latency-redraw", "clear + replot + draw()"),
    "floor": (FLOOR, ".latency-floor", "floor: slider -> text, no figure"),
}
BASELINES = ("classic", "redraw")
EXPLORERS = ("explorer", "deflated")

INSTALL_PROBE_JS = """([selectors, floorSelector]) => {
  const lat = window.__latency = {keys: [], changes: {}, hashes: {}, last: performance.now()};
  const hash = canvas => {  // FNV-1a over the RGBA words
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    const words = new Uint32Array(pixels.data.buffer);
    let h = 2166136261;
    for (let i = 0; i < words.length; i++) { h ^= words[i]; h = Math.imul(h, 16777619); }
    return h >>> 0;
  };
  for (const [id, selector] of Object.entries(selectors)) {
    const canvas = document.querySelector(selector);
    if (!canvas) throw new Error('no canvas for ' + id + ': ' + selector);
    canvas.dataset.latencyId = id;
    lat.changes[id] = [];
    lat.hashes[id] = hash(canvas);
  }
  const text = document.querySelector(floorSelector);
  lat.changes.floor = [];
  new MutationObserver(() => { const t = performance.now(); lat.changes.floor.push(t); lat.last = t; })
    .observe(text, {childList: true, subtree: true, characterData: true});
  const drawImage = CanvasRenderingContext2D.prototype.drawImage;
  CanvasRenderingContext2D.prototype.drawImage = function (...args) {
    const result = drawImage.apply(this, args);
    const id = this.canvas && this.canvas.dataset && this.canvas.dataset.latencyId;
    if (id) {
      const t = performance.now();
      const h = hash(this.canvas);
      if (h !== lat.hashes[id]) { lat.hashes[id] = h; lat.changes[id].push(t); lat.last = t; }
    }
    return result;
  };
  document.addEventListener('keydown', event => {
    if (event.target.closest && event.target.closest('.noUi-handle')) {
      lat.keys.push(event.timeStamp);
      lat.last = performance.now();
    }
  }, true);
}"""

QUIET_JS = """(quietMs) => {
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return kernel && kernel.status === 'idle' && performance.now() - window.__latency.last > quietMs;
}"""


WHOLE_FRAMES_JS = """(selector) => Number(
    document.querySelector(selector).dataset.softmaxLabWholeFrames || 0)"""


def measure(
    page, handle, canvas_id: str, key: str, canvas_selector: str, quiet_ms: float = 250.0
) -> float:
    """Press ``key`` on the focused slider ``handle``; return ms until the canvas' pixels changed.

    Then wait until the page is quiet. An explorer also sends a whole frame about a second after
    its last change (``lab_utils.canvas.TRAILING_FRAME_DELAY_S``), which changes no pixel but
    costs both sides some work: wait for that frame too, so that it never lands in the next
    measurement.
    """
    explorer = canvas_id in EXPLORERS
    before = page.evaluate(f"() => window.__latency.changes['{canvas_id}'].length")
    whole_before = page.evaluate(WHOLE_FRAMES_JS, canvas_selector) if explorer else 0
    handle.focus()
    page.keyboard.press(key)
    page.wait_for_function(
        f"(n) => window.__latency.changes['{canvas_id}'].length > n",
        arg=before,
        timeout=30_000,
        polling=20,
    )
    latency = page.evaluate(
        f"(n) => window.__latency.changes['{canvas_id}'][n] - window.__latency.keys.at(-1)", before
    )
    if explorer:
        page.wait_for_function(
            f"(selector) => ({WHOLE_FRAMES_JS})(selector) > {whole_before}",
            arg=canvas_selector,
            timeout=30_000,
            polling=50,
        )
    page.wait_for_function(QUIET_JS, arg=quiet_ms, timeout=30_000, polling=20)
    return float(latency)


def summary(samples: list[float]) -> dict:
    values = np.asarray(samples)
    return {
        "n": int(values.size),
        "median_ms": float(np.median(values)),
        "p95_ms": float(np.percentile(values, 95)),
        "min_ms": float(values.min()),
        "max_ms": float(values.max()),
    }


def run(presses: int, warmup: int) -> dict:
    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory(prefix="browser-latency-") as tmp,
        sync_playwright() as playwright,
    ):
        executable = find_chromium(playwright)
        if executable is None:
            sys.exit(NO_CHROMIUM_HINT)
        folder = Path(tmp) / "nb"
        folder.mkdir()
        write_notebook(
            folder / "latency.ipynb", [SETUP] + [cell for cell, _, _ in FIGURES.values()]
        )
        browser = launch_chromium(playwright, executable)
        with jupyterlab_server(folder, Path(tmp) / "lab") as server:
            page = browser.new_page(viewport={"width": 1400, "height": 2000})
            lab = NotebookPage(page, server).open("latency.ipynb", timeout_s=90)
            lab.hide_left_sidebar()
            lab.clear_and_run_all(timeout_s=180)
            figure_cells = {i + 1: 1 for i, name in enumerate(FIGURES) if name != "floor"}
            counts = lab.wait_for_painted_canvases(figure_cells, timeout_s=60)
            if any(counts[i]["painted"] < 1 for i in figure_cells):
                sys.exit(f"the figures did not render: {counts}")
            canvases = {name: f"{box} {FIGURE_CANVAS}" for name, (_, box, _) in FIGURES.items()}
            del canvases["floor"]
            page.evaluate(
                INSTALL_PROBE_JS, [canvases, f"{FIGURES['floor'][1]} .widget-html-content"]
            )
            handles = {
                name: page.locator(f"{box} .noUi-handle").first
                for name, (_, box, _) in FIGURES.items()
            }
            # Up, then down again: every press gives a new value (2.0 -> 2.0 + 0.1 k -> back).
            half = (presses + warmup + 1) // 2
            keys = (["ArrowRight"] * half + ["ArrowLeft"] * half)[: presses + warmup]
            samples = {name: [] for name in FIGURES}
            for i, key in enumerate(keys):
                for name in FIGURES:
                    latency = measure(page, handles[name], name, key, canvases.get(name, ""))
                    if i >= warmup:
                        samples[name].append(latency)
            patches = page.evaluate(
                """(selectors) => Object.fromEntries(Object.entries(selectors)
                .map(([id, selector]) => [id, Number(
                    document.querySelector(selector).dataset.softmaxLabPatches || 0)]))""",
                canvases,
            )
            chromium = browser.version
            page.close()
        browser.close()
    import jupyterlab

    return {
        "chromium": chromium,
        "jupyterlab": jupyterlab.__version__,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "samples_ms": samples,
        "patches_drawn": patches,
        "summary": {name: summary(values) for name, values in samples.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--presses", type=int, default=30, help="counted key presses per figure (>= 20)"
    )
    parser.add_argument("--warmup", type=int, default=3, help="uncounted rounds first")
    parser.add_argument("--json", type=Path, help="also write the samples and figures here")
    args = parser.parse_args(argv)
    if args.presses < 20:
        parser.error("--presses must be at least 20")
    start = time.monotonic()
    result = run(args.presses, args.warmup)
    stats = result["summary"]
    explorer = stats["explorer"]
    print(
        f"slider-to-pixels latency, JupyterLab {result['jupyterlab']} in headless Chromium "
        f"{result['chromium']}, {result['cpus']} CPUs (load average "
        f"{result['load_average'][0]:.1f}), {explorer['n']} key presses each after "
        f"{args.warmup} warm-up, {time.monotonic() - start:.0f} s"
    )
    print(f"{'':38s}{'median':>10s}{'p95':>10s}{'min':>10s}{'max':>10s}")
    for name, (_, _, label) in FIGURES.items():
        s = stats[name]
        print(
            f"{label:38s}{s['median_ms']:7.1f} ms{s['p95_ms']:7.1f} ms"
            f"{s['min_ms']:7.1f} ms{s['max_ms']:7.1f} ms"
        )
    result["ratios"] = {}
    for name in BASELINES:
        ratio_median = explorer["median_ms"] / stats[name]["median_ms"]
        ratio_p95 = explorer["p95_ms"] / stats[name]["p95_ms"]
        result["ratios"][name] = {"median": ratio_median, "p95": ratio_p95}
        print(f"{'explorer / ' + name:38s}{ratio_median:10.2f}{ratio_p95:10.2f}")
    drawn = result["patches_drawn"]
    print(
        "frames drawn as patches: "
        + ", ".join(f"{name} {count}" for name, count in drawn.items())
        + f" (of {explorer['n'] + args.warmup} presses each)"
    )
    if drawn["explorer"] < explorer["n"] + args.warmup:
        print("the explorer's frame bridge was not live for every press: see lab_utils/frames.py")
    for name in BASELINES:
        met = explorer["median_ms"] < 100 and result["ratios"][name]["median"] <= 1 / 4
        verdict = "met" if met else "NOT met"
        print(f"goal vs {name} (median < 100 ms and <= 1/4 of its median): {verdict}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
