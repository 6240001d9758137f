"""How `make test` shares the tests between its two pytest-xdist workers (``--dist loadgroup``).

Each test file runs on one worker, as with ``--dist loadfile``: a notebook's nbval cells share one
kernel, and a module's fixtures (a course directory, a JupyterLab server) are set up once. A test
that may run apart from the rest of its file says so with its own ``xdist_group`` mark (the browser
tests give one to each notebook and front end).
"""

from __future__ import annotations

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))
