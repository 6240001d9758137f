"""nbgrader's Execute step, sandboxed, with the autograder cells decided by the trusted judge.

``nbgrader_config.py`` puts :class:`SandboxedExecute` in ``Autograde.autograde_preprocessors`` in
place of nbgrader's ``Execute``. For one submission it:

1. copies the student's folder, starts the kernel in the sandbox (:mod:`.sandbox`) on that copy;
2. runs every ordinary cell as nbgrader would, solution and self-check cells within
   ``student_cell_timeout`` seconds, others within nbgrader's ``Execute.timeout``;
3. for every autograder cell holding ``grade("exercise", exercise, "part")`` calls, asks the kernel
   to call the student's function on the part's inputs (:class:`.probe.KernelProbe` sends
   lab_utils.runner as source text into a fresh namespace), reads the answers the kernel wrote as
   JSON, judges them here with the exercise's own code, and writes the verdict as the cell's output;
4. stops a part after its time limit (interrupt, then kill), and after a kernel dies (``os._exit``,
   ``exit()``, the memory or CPU limit) records every remaining part as failed with the reason.

Examples
--------
Configured as ``nbgrader_config.py`` does it (here: refuse to grade without bubblewrap):

>>> from traitlets.config import Config
>>> config = Config()
>>> config.SandboxedExecute.require_sandbox = True
>>> step = SandboxedExecute(config=config)
>>> step.require_sandbox, step.student_cell_timeout, step.memory_limit_mb, step.cpu_limit_seconds
(True, 60, 6144, 1800)
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from pathlib import Path

import numpy as np
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import Execute
from traitlets import Bool, Float, Integer

from ..exercises import EXERCISES, cases
from ..exercises.base import Failure
from ..exercises.judging import (
    NotWritten,
    judge_part,
    merge_sources,
    not_written_text,
    part_request,
    results_from_answers,
)
from . import judge, sandbox
from .probe import KernelProbe


class SandboxedExecute(Execute):
    """Execute a submission in a sandboxed kernel; decide its autograder cells outside it."""

    student_cell_timeout = Integer(60, help="Seconds a solution or self-check cell may run.").tag(
        config=True
    )
    part_timeout_scale = Float(
        1.0, help="Multiplies every part's own time limit (slow machines)."
    ).tag(config=True)
    memory_limit_mb = Integer(6144, help="Address-space limit of the kernel (MB).").tag(config=True)
    cpu_limit_seconds = Integer(1800, help="CPU-time limit of the kernel (s).").tag(config=True)
    process_limit = Integer(512, help="Processes and threads the kernel may add.").tag(config=True)
    require_sandbox = Bool(False, help="Refuse to grade where bubblewrap is missing.").tag(
        config=True
    )

    def preprocess(self, nb, resources=None, km=None):
        self._sandboxed = sandbox.bwrap_path() is not None
        if not self._sandboxed:
            if self.require_sandbox:
                raise RuntimeError("bubblewrap (bwrap) is not installed and require_sandbox is set")
            self.log.warning(
                "Softmax Lab grader: bubblewrap (bwrap) not found: grading WITHOUT a sandbox "
                "(verdicts are still decided outside the student's process)"
            )
        self._cell_timeout = self.timeout
        self._rng = np.random.default_rng(secrets.randbits(128))
        work_dir = os.path.abspath((resources or {}).get("metadata", {}).get("path") or os.getcwd())
        staging = Path(tempfile.mkdtemp(prefix="softmax-lab-grading-"))
        try:
            self._prepare(staging, work_dir)
            return self._run(nb, resources, km)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    # -- set-up ----------------------------------------------------------------------------------

    def _prepare(self, staging: Path, work_dir: str) -> None:
        user = sandbox.sandbox_user() if self._sandboxed else None
        os.chmod(staging, 0o711)
        self._exchange = staging / "exchange"
        self._copy = staging / "work"
        private = staging / "private"
        self._exchange.mkdir()
        shutil.copytree(work_dir, self._copy, symlinks=True)
        private.mkdir()
        if user is not None:
            for path in (self._exchange, private, *self._copy.rglob("*"), self._copy):
                os.lchown(path, *user)
        os.chmod(self._exchange, 0o700)
        home = "/tmp/home" if self._sandboxed else str(private)
        self._env = {
            "HOME": home,
            "TMPDIR": "/tmp" if self._sandboxed else str(private),
            "MPLCONFIGDIR": f"{home}/.matplotlib",
            "IPYTHONDIR": f"{home}/.ipython",
            "JUPYTER_RUNTIME_DIR": f"{home}/.jupyter-runtime",
            "KERAS_HOME": f"{home}/.keras",
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "NBGRADER_EXECUTION": os.environ.get("NBGRADER_EXECUTION", "autograde"),
            "SOFTMAX_LAB_SANDBOX": "bubblewrap" if self._sandboxed else "none",
        }
        if os.environ.get("PYTHONPATH"):
            self._env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        course = CourseDirectory(config=self.config).root
        lab_root = Path(__file__).resolve().parents[2]
        self._hidden = [os.path.abspath(course), str(lab_root / "notebooks")]
        self._work_dir = work_dir if self._sandboxed else str(self._copy)

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        km.transport = "ipc"
        km.connection_file = str(self._exchange / "kernel.json")
        km.ip = str(self._exchange / "k")
        km.work_dir = self._work_dir
        km.work_copy = str(self._copy)
        km.exchange_dir = str(self._exchange)
        km.hidden = self._hidden
        km.sandbox_env = self._env
        km.use_bwrap = self._sandboxed
        km.limits = {
            "cpu": self.cpu_limit_seconds,
            "memory": self.memory_limit_mb * 2**20,
            "nproc": self.process_limit,
        }
        return km

    # -- the run ---------------------------------------------------------------------------------

    def _run(self, nb, resources, km):
        from nbclient import NotebookClient

        from .sandbox import SandboxedKernelManager

        self.kernel_manager_class = SandboxedKernelManager
        NotebookClient.__init__(self, nb, km)
        self.kernel_manager_class = SandboxedKernelManager
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        stopped: str | None = None
        self._kernel = KernelProbe(self, self._exchange, self.log)
        with self.setup_kernel(cwd=self._work_dir):
            info = self.wait_for_reply(self.kc.kernel_info())
            self.nb.metadata["language_info"] = info["content"]["language_info"]
            for index, cell in enumerate(self.nb.cells):
                calls = judge.grade_calls(cell)
                if calls is not None:
                    stopped = self._judge_cell(cell, index, calls, stopped)
                elif cell.cell_type == "code" and stopped is None:
                    stopped = self._execute(cell, index)
                elif cell.cell_type == "code":
                    cell.outputs = []
        self.set_widgets_metadata()
        if not self._sandboxed:
            from nbformat import v4

            self.nb.cells.insert(0, v4.new_markdown_cell(judge.SANDBOX_NOTE))
        return self.nb, self.resources

    def _execute(self, cell, index) -> str | None:
        """Run one ordinary cell; return why the kernel is gone, or None."""
        self.timeout = self._timeout_for(cell)
        try:
            self.execute_cell(cell, index, store_history=True)
        except DeadKernelError:
            return f"the kernel stopped while cell {index} ran (os._exit, exit(), a crash or a resource limit)"
        except CellTimeoutError:
            pass
        if any(o.get("ename") == "CellTimeoutError" for o in cell.outputs):
            cell.outputs.append(
                self._note(f"this cell did not finish within {self.timeout} s and was interrupted")
            )
            if not self._kernel.responsive():
                return f"cell {index} did not finish within {self.timeout} s and the kernel did not stop"
        return None

    def _timeout_for(self, cell) -> int:
        """Seconds a cell may run: a self-check gets its exercise's part limits, a solution cell
        ``student_cell_timeout``, an instructor cell nbgrader's ``Execute.timeout``."""
        if not judge.is_student_cell(cell):
            return self._cell_timeout
        grade_id = str(cell.metadata.get("nbgrader", {}).get("grade_id", ""))
        exercise = EXERCISES.get(grade_id.removesuffix("_selfcheck"))
        if grade_id.endswith("_selfcheck") and exercise is not None:
            parts = sum(part.timeout for part in exercise.parts) * self.part_timeout_scale
            return max(self.student_cell_timeout, int(parts) + 1)
        return self.student_cell_timeout

    def _note(self, text: str):
        from nbformat import v4

        return v4.new_output("stream", name="stdout", text=f"[Softmax Lab grader] {text}\n")

    # -- the judge -------------------------------------------------------------------------------

    def _judge_cell(self, cell, index, calls, stopped: str | None) -> str | None:
        messages, passed = [], []
        sources = judge.function_sources(self.nb.cells[:index])
        for exercise_name, part_name in calls:
            exercise = EXERCISES[exercise_name]
            part = exercise.part(part_name)
            part_cases = cases(exercise_name)[part_name]
            if exercise.disguise is not None:  # shuffled with a secret seed: nothing to look up
                part_cases = tuple(exercise.disguise(case, self._rng) for case in part_cases)
            if stopped is None:
                results, seconds, stopped_part, stopped = self._probe(exercise, part, part_cases)
            else:
                results, seconds, stopped_part = [], 0.0, stopped
            results = merge_sources(exercise, part_cases, results, sources)
            try:
                failure = judge_part(exercise, part, part_cases, results, seconds, stopped_part)
            except NotWritten:
                failure = Failure(
                    part.name, part.points, problem=not_written_text(exercise), hint=""
                )
                message = not_written_text(exercise)
            else:
                message = None if failure is None else failure.describe(exercise.name)
            self.log.info(
                "Softmax Lab grader: %s/%s %s",
                exercise_name,
                part_name,
                "passes" if failure is None else "fails",
            )
            if message is not None:
                messages.append(message)
            else:
                passed.append(
                    f"{exercise_name}: part '{part_name}' passes (judged outside the notebook)"
                )
        text = "\n\n".join(messages) if messages else None
        cell.outputs = judge.verdict_outputs(text, "\n".join(passed))
        if not self._sandboxed:
            cell.outputs.insert(0, self._note("graded WITHOUT a sandbox (bubblewrap not found)"))
        return stopped

    def _probe(self, exercise, part, part_cases):
        """Ask the kernel to run a part's calls. Returns (results, seconds, part_stopped, kernel_stopped)."""
        request = part_request(exercise, part, part_cases)
        answers, seconds, stopped_part, kernel_stopped = self._kernel.run_part(
            request, part.timeout * self.part_timeout_scale
        )
        return (
            results_from_answers(answers.get("answers", [])),
            seconds,
            stopped_part,
            kernel_stopped,
        )
