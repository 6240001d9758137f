"""lab_utils.canvas: the frame choice (DiffFrames), the plain draw_idle fallback, the internals list."""

from __future__ import annotations

import ipympl
import matplotlib
import numpy as np
import pytest

from lab_utils import canvas as canvas_module
from lab_utils.explorers import softmax_explorer
from tests.ipympl_frontend import connect_frontend


def test_a_diff_holds_every_pixel_changed_since_the_last_whole_frame():
    diffs = canvas_module.DiffFrames(guard_s=0.0)
    picture = np.full((2, 3), 1, dtype=np.uint32)
    assert diffs.next_frame(picture, force_full=False, now=0.0)[0] == "full"
    picture[0, 0] = 2
    diffs.next_frame(picture, force_full=False, now=1.0)
    picture[0, 0] = 1  # back to the base value: still sent, over whatever the browser shows
    picture[1, 2] = 3
    mode, output = diffs.next_frame(picture, force_full=False, now=2.0)
    assert mode == "diff"
    assert output.tolist() == [[1, 0, 0], [0, 0, 3]]


def test_whole_frames_within_the_guard_after_a_new_base_and_on_request():
    diffs = canvas_module.DiffFrames(guard_s=10.0)
    picture = np.ones((2, 2), dtype=np.uint32)
    diffs.next_frame(picture, force_full=False, now=0.0)
    assert diffs.next_frame(picture, force_full=False, now=5.0)[0] == "full"  # inside the guard
    assert diffs.next_frame(picture, force_full=False, now=11.0)[0] == "diff"
    assert diffs.next_frame(picture, force_full=False, now=12.0, whole=True)[0] == "full"
    assert diffs.base_sent_at == 0.0, "a repaint keeps the base"
    assert diffs.next_frame(picture, force_full=False, now=13.0, opaque=False)[0] == "full"
    assert diffs.base_sent_at == 13.0, "a transparent picture becomes the new base"
    assert diffs.next_frame(np.ones((3, 2), np.uint32), force_full=False, now=30.0)[0] == "full"


def test_the_private_attributes_are_named_with_the_versions_checked():
    assert set(canvas_module.CHECKED_AGAINST) == {"ipympl", "matplotlib"}
    # The pins of requirements.txt: a new version is checked (and this line changed) on purpose.
    assert canvas_module.CHECKED_AGAINST["ipympl"] == ipympl.__version__
    assert canvas_module.CHECKED_AGAINST["matplotlib"] == matplotlib.__version__
    explorer = ipympl_explorer()
    assert canvas_module.internals_missing(explorer.canvas) == []
    assert not explorer.canvas.plain


def ipympl_explorer(**kwargs):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(canvas_module, "ipympl_active", lambda: True)
        return softmax_explorer(**kwargs)


def connect(canvas, sent):
    canvas.send_binary = lambda data: sent.append(canvas.image_mode)
    connect_frontend(canvas)


@pytest.mark.parametrize("why", ["switch", "internals changed"])
def test_the_plain_path_is_ipympls_own_draw_idle(monkeypatch, why):
    if why == "switch":
        monkeypatch.setattr(canvas_module, "PLAIN_FRAMES", True)
    else:  # e.g. a Matplotlib without _force_full
        monkeypatch.setitem(canvas_module.PRIVATE_ATTRIBUTES, "_no_such_internal", "gone")
    explorer = ipympl_explorer()
    canvas = explorer.canvas
    assert canvas.plain and canvas.bridge is None
    sent, events = [], []
    connect(canvas, sent)
    canvas.send_event = lambda kind, **kw: events.append(kind)
    draws = explorer.blitter.full_draws
    explorer.controls["z0"].value = 5.0
    assert sent == ["full"] and events == ["draw"], "a change only tells the browser to ask"
    canvas.handle_event({"type": "draw"})  # the browser asks: a full draw, ipympl's way
    assert explorer.blitter.full_draws == draws + 1 and len(sent) == 2
    assert explorer.state()["logits"][0] == 5.0 and explorer.errors == []


def test_render_now_blits_an_agg_canvas(monkeypatch):
    monkeypatch.setattr(canvas_module, "ipympl_active", lambda: False)
    explorer = softmax_explorer()
    partial = explorer.blitter.partial_draws
    canvas_module.render_now(explorer.canvas, explorer.blitter)
    assert explorer.blitter.partial_draws == partial + 1
