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
# cell is too short on a busy machine. No cell of the lab should come near 10 minutes.
c.Execute.timeout = 600

# Keep checkpoints and caches out of released and collected assignments.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".DS_Store"]

# `nbgrader zip_collect <assignment>`: files downloaded from an LMS, placed (zipped or not) in
# course/downloaded/<assignment>/archive/. This pattern reads Canvas-style names such as
# "alice_1234_5678_01_softmax_basics.ipynb" or "bob_late_1235_5679_01_softmax_basics.ipynb"
# (student id, optional "late", two numbers, the notebook's name); change it for your LMS.
c.FileNameCollectorPlugin.named_regexp = r".*/(?P<student_id>[^/_]+)_(?:late_)?\d+_\d+_(?P<file_id>[^/]+)"
