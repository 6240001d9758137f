"""How `make test` shares the tests between its two pytest-xdist workers.

A work unit goes to one worker as a whole: each test file is one unit, as with ``--dist loadfile``
(a notebook's nbval cells share one kernel; a module's fixtures, a course directory or a server,
are set up once), except that tests parametrized by a browser front end (``jupyterlab``,
``notebook7``) make one unit per file and front end, so the two front ends' browser runs can go to
the two workers.

Why a scheduler of our own: xdist's ``--dist loadgroup`` marks a group by rewriting each item's
``_nodeid``, which pytest 9 no longer reads (``Node.nodeid`` comes from ``_id``), so groups were
silently ignored and nbval's cells scattered over both workers.

The longest units go out first (:data:`LONGEST_FIRST`), the others follow in collection order, so
that short units fill the workers at the end instead of one long unit starting last. xdist's own
order, by number of tests (``--loadscope-reorder``), sent the course of tests/test_classroom.py
(19 tests, the longest unit) out after most of the suite, where it alone set the end of the run.
"""

from __future__ import annotations

import re

FRONTEND_ID = re.compile(r"\[(?:[^\]]*-)?(jupyterlab|notebook7)(?:-[^\]]*)?\]$")


#: Work units by decreasing run time (sum of their tests' durations in a run of the whole suite on
#: 2 workers, 2026-12-01: notes of issue 18); units not named here take under 60 s.
LONGEST_FIRST = (
    "tests/test_classroom.py",  # the nbgrader course: 22 submissions of six notebooks graded
    "tests/grading/test_grading_corpus.py",  # the cheating corpus: 17 submissions graded
    "tests/browser/test_browser_notebooks.py::jupyterlab",  # six notebooks run in the browser
    "tests/browser/test_browser_notebooks.py::notebook7",
    "tests/hub/test_hub_course.py",  # a real JupyterHub, two students' servers
    "tests/test_explorers.py",
    "tests/browser/test_browser_explorers.py::jupyterlab",
    "tests/browser/test_browser_explorers.py::notebook7",
    "tests/browser/test_browser_fallbacks.py",
    "tests/hub/test_hub_browser.py",
)


def work_unit(nodeid: str) -> str:
    """The unit a test belongs to: its file, or its file and browser front end."""
    path = nodeid.split("::", 1)[0]
    frontend = FRONTEND_ID.search(nodeid)
    return f"{path}::{frontend.group(1)}" if frontend else path


def pytest_collection_modifyitems(session, config, items):
    """On an xdist worker, put the units of :data:`LONGEST_FIRST` first, in that order (a stable
    sort: each unit's tests keep their order). One process (``PYTEST_WORKERS=0``) keeps pytest's."""
    if not hasattr(config, "workerinput"):
        return
    rank = {unit: position for position, unit in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(work_unit(item.nodeid), len(rank)))


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False  # the units in the order the workers collected them

    class FileAndFrontendScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return FileAndFrontendScheduling(config, log)
