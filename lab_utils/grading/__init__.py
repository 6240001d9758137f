"""Trusted grading for nbgrader: student notebooks run sandboxed, verdicts are decided outside.

This package is the instructor's side; it is never imported by ``import lab_utils`` or by a
student's notebook. The repository's ``nbgrader_config.py`` puts :class:`SandboxedExecute` in
place of nbgrader's ``Execute`` step of ``nbgrader autograde``:

1. each submission's kernel starts inside bubblewrap (:mod:`.sandbox`): a read-only view of the
   system, a writable *copy* of that student's own folder, a private ``/tmp``, no network, the
   course folder (gradebook, other students, ``source/``, ``release/``) and the instructor
   notebooks hidden, and limits on CPU time, memory and processes (:mod:`.launch`);
2. the notebook's ordinary cells run there as usual, each solution or self-check cell within a
   time limit;
3. an autograder cell (``grade("my_softmax", my_softmax, "extreme")``) is *not* run in the
   student's process: the judge (:mod:`.judge`, :mod:`.probe`) sends the part's inputs to the kernel, the
   student's function is called there through :mod:`lab_utils.runner`, the return values come back
   as JSON in a file, and this trusted process computes the references itself and compares;
4. the judge writes each verdict into its autograder cell's output (an error output when the part
   fails), which is what nbgrader's ``SaveAutoGrades`` records in the gradebook, the feedback and
   the CSV export.

``python -m lab_utils.grading autograde ASSIGNMENT --workers W`` grades every submission of an
assignment with W ``nbgrader autograde --student`` processes at once (:mod:`.parallel`).

Examples
--------
>>> from nbgrader.preprocessors import Execute
>>> issubclass(SandboxedExecute, Execute)     # takes the place of nbgrader's Execute step
True
"""

from .execute import SandboxedExecute

__all__ = ["SandboxedExecute"]
