"""Fixtures for the browser tests: a headless Chromium driven by Playwright, and private JupyterLabs.

Chromium is Playwright's own build if one is installed, else the system one (Debian's ``chromium``).
Without any, the tests skip on a laptop but fail under ``CI=true``: CI installs Chromium, so a missing
browser there is a broken pipeline, not a reason to pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.browser_support import (
    ARTIFACTS,
    NO_CHROMIUM_HINT,
    NOTEBOOKS,
    browser_unavailable,
    find_chromium,
    jupyterlab_server,
    launch_chromium,
)

VIEWPORT = {"width": 1400, "height": 1000}


@pytest.fixture(scope="module")
def playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        browser_unavailable(
            "Playwright for Python is not installed (it is in requirements-test.txt)"
        )
    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="module")
def browser(playwright):
    executable = find_chromium(playwright)
    if executable is None:
        browser_unavailable(NO_CHROMIUM_HINT)
    browser = launch_chromium(playwright, executable)
    yield browser
    browser.close()


@pytest.fixture
def page(browser):
    """A new page in its own browser context (fresh storage), closed after the test."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(30_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="module")
def notebooks_lab(browser, tmp_path_factory, frontend):
    """``frontend`` (JupyterLab or Notebook 7) serving a temporary copy of ``notebooks/``, started
    only once a browser is there; the test parametrizes ``frontend``."""
    folder = tmp_path_factory.mktemp(f"{frontend}-notebooks")
    with jupyterlab_server(NOTEBOOKS, folder, frontend=frontend) as server:
        yield server


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where screenshots go (``test-artifacts/browser``, ignored by git, kept by CI)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
