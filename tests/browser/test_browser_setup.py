"""How the browser tests find Chromium and what they do without one (no browser needed here)."""

from __future__ import annotations

import types
from pathlib import Path

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


@pytest.fixture(autouse=True)
def no_chosen_chromium(monkeypatch):
    monkeypatch.delenv(browser_support.CHROMIUM_ENV, raising=False)


def _system_with(monkeypatch, tmp_path, names: list[str]) -> dict[str, str]:
    """Pretend the system has exactly these executables on PATH (files in tmp_path)."""
    paths = {name: str(tmp_path / name) for name in names}
    for path in paths.values():
        Path(path).write_text("")
    monkeypatch.setattr(browser_support.os.path, "exists", lambda p: p in paths.values())
    monkeypatch.setattr(browser_support.shutil, "which", lambda name: paths.get(name))
    return paths


def test_playwrights_own_chromium_comes_first(tmp_path):
    bundled = tmp_path / "chrome"
    bundled.write_text("")
    assert find_chromium(_fake_playwright(str(bundled))) == str(bundled)


def test_system_chromium_when_playwright_has_none(tmp_path, monkeypatch):
    system = _system_with(monkeypatch, tmp_path, ["chromium"])
    assert find_chromium(_fake_playwright(str(tmp_path / "not-downloaded"))) == system["chromium"]


def test_the_headless_shell_comes_before_the_full_chromium(tmp_path, monkeypatch):
    system = _system_with(monkeypatch, tmp_path, ["chromium", "chromium-headless-shell"])
    found = find_chromium(_fake_playwright(str(tmp_path / "not-downloaded")))
    assert found == system["chromium-headless-shell"]


def test_the_environment_variable_chooses_the_browser(tmp_path, monkeypatch):
    system = _system_with(monkeypatch, tmp_path, ["chromium", "chromium-headless-shell"])
    monkeypatch.setenv(browser_support.CHROMIUM_ENV, "chromium")
    assert find_chromium(None) == system["chromium"]
    monkeypatch.setenv(browser_support.CHROMIUM_ENV, system["chromium"])
    assert find_chromium(None) == system["chromium"]


def test_a_chosen_browser_that_does_not_exist_is_a_clear_error(tmp_path, monkeypatch):
    _system_with(monkeypatch, tmp_path, ["chromium"])
    monkeypatch.setenv(browser_support.CHROMIUM_ENV, "/opt/no-such-chrome")
    with pytest.raises(FileNotFoundError, match="SOFTMAX_LAB_CHROMIUM='/opt/no-such-chrome'"):
        find_chromium(None)


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
