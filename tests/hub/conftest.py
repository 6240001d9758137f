"""Fixtures for the hub tests: one real JupyterHub for the session, and a course repository.

Skipped with a message where Node.js or npm are missing (JupyterHub's proxy comes from npm), never
under ``CI=true``: CI installs them, so a missing proxy there is a broken pipeline.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hub.hub_support import launch_hub_chromium, make_course_repo, proxy_problem, running_hub


@pytest.fixture(scope="session")
def hub(tmp_path_factory):
    problem = proxy_problem()
    if problem:
        reason, may_skip = problem
        if may_skip:
            pytest.skip(reason)
        pytest.fail(f"the hub tests cannot run: {reason}", pytrace=False)
    with running_hub(tmp_path_factory.mktemp("hub")) as hub:
        yield hub
    alive = [" ".join(p.cmdline())[:100] for p in hub.still_running()]
    assert not alive, f"processes of the hub still running after it stopped: {alive}"


@pytest.fixture(scope="session")
def course_repo(tmp_path_factory) -> Path:
    """A local git repository holding the lab's notebooks on branch main, as an instructor's would."""
    return make_course_repo(tmp_path_factory.mktemp("remote"))


@pytest.fixture(scope="module")
def hub_browser():
    """Headless Chromium that resolves HUB_HOSTNAME to 127.0.0.1 (skip or fail as tests/browser do)."""
    from tests.browser.browser_support import NO_CHROMIUM_HINT, browser_unavailable, find_chromium

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        browser_unavailable(
            "Playwright for Python is not installed (it is in requirements-test.txt)"
        )
    with sync_playwright() as playwright:
        executable = find_chromium(playwright)
        if executable is None:
            browser_unavailable(NO_CHROMIUM_HINT)
        browser = launch_hub_chromium(playwright, executable)
        yield browser
        browser.close()
