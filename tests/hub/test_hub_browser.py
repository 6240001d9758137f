"""A student clicks the nbgitpuller link, logs in, and runs a notebook in Chromium through the hub.

The browser reaches the hub by a name that is not a loopback address (conftest.HUB_HOSTNAME), as a
student's browser on another machine does: everything goes through JupyterHub's proxy, and the
explorers' frame bridge deflates its patches. The notebook (02_temperature, pulled by the link) is
run with Run All and checked as tests/browser checks every notebook (no error, no stderr, every
explorer and figure painted, no console error); then a slider of its temperature explorer is moved
with the keyboard and the figure must change through deflated patches.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.browser_support import ARTIFACTS, ExplorerView
from tests.browser.test_browser_notebooks import run_notebook
from tests.hub.hub_support import (
    HUB_HOSTNAME,
    HubLab,
    binder_culling,
    log_in,
    nbgitpuller_link,
    shut_down_sessions,
)

pytestmark = [pytest.mark.hub, pytest.mark.browser]

STUDENT = "cy"
NOTEBOOK = "02_temperature.ipynb"


def test_a_student_runs_a_notebook_through_the_hub_in_chromium(hub, course_repo, hub_browser):
    hub.add_students([STUDENT])
    hub.start_server(STUDENT)  # an instructor may start the class's servers before the lesson
    base = hub.url.replace("127.0.0.1", HUB_HOSTNAME)
    context = hub_browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(60_000)
    page = context.new_page()
    frames = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(payload)))
    try:
        # The link of classroom/jupyterhub.md: the hub asks the student to log in, then nbgitpuller
        # clones the repository into their home and opens the notebook in JupyterLab.
        page.goto(nbgitpuller_link(base, str(course_repo), NOTEBOOK))
        log_in(page, STUDENT, hub.password)
        page.wait_for_url(
            re.compile(rf"/user/{STUDENT}/lab/tree/{course_repo.name}/notebooks/{NOTEBOOK}"),
            timeout=120_000,
        )
        assert (hub.home(STUDENT) / course_repo.name / "notebooks" / NOTEBOOK).exists()

        server = HubLab(hub, STUDENT, base, f"{course_repo.name}/notebooks")
        found = run_notebook(
            page,
            server,
            Path(course_repo / "notebooks" / NOTEBOOK),
            ARTIFACTS / "hub-02_temperature.png",
        )
        found.pop("seconds")
        # Its kernel was forked from the zygote (binder/jupyter_server_config.py), which has
        # imported TensorFlow once for all of the student's kernels.
        assert found.pop("forked") == [True], "the notebook's kernel should be the zygote's child"
        problems = {key: items for key, items in found.items() if items}
        assert not problems, f"{NOTEBOOK} through the hub: {problems}"

        explorer = ExplorerView(page, "temperature-explorer")
        before = explorer.frames()
        explorer.press_on_slider("T", "ArrowRight", times=3)
        explorer.wait_for_pixels_to_change(before["pixels"])
        explorer.wait_for_frames(
            f"patches > {before['patches']}", "no patch was drawn after the key presses"
        )
        text = [f if isinstance(f, str) else f.decode("latin-1") for f in frames]
        # The patch message's data is JSON inside the JSON of the kernel message: quotes escaped.
        encodings = set(
            re.findall(r'softmax_lab_patch\\", \\"encoding\\": \\"(\w+)', "".join(text))
        )
        assert encodings == {"deflate"}, f"patch encodings seen on the wire: {encodings or 'none'}"
        # The student's server runs with binder/jupyter_server_config.py: its kernels are culled.
        culling = binder_culling()
        assert (
            f"Culling kernels with idle durations > {culling['cull_idle_timeout']} seconds at "
            f"{culling['cull_interval']} second intervals"
        ) in hub.log_path.read_text(errors="replace")
    finally:
        context.close()
        shut_down_sessions(hub, STUDENT)
