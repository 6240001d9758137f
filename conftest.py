"""How `make test` shares the tests between its two pytest-xdist workers.

A work unit goes to one worker as a whole: each test file is one unit, as with ``--dist loadfile``
(a notebook's nbval cells share one kernel; a module's fixtures, a course directory or a server,
are set up once), except that tests parametrized by a browser front end (``jupyterlab``,
``notebook7``) make one unit per file and front end, so the two front ends' browser runs can go to
the two workers.

Why a scheduler of our own: xdist's ``--dist loadgroup`` marks a group by rewriting each item's
``_nodeid``, which pytest 9 no longer reads (``Node.nodeid`` comes from ``_id``), so groups were
silently ignored and nbval's cells scattered over both workers.
"""

from __future__ import annotations

import re

FRONTEND_ID = re.compile(r"\[(?:[^\]]*-)?(jupyterlab|notebook7)(?:-[^\]]*)?\]$")


def work_unit(nodeid: str) -> str:
    """The unit a test belongs to: its file, or its file and browser front end."""
    path = nodeid.split("::", 1)[0]
    frontend = FRONTEND_ID.search(nodeid)
    return f"{path}::{frontend.group(1)}" if frontend else path


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class FileAndFrontendScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return FileAndFrontendScheduling(config, log)
