"""How the browser tests find Chromium and what they do without one (no browser needed here)."""

from __future__ import annotations

import types

import pytest

from tests.browser import browser_support
from tests.browser.browser_support import (
    BARE_WIDGET_REPR,
    browser_unavailable,
    explorer_calls,
    find_chromium,
)


def _fake_playwright(path: str):
    return types.SimpleNamespace(chromium=types.SimpleNamespace(executable_path=path))


def test_playwrights_own_chromium_comes_first(tmp_path):
    bundled = tmp_path / "chrome"
    bundled.write_text("")
    assert find_chromium(_fake_playwright(str(bundled))) == str(bundled)


def test_system_chromium_when_playwright_has_none(tmp_path, monkeypatch):
    system = tmp_path / "chromium"
    system.write_text("")
    monkeypatch.setattr(browser_support.os.path, "exists", lambda p: p == str(system))
    monkeypatch.setattr(
        browser_support.shutil, "which", lambda name: str(system) if name == "chromium" else None
    )
    assert find_chromium(_fake_playwright(str(tmp_path / "not-downloaded"))) == str(system)


def test_no_chromium_at_all(tmp_path, monkeypatch):
    monkeypatch.setattr(browser_support.os.path, "exists", lambda p: False)
    monkeypatch.setattr(browser_support.shutil, "which", lambda name: None)
    assert find_chromium(_fake_playwright(str(tmp_path / "not-downloaded"))) is None


@pytest.mark.parametrize("ci", ["true", "True", "1"])
def test_missing_browser_fails_under_ci(monkeypatch, ci):
    monkeypatch.setenv("CI", ci)
    expected = "CI=true but the browser tests cannot run: no Chromium"
    with pytest.raises(pytest.fail.Exception, match=expected):
        browser_unavailable("no Chromium found")


@pytest.mark.parametrize("ci", [None, "", "false"])
def test_missing_browser_skips_on_a_laptop(monkeypatch, ci):
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match="no Chromium found"):
        browser_unavailable("no Chromium found")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("softmax_explorer()", ["softmax_explorer"]),
        ("lab_utils.temperature_explorer(logits=[1, 2])", ["temperature_explorer"]),
        ("explorer = cross_entropy_explorer()\nexplorer", ["cross_entropy_explorer"]),
        (
            "softmax_explorer(fn=my_softmax)\noverflow_explorer()",
            ["softmax_explorer", "overflow_explorer"],
        ),
        ("from lab_utils import softmax_explorer", []),
        ("# softmax_explorer() is shown below", []),
        ("def my_softmax_explorer(z):\n    return z", []),
        ("help(softmax_explorer)", []),
    ],
)
def test_explorer_calls_counts_what_a_cell_displays(source, expected):
    assert explorer_calls(source) == expected


@pytest.mark.parametrize(
    ("text", "bare"),
    [
        (
            "Canvas(toolbar=Toolbar(toolitems=[['Home', 'Reset original view', 'home', 'home']]))",
            True,
        ),
        ("VBox(children=(FloatSlider(value=2.0),))", True),
        ("AppLayout(children=(Canvas(...),))", True),
        ("softmax_explorer: z=[2.0, 1.0] -> p=[0.7311, 0.2689]", False),
        ("array([0.6652, 0.2447, 0.09  ])", False),
    ],
)
def test_bare_widget_repr_pattern(text, bare):
    assert bool(BARE_WIDGET_REPR.search(text)) is bare
