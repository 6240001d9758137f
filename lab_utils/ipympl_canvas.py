"""ipympl's canvas, pushing an explorer's frames to the browser as soon as they change.

Imported only when ipympl is Matplotlib's backend (importing ipympl changes an rcParam). The
private attributes used here are listed, with the versions they were checked against, in
:data:`lab_utils.canvas.PRIVATE_ATTRIBUTES`; when one is missing, or plain frames are asked for,
the canvas falls back to ipympl's own ``draw_idle`` path (``ExplorerCanvas.plain``).

Examples
--------
>>> from matplotlib.figure import Figure
>>> canvas = ExplorerCanvas(Figure())
>>> canvas.plain, canvas.image_mode, canvas.full_draw_needed
(False, 'full', True)
"""

from __future__ import annotations

import time

import numpy as np
from ipympl.backend_nbagg import Canvas as IpymplCanvas
from matplotlib.backends.backend_agg import FigureCanvasAgg

from . import canvas as explorer_canvas
from . import frames

__all__ = ["ExplorerCanvas"]


class ExplorerCanvas(IpymplCanvas):
    """An ipympl canvas that sends a frame as soon as the explorer's state changes.

    ipympl's own path is two trips: ``draw_idle`` tells the browser a frame is ready, the browser
    asks for it, then the kernel draws and sends it. :meth:`show_update` skips the first trip: it
    draws (a blit when it can) and sends the frame at once, as patches when the browser has
    installed the frame bridge, else as ipympl's PNG frames chosen by
    :class:`lab_utils.canvas.DiffFrames`. Every
    other ``draw_idle`` (resize, DPI change, toolbar, user code) marks the next frame as a full
    draw, and the browser's own requests are still answered. A whole frame repaints the canvas
    once the changes stop (:class:`lab_utils.canvas.TrailingRepaint`), so what stays on screen is always exact.

    ``plain`` (see :mod:`lab_utils.canvas`) turns all of this off: ipympl's own ``draw_idle`` path.
    """

    blitter = None  # the explorer's Blitter
    on_frontend = None  # called when a browser's ipympl has made this canvas's model
    bridge = None  # a FrameBridge when anywidget is installed
    errors = None  # the explorer's list of errors, for the errors of a timed repaint
    full_draw_needed = True

    def __init__(self, figure, *args, **kwargs):
        super().__init__(figure, *args, **kwargs)
        self.plain = explorer_canvas.PLAIN_FRAMES or bool(explorer_canvas.internals_missing(self))
        self.diffs = explorer_canvas.DiffFrames()
        self.repaint = explorer_canvas.TrailingRepaint(self._repaint)
        self._frame_mode = "full"  # of the last frame sent: "full", "diff" or "patch"
        self._repaint_full = False

    @property
    def image_mode(self) -> str:
        """``"full"`` or ``"diff"``: the mode of ipympl's frame being sent."""
        return self._current_image_mode

    def set_snapshot(self, png_base64: str) -> None:
        """Store the PNG that a saved widget state shows (what ipympl itself stores)."""
        self._data_url = f"data:image/png;base64,{png_base64}"

    def _handle_message(self, object, content, buffers):
        super()._handle_message(object, content, buffers)
        # ipympl's model sends "initialized" once it exists in a browser (ipympl 0.10).
        if content.get("type") == "initialized" and self.on_frontend is not None:
            self.on_frontend()

    def draw_idle(self, *args, **kwargs):
        self.full_draw_needed = True
        super().draw_idle(*args, **kwargs)

    def draw(self):
        self.full_draw_needed = False
        super().draw()

    def request_blit(self) -> None:
        """Tell the browser a frame is ready; it asks for it (ipympl's two-trip path)."""
        IpymplCanvas.draw_idle(self)

    def show_update(self) -> None:
        """Draw the explorer's changed artists and send the frame to the browser now."""
        if self.plain:
            self.draw_idle()
            return
        if self.syncing_data_url:
            # No view has connected yet (ipympl stops syncing the data URL when one does):
            # nobody to send to. The view asks for a whole frame when it appears.
            self.request_blit()
            return
        self._send_frame(patch=True)
        self._after_frame()

    def handle_draw(self, event):
        if self.plain:
            return super().handle_draw(event)
        # The browser asks for a frame, and waits for one through ipympl's own path (it asks for
        # no other frame until one has come): never answer with a patch.
        self._send_frame(patch=False)
        self._after_frame()

    def render_now(self) -> None:
        """Bring the buffer up to date (a blit if possible, else one full draw), sending nothing."""
        if self.full_draw_needed or self.blitter is None or not self.blitter.update():
            FigureCanvasAgg.draw(self)
            # The buffer is complete; the browser's next request can blit from it, and webagg
            # must send it (it has not been sent yet).
            self.full_draw_needed = False
            self._png_is_old = True

    def cancel_repaint(self) -> None:
        self.repaint.cancel()

    def _send_frame(self, patch: bool) -> None:
        if not self.full_draw_needed and self.blitter is not None and self.blitter.update():
            if not (patch and self._send_patch()):
                self.blit(self.figure.bbox)
        else:
            self.draw()

    def _send_patch(self) -> bool:
        """Send only the changed rectangles; False if the browser cannot take patches."""
        last = self._last_buff
        if self.bridge is None or not self.bridge.ready or last is None:
            return False
        pixels = np.asarray(self.get_renderer().buffer_rgba())
        buff = pixels.view(np.uint32).squeeze(2)
        if buff.shape != last.shape:
            return False
        rects = frames.changed_rects(last, buff)
        if rects:
            content, buffers = frames.patch_message(pixels, rects, deflate=self.bridge.deflate)
            self.send(content, buffers=buffers)
            self._last_buff = buff.copy()  # what the browser shows now
            # The next frame through ipympl's own path is a whole one and a new base.
            self._force_full = True
            self._frame_mode = "patch"
        return True

    def _after_frame(self) -> None:
        if self._frame_mode == "full":
            self.repaint.cancel()  # the last frame was whole: nothing to make sure of
        else:
            self.repaint.schedule()

    def _repaint(self) -> None:
        """Send the current picture as a whole frame (a dropped frame can leave no trace)."""
        try:
            if self.comm is None:  # closed meanwhile
                return
            self._repaint_full = True
            self._png_is_old = True
            self.manager.refresh_all()
        except Exception as error:  # noqa: BLE001 (a timer callback: nobody would see it)
            if self.errors is not None:
                self.errors.append(f"{type(error).__name__}: {error}")
        finally:
            self._repaint_full = False

    def get_diff_image(self):
        """The next frame as PNG: whole, or every pixel changed since the last whole frame.

        PNG compression level 1: the frame goes over a local socket, where WebAgg's default
        level 6 costs several ms per frame for a few KB saved.
        """
        if self.plain:
            return super().get_diff_image()
        if not self._png_is_old:
            return None
        pixels = np.asarray(self.get_renderer().buffer_rgba())
        buff = pixels.view(np.uint32).squeeze(2)
        mode, output = self.diffs.next_frame(
            buff,
            force_full=self._force_full,
            now=time.monotonic(),
            opaque=bool((pixels[:, :, 3] == 255).all()),
            whole=self._repaint_full,
        )
        self.set_image_mode(mode)
        self._frame_mode = mode
        self._last_buff = buff.copy()  # ipympl's data URL is made from this
        self._force_full = False
        self._png_is_old = False
        return frames.encode_png(output.view(dtype=np.uint8).reshape((*output.shape, 4)))
