"""Where the widget front end is missing, every explorer still shows its whole figure and numbers.

Three pages a student may meet, each with the four explorers:

* JupyterLab without ipympl's and anywidget's extensions (disabled in the test server's private
  config, as ``jupyter labextension disable`` would): the explorer shows its figure as a picture
  in a core widget, and the picture still follows the sliders.
* JupyterLab without any widget manager: the output's HTML fallback, the figure and its readout.
* nbconvert's HTML export of the committed notebooks (what nbviewer and a shared .html show),
  opened in Chromium: every explorer's figure decodes and its readout is there.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.browser.browser_support import (
    FIGURE_CANVAS,
    NOTEBOOKS,
    WIDGET_EXTENSIONS,
    WIDGET_MANAGER,
    ExplorerView,
    NotebookPage,
    explorer_calls,
    jupyterlab_server,
    notebook_cells,
    write_notebook,
)

pytestmark = pytest.mark.browser

KINDS = ("softmax_explorer", "temperature_explorer", "cross_entropy_explorer", "overflow_explorer")
CELLS = ["%matplotlib widget\nimport lab_utils", *[f"lab_utils.{kind}()" for kind in KINDS]]

# Each shown figure: is it decoded, its size, its text alternative.
_IMAGES_JS = """(selector) => [...document.querySelectorAll(selector)].map(img => ({
  loaded: img.complete && img.naturalWidth > 100 && img.naturalHeight > 100,
  alt: img.getAttribute('alt') || '', src: img.getAttribute('src').slice(0, 40),
}))"""


def wait_for_images(page, selector: str, count: int, timeout_s: float = 60.0) -> list[dict]:
    try:
        page.wait_for_function(
            f"(selector) => ({_IMAGES_JS})(selector).filter(i => i.loaded).length >= {count}",
            arg=selector,
            timeout=timeout_s * 1000,
            polling=200,
        )
    except Exception:
        pass  # the assertion below says what is there
    return page.evaluate(_IMAGES_JS, selector)


def run_explorers(page, server) -> NotebookPage:
    lab = NotebookPage(page, server).open("explorers.ipynb", timeout_s=90)
    lab.hide_left_sidebar()
    lab.clear_and_run_all(timeout_s=180)
    return lab


def assert_figures_and_readouts(images: list[dict], readouts: list[str]) -> None:
    assert [i["loaded"] for i in images] == [True] * len(KINDS), images
    # The text alternative is the explorer's summary: its kind, then the numbers shown.
    assert [i["alt"].split(":")[0] for i in images] == list(KINDS), images
    assert all(re.search(r"p=\[0\.\d{4}", i["alt"]) or "naive=" in i["alt"] for i in images)
    assert len(readouts) == len(KINDS) and all("p = [" in r or "naive" in r for r in readouts), (
        readouts
    )


@pytest.mark.parametrize("case", ["without-ipympl-and-anywidget", "without-a-widget-manager"])
def test_jupyterlab_without_the_extensions_shows_every_figure(
    browser, tmp_path, artifacts_dir, case
):
    disabled = WIDGET_EXTENSIONS + ((WIDGET_MANAGER,) if case == "without-a-widget-manager" else ())
    write_notebook(tmp_path / "explorers.ipynb", CELLS)
    with jupyterlab_server(tmp_path, tmp_path / "lab", disabled_extensions=disabled) as server:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(30_000)
        page = context.new_page()
        lab = NotebookPage(page, server)
        try:
            lab = run_explorers(page, server)
            if case == "without-a-widget-manager":
                selector, readout = ".softmax-lab-static > img", ".softmax-lab-static > pre"
            else:
                selector, readout = ".softmax-lab-still img", ".softmax-lab-readout"
            images = wait_for_images(page, selector, len(KINDS))
            readouts = page.locator(readout).all_inner_texts()
            problems = [
                p
                for p in lab.visible_problems()
                if p["kind"] != "stderr or traceback" or "Traceback" in p["text"]
            ]
            # The extensions really are off: no ipympl canvas anywhere on the page.
            canvases = page.locator(FIGURE_CANVAS).count()
            if case == "without-ipympl-and-anywidget":
                # The picture follows the slider, through core widgets only.
                explorer = ExplorerView(page, "softmax-explorer")
                still = f".softmax-lab-softmax-explorer {selector}"
                before = page.locator(still).get_attribute("src")
                explorer.press_on_slider("z0", "ArrowRight", times=3)
                explorer.wait_for_readout(lambda text: "z = [2.3000," in text, "z_0 = 2.3")
                # The picture is redrawn before the readout; each one is a new <img>.
                alt = explorer.root.locator(selector).get_attribute("alt")
                assert alt.startswith("softmax_explorer: z=[2.3, "), alt
                assert explorer.root.locator(selector).get_attribute("src") != before
        finally:
            lab.screenshot_whole_notebook(artifacts_dir / f"fallback-{case}.png")
            context.close()
    assert canvases == 0, f"{canvases} ipympl canvases: the extensions were not disabled"
    assert problems == [], problems
    assert_figures_and_readouts(images, readouts)


def test_nbconvert_html_export_shows_every_explorer(browser, tmp_path, artifacts_dir):
    notebooks = [
        p
        for p in sorted(NOTEBOOKS.glob("*.ipynb"))
        if any(explorer_calls(c["source"]) for c in notebook_cells(p) if c["cell_type"] == "code")
    ]
    assert notebooks, "no committed notebook shows an explorer"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "nbconvert",
            "--to",
            "html",
            "--output-dir",
            str(tmp_path),
            *map(str, notebooks),
        ],
        check=True,
        capture_output=True,
    )
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        for notebook in notebooks:
            expected = sum(
                len(explorer_calls(c["source"]))
                for c in notebook_cells(notebook)
                if c["cell_type"] == "code"
            )
            page.goto((tmp_path / f"{notebook.stem}.html").as_uri())
            images = wait_for_images(page, ".softmax-lab-static > img", expected)
            readouts = page.locator(".softmax-lab-static > pre").all_inner_texts()
            page.screenshot(path=str(artifacts_dir / f"nbconvert-{notebook.stem}.png"))
            assert len(images) == expected and all(i["loaded"] for i in images), (
                notebook.name,
                images,
            )
            assert all(i["alt"].split(":")[0] in KINDS for i in images), (notebook.name, images)
            assert len(readouts) == expected and all(r.strip() for r in readouts), readouts
    finally:
        context.close()
