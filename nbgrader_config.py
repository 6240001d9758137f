"""nbgrader configuration for teaching with Softmax Lab (see classroom/README.md for the commands).

Run every ``nbgrader`` command from the repository root: nbgrader reads this file from the current
directory. The course lives in ``course/`` next to this file (git-ignored; it holds students' work
and the gradebook), or wherever the environment variable ``SOFTMAX_LAB_COURSE`` points.

Layout (nbgrader's default), one assignment per notebook, named after it::

    course/source/01_softmax_basics/01_softmax_basics.ipynb        instructor version (from notebooks/)
    course/release/01_softmax_basics/01_softmax_basics.ipynb       student version (generate_assignment)
    course/submitted/<student>/01_softmax_basics/01_softmax_basics.ipynb
    course/autograded/<student>/01_softmax_basics/...              after autograde
    course/feedback/<student>/01_softmax_basics/01_softmax_basics.html
    course/gradebook.db                                            scores (export to CSV)
"""

import os

c = get_config()  # noqa: F821  (nbgrader provides get_config when it loads this file)

_HERE = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.course_id = "softmax-lab"
c.CourseDirectory.root = os.path.abspath(os.environ.get("SOFTMAX_LAB_COURSE", os.path.join(_HERE, "course")))

# What students see in place of a solution: the stub that lab_utils.checks reports as "not written yet".
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Autograding re-runs whole notebooks, TensorFlow trainings included: nbgrader's default of 30 s per
# instructor cell is too short on a busy machine; no cell of the lab comes near 5 minutes.
c.Execute.timeout = 300

# Trusted grading (classroom/README.md, "What the grader guarantees"): each submission's kernel runs
# in a bubblewrap sandbox (lab_utils/grading/sandbox.py), and the autograder cells are decided
# outside it by lab_utils/grading/execute.py, which replaces nbgrader's Execute step below.
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern,  # noqa: E402
                                    LimitOutput, SaveAutoGrades)
from nbconvert.preprocessors import ClearMetadataPreprocessor  # noqa: E402

from lab_utils.grading import SandboxedExecute  # noqa: E402

c.Autograde.autograde_preprocessors = [
    SandboxedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
    AssignLatePenalties, CheckCellMetadata,
]
# Seconds a solution or self-check cell (student code) may run; each graded part has its own limit
# (lab_utils/exercises, 30 s for the NumPy exercises), scaled by part_timeout_scale.
c.SandboxedExecute.student_cell_timeout = int(os.environ.get("SOFTMAX_LAB_STUDENT_CELL_TIMEOUT", "60"))
c.SandboxedExecute.part_timeout_scale = float(os.environ.get("SOFTMAX_LAB_PART_TIMEOUT_SCALE", "1.0"))
# Limits of the sandboxed kernel: address space (TensorFlow reserves about 3 GB; set
# SOFTMAX_LAB_MEMORY_LIMIT_MB to change it), CPU seconds, and processes plus threads it may add.
c.SandboxedExecute.memory_limit_mb = int(os.environ.get("SOFTMAX_LAB_MEMORY_LIMIT_MB", "6144"))
c.SandboxedExecute.cpu_limit_seconds = 1800
c.SandboxedExecute.process_limit = 512
# Set SOFTMAX_LAB_REQUIRE_SANDBOX=1 to refuse grading on a machine without bubblewrap.
c.SandboxedExecute.require_sandbox = os.environ.get("SOFTMAX_LAB_REQUIRE_SANDBOX") == "1"

# Keep checkpoints and caches out of released and collected assignments.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".DS_Store"]

# `nbgrader zip_collect <assignment>`: files downloaded from an LMS, placed (zipped or not) in
# course/downloaded/<assignment>/archive/. This pattern reads Canvas-style names such as
# "alice_1234_5678_01_softmax_basics.ipynb" or "bob_late_1235_5679_01_softmax_basics.ipynb"
# (student id, optional "late", two numbers, the notebook's name); change it for your LMS.
c.FileNameCollectorPlugin.named_regexp = r".*/(?P<student_id>[^/_]+)_(?:late_)?\d+_\d+_(?P<file_id>[^/]+)"
