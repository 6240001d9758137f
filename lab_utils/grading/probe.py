"""Talking to the sandboxed kernel during grading: ask it to run one part's calls, under a limit.

:class:`KernelProbe` sends a part's request (the source of :mod:`lab_utils.runner` and the part's
encoded inputs) to the kernel of a running nbclient client, waits for the reply within the part's
time limit, interrupts and then kills a kernel that does not stop, and reads the answers the kernel
wrote as JSON into the exchange folder. It never runs anything the student wrote on this side.

Examples
--------
>>> from pathlib import Path
>>> read_answers(Path("/nonexistent/answer.json"))   # a kernel that died before writing: no answers
{}
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

from nbclient.exceptions import DeadKernelError
from nbclient.util import ensure_async, run_sync

from .. import runner

_RUNNER_SOURCE = Path(runner.__file__).read_text()

#: Why the remaining parts fail after the kernel went away.
KERNEL_GONE = "the kernel stopped (os._exit, exit(), a crash or a resource limit such as memory)"


class KernelProbe:
    """Probe the kernel of ``client`` (an nbclient ``NotebookClient`` with ``kc`` and ``km``)."""

    def __init__(self, client, exchange: Path, log):
        self.client = client
        self.exchange = exchange
        self.log = log

    # -- one part --------------------------------------------------------------------------------

    def run_part(self, request: dict, limit: float):
        """Run one part's calls. Returns (answers, seconds, part_stopped, kernel_stopped): the
        kernel's answers (a dict, empty if none came), and why the part or the kernel stopped."""
        answer_path = self.exchange / f"answer-{secrets.token_hex(8)}.json"
        namespace = {"__name__": "softmax_lab_probe", "__file__": runner.__file__}
        code = (
            f"(lambda __ns: (exec({_RUNNER_SOURCE!r}, __ns), __ns['serve'](globals(), "
            f"{json.dumps(request)!r}, {str(answer_path)!r})))({namespace!r})"
        )
        start = time.monotonic()
        msg_id = self.client.kc.execute(code, silent=True, store_history=False, allow_stdin=False)
        reply, stopped_part, kernel_stopped = self._await(msg_id, limit)
        seconds = time.monotonic() - start
        if reply is None and kernel_stopped is None and stopped_part is None:
            stopped_part = "no answer came back from the kernel"
        answers = read_answers(answer_path)
        if reply is not None and reply["content"].get("status") == "error" and stopped_part is None:
            if not answers.get("done"):
                stopped_part = (
                    f"the grader's call stopped with {reply['content'].get('ename')}: "
                    f"{str(reply['content'].get('evalue'))[:100]}"
                )
        return answers, seconds, stopped_part or kernel_stopped, kernel_stopped

    def _await(self, msg_id: str, limit: float):
        """(reply, part_stopped, kernel_stopped) for the request ``msg_id`` under a time ``limit``."""
        try:
            reply = self.reply_to(msg_id, limit)
            if reply is not None:
                return reply, None, None
            reason = f"did not finish within the part's time limit of {limit:g} s"
            self.interrupt()
            if self.reply_to(msg_id, 15.0) is not None:
                return None, reason, None
        except DeadKernelError:
            return None, None, KERNEL_GONE
        self.kill()
        return (
            None,
            reason,
            f"the kernel was stopped after a part exceeded its time limit of {limit:g} s",
        )

    # -- the kernel ------------------------------------------------------------------------------

    async def _async_reply_to(self, msg_id: str, wait: float) -> dict | None:
        """The shell reply to ``msg_id`` within ``wait`` seconds, or None (other replies are dropped)."""
        kc = self.client.kc
        deadline = time.monotonic() + wait
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                reply = await ensure_async(kc.shell_channel.get_msg(timeout=min(1.0, remaining)))
            except Exception:  # queue.Empty: nothing yet
                if not await ensure_async(kc.is_alive()):
                    raise DeadKernelError("Kernel died") from None
                continue
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply
        return None

    reply_to = run_sync(_async_reply_to)

    def responsive(self, wait: float = 15.0) -> bool:
        """Whether the kernel answers again after an interrupt; kill it when it does not."""
        try:
            if self.reply_to(self.client.kc.kernel_info(), wait) is not None:
                return True
        except DeadKernelError:
            return False
        self.kill()
        return False

    def kill(self) -> None:
        try:
            run_sync(self._async_kill)()
        except Exception as error:  # already gone
            self.log.debug("kill: %s", error)

    async def _async_kill(self) -> None:
        await ensure_async(self.client.km.shutdown_kernel(now=True))

    def interrupt(self) -> None:
        try:
            run_sync(self._async_interrupt)()
        except Exception as error:
            self.log.debug("interrupt: %s", error)

    async def _async_interrupt(self) -> None:
        await ensure_async(self.client.km.interrupt_kernel())


def read_answers(path: Path) -> dict:
    """The answers file the kernel wrote, or {} when there is none or it is not JSON."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
