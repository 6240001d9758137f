"""Frame patches (lab_utils.frames) and the explorers' use of them, headless.

What the browser does with a patch (lab_utils/static/frame_bridge.js) is checked in a real Chromium
by tests/browser/test_browser_explorers.py; here ``paint`` does the same with NumPy: it pastes each
rectangle's pixels, decoded from the message exactly as the bridge decodes them, at its position.
"""

from __future__ import annotations

import io
import json
import sys
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from lab_utils import canvas as canvas_module
from lab_utils import frames
from lab_utils.explorers import softmax_explorer
from tests.ipympl_frontend import connect_frontend


def paint(picture: np.ndarray, content: dict, buffers: list[bytes]) -> np.ndarray:
    """What the bridge shows after drawing one patch message over ``picture`` (H x W x 4 uint8)."""
    message = json.loads(content["data"])
    assert message["type"] == "softmax_lab_patch"
    assert len(buffers) == len(message["rects"])
    shown = picture.copy()
    for (x, y, width, height), data in zip(message["rects"], buffers, strict=True):
        raw = zlib.decompress(data) if message["encoding"] == "deflate" else bytes(data)
        assert len(raw) == 4 * width * height, "a rectangle's pixels do not fill it"
        shown[y : y + height, x : x + width] = np.frombuffer(raw, np.uint8).reshape(
            height, width, 4
        )
    return shown


# ---------------------------------------------------------------------------------- changed_rects


def sparse_change(shape, changes):
    before = np.zeros(shape, dtype=np.uint32)
    after = before.copy()
    for row, column, value in changes:
        after[row % shape[0], column % shape[1]] = value
    return before, after


@settings(max_examples=200, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 30), st.integers(1, 80)),
    changes=st.lists(
        st.tuples(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(1, 2**32 - 1)),
        max_size=12,
    ),
    gap=st.integers(1, 20),
)
def test_changed_rects_cover_every_change_and_nothing_outside_the_picture(shape, changes, gap):
    before, after = sparse_change(shape, changes)
    rects = frames.changed_rects(before, after, gap=gap)
    painted = before.copy()
    covered = np.zeros(shape, dtype=int)
    for x, y, width, height in rects:
        assert width >= 1 and height >= 1
        assert 0 <= x and x + width <= shape[1] and 0 <= y and y + height <= shape[0]
        painted[y : y + height, x : x + width] = after[y : y + height, x : x + width]
        covered[y : y + height, x : x + width] += 1
    np.testing.assert_array_equal(painted, after)
    assert covered.max(initial=0) <= 1, "rectangles overlap"
    assert (rects == []) == np.array_equal(before, after)


@settings(max_examples=100, deadline=None)
@given(
    pictures=hnp.arrays(
        np.uint32,
        st.tuples(st.just(2), st.integers(1, 12), st.integers(1, 12)),
        elements=st.integers(0, 3),
    )
)
def test_changed_rects_on_dense_random_pictures(pictures):
    before, after = pictures
    painted = before.copy()
    for x, y, width, height in frames.changed_rects(before, after):
        painted[y : y + height, x : x + width] = after[y : y + height, x : x + width]
    np.testing.assert_array_equal(painted, after)


def test_changed_rects_split_side_by_side_panels_and_keep_near_columns_together():
    before = np.zeros((50, 300), dtype=np.uint32)
    after = before.copy()
    after[10:20, 20:30] = 1  # left panel
    after[30:35, 40:45] = 1  # 10 columns further: same band
    after[5:8, 250:260] = 1  # right panel
    assert frames.changed_rects(before, after) == [(20, 10, 25, 25), (250, 5, 10, 3)]
    assert frames.changed_rects(before, after, gap=300) == [(20, 5, 240, 30)]


@pytest.mark.parametrize(
    "before, after, gap, match",
    [
        (np.zeros((2, 3), np.uint32), np.zeros((3, 2), np.uint32), 16, "one shape"),
        (np.zeros(6, np.uint32), np.zeros(6, np.uint32), 16, "2-D"),
        (np.zeros((2, 3), np.uint32), np.zeros((2, 3), np.uint32), 0, "gap must be at least 1"),
    ],
)
def test_changed_rects_rejects_bad_input_by_name(before, after, gap, match):
    with pytest.raises(ValueError, match=match):
        frames.changed_rects(before, after, gap=gap)


# ---------------------------------------------------------------------------------- patch_message


@pytest.mark.parametrize("deflate", [False, True])
def test_patch_message_round_trips_the_pixels(deflate):
    rng = np.random.default_rng(0)
    picture = rng.integers(0, 256, size=(40, 60, 4), dtype=np.uint8)
    target = picture.copy()
    target[5:9, 10:30] = 200
    target[30:40, 50:60] = 7
    rects = frames.changed_rects(picture.view(np.uint32)[..., 0], target.view(np.uint32)[..., 0])
    content, buffers = frames.patch_message(target, rects, deflate=deflate)
    assert json.loads(content["data"])["encoding"] == ("deflate" if deflate else "raw")
    np.testing.assert_array_equal(paint(picture, content, buffers), target)


def test_deflated_patches_are_much_smaller_on_a_figure():
    explorer = softmax_explorer()
    pixels = np.asarray(explorer.canvas.buffer_rgba())
    rects = [(0, 0, pixels.shape[1], pixels.shape[0])]
    raw = frames.patch_message(pixels, rects, deflate=False)[1][0]
    deflated = frames.patch_message(pixels, rects, deflate=True)[1][0]
    assert len(raw) == pixels.size and len(deflated) < len(raw) / 10


def test_encode_png_round_trips():
    pixels = np.random.default_rng(1).integers(0, 256, size=(7, 9, 3), dtype=np.uint8)
    decoded = np.asarray(Image.open(io.BytesIO(frames.encode_png(pixels))))
    np.testing.assert_array_equal(decoded, pixels)


# ---------------------------------------------------------------------------------- the bridge


def ipympl_explorer(monkeypatch, **kwargs):
    monkeypatch.setattr(canvas_module, "ipympl_active", lambda: True)
    return softmax_explorer(**kwargs)


def answer(bridge, **content):
    """What frame_bridge.js sends back once it has (or has not) installed itself."""
    bridge._on_browser_message(bridge, {"type": "ready", **content}, [])


class Sent:
    """Records what an ipympl canvas sends: ipympl's PNG frames and the bridge's patches."""

    def __init__(self, canvas, monkeypatch):
        self.canvas = canvas
        self.messages = []  # ("binary", mode, png) or ("patch", content, buffers)
        monkeypatch.setattr(
            canvas,
            "send_binary",
            lambda data: self.messages.append(("binary", canvas.image_mode, data)),
        )
        send = canvas.send
        monkeypatch.setattr(
            canvas,
            "send",
            lambda content, buffers=None: (
                self.messages.append(("patch", content, buffers))
                if "softmax_lab_patch" in content.get("data", "")
                else send(content, buffers)
            ),
        )

    def kinds(self):
        return [message[0] for message in self.messages]

    def picture(self) -> np.ndarray:
        """What the browser shows after every message, drawn in order."""
        shown = None
        for kind, first, second in self.messages:
            if kind == "binary":
                image = np.asarray(Image.open(io.BytesIO(second)).convert("RGBA"))
                assert first == "full", "with patches on, ipympl's own frames must be whole"
                shown = image.copy()
            else:
                shown = paint(shown, first, second)
        return shown


def test_an_ipympl_explorer_has_a_bridge_tied_to_its_canvas(monkeypatch):
    explorer = ipympl_explorer(monkeypatch)
    bridge = explorer.canvas.bridge
    assert isinstance(bridge, frames.frame_bridge_class())
    assert bridge.canvas is explorer.canvas
    assert not bridge.ready and bridge.problem is None
    assert "softmax_lab_patch" in bridge._esm
    # Agg explorers have no ipympl canvas and no bridge.
    monkeypatch.setattr(canvas_module, "ipympl_active", lambda: False)
    assert not hasattr(softmax_explorer().canvas, "bridge")


def test_the_bridges_answer_sets_ready_local_and_the_problem(monkeypatch):
    bridge = ipympl_explorer(monkeypatch).canvas.bridge
    answer(bridge, ok=False, reason="missing: offscreen_context")
    assert not bridge.ready and bridge.problem == "missing: offscreen_context"
    answer(bridge, ok=True, local=True)
    assert bridge.ready and bridge.local and bridge.problem is None and not bridge.deflate
    answer(bridge, ok=True, local=False)
    assert bridge.deflate
    bridge.encoding = "raw"
    assert not bridge.deflate
    bridge._on_browser_message(bridge, "not a dict", [])  # ignored
    with pytest.raises(ValueError, match="encoding must be"):
        bridge.encoding = "gzip"
    assert bridge.encoding == "raw" and not bridge.deflate


@pytest.mark.parametrize("local", [True, False])
def test_with_a_ready_bridge_changes_go_out_as_patches_that_give_the_exact_picture(
    monkeypatch, local
):
    explorer = ipympl_explorer(monkeypatch)
    sent = Sent(explorer.canvas, monkeypatch)
    connect_frontend(explorer.canvas)
    answer(explorer.canvas.bridge, ok=True, local=local)
    full_draws = explorer.blitter.full_draws
    for name, value in [("z0", 9.0), ("z2", -4.0), ("z0", 2.0), ("z3", 3.3)]:
        explorer.controls[name].value = value
        np.testing.assert_array_equal(sent.picture(), explorer.canvas.buffer_rgba())
    assert sent.kinds() == ["binary"] + ["patch"] * 4
    encodings = {json.loads(content["data"])["encoding"] for _, content, _ in sent.messages[1:]}
    assert encodings == {"raw" if local else "deflate"}
    assert explorer.blitter.full_draws == full_draws, "a patch must come from a blit"
    # A patch is small: the changed bars and labels, not the figure.
    height, width = explorer.canvas.get_width_height()[::-1]
    for _, content, _ in sent.messages[1:]:
        area = sum(w * h for _, _, w, h in json.loads(content["data"])["rects"])
        assert area < 0.25 * width * height
    # The next frame through ipympl's path (here: the browser asks) is a whole one.
    explorer.canvas.handle_event({"type": "draw"})
    assert sent.messages[-1][:2] == ("binary", "full")
    np.testing.assert_array_equal(sent.picture(), explorer.canvas.buffer_rgba())


def test_an_unchanged_picture_sends_no_patch(monkeypatch):
    explorer = ipympl_explorer(monkeypatch)
    sent = Sent(explorer.canvas, monkeypatch)
    connect_frontend(explorer.canvas)
    answer(explorer.canvas.bridge, ok=True, local=True)
    explorer.canvas.show_update()  # nothing changed since the last frame
    assert sent.kinds() == ["binary"]


def test_without_a_ready_bridge_ipympls_own_frames_are_used(monkeypatch):
    explorer = ipympl_explorer(monkeypatch)
    sent = Sent(explorer.canvas, monkeypatch)
    connect_frontend(explorer.canvas)
    answer(explorer.canvas.bridge, ok=False, reason="missing: DecompressionStream")
    monkeypatch.setattr(canvas_module, "FULL_FRAME_GUARD_S", 0.0)
    explorer.controls["z1"].value = 4.5
    assert sent.kinds() == ["binary", "binary"]
    assert sent.messages[-1][1] == "diff"


def test_patches_stop_after_a_resize_until_a_whole_frame_is_sent(monkeypatch):
    explorer = ipympl_explorer(monkeypatch)
    sent = Sent(explorer.canvas, monkeypatch)
    connect_frontend(explorer.canvas)
    answer(explorer.canvas.bridge, ok=True, local=True)
    explorer.canvas.draw_idle()  # e.g. a resize or a DPI change: the next frame is a full draw
    explorer.controls["z1"].value = 4.5
    assert sent.kinds() == ["binary", "binary"]
    explorer.controls["z1"].value = 5.5
    assert sent.kinds()[-1] == "patch"
    np.testing.assert_array_equal(sent.picture(), explorer.canvas.buffer_rgba())


def test_the_trailing_whole_frame_follows_patches(monkeypatch):
    import asyncio

    monkeypatch.setattr(canvas_module, "TRAILING_FRAME_DELAY_S", 0.05)
    explorer = ipympl_explorer(monkeypatch)
    sent = Sent(explorer.canvas, monkeypatch)
    connect_frontend(explorer.canvas)
    answer(explorer.canvas.bridge, ok=True, local=True)

    async def drag():
        for value in (3.0, 4.0):
            explorer.controls["z0"].value = value
        await asyncio.sleep(0.3)

    asyncio.run(drag())
    assert sent.kinds() == ["binary", "patch", "patch", "binary"]
    np.testing.assert_array_equal(sent.picture(), explorer.canvas.buffer_rgba())
    assert explorer.errors == []


def test_closing_the_explorer_closes_its_bridge(monkeypatch):
    explorer = ipympl_explorer(monkeypatch)
    bridge = explorer.canvas.bridge
    assert bridge.comm is not None
    explorer.close()
    assert bridge.comm is None


def test_without_anywidget_explorers_keep_ipympls_path(monkeypatch):
    monkeypatch.setattr(frames, "_FRAME_BRIDGE", None)
    monkeypatch.setitem(sys.modules, "anywidget", None)  # import anywidget -> ImportError
    assert frames.frame_bridge_class() is None
    explorer = ipympl_explorer(monkeypatch)
    assert explorer.canvas.bridge is None
    sent = Sent(explorer.canvas, monkeypatch)
    connect_frontend(explorer.canvas)
    explorer.controls["z1"].value = 4.5
    assert sent.kinds() == ["binary", "binary"]
