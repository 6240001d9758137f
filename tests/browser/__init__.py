"""Browser tests: JupyterLab in a headless Chromium (helpers in :mod:`tests.browser.browser_support`)."""
