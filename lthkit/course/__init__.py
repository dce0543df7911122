"""Course assignments: every chapter's Exercises section as an nbgrader assignment.

An assignment is written once, in ``course/assignments/<chapter>.py`` (cells in the "percent"
format editors know, ``# %% [kind ...]``), against the exercises of ``notebooks/<chapter>.ipynb``;
:mod:`lthkit.course.source` turns it into nbgrader's source notebook, taking each exercise's
text from the chapter, and refuses when the two have drifted apart::

    problems = check(".")                   # [] when every chapter has an assignment in step
    write_sources(".", "course")             # course/source/<chapter>/<chapter>.ipynb

``python -m lthkit.course`` (what ``make course`` runs) writes the sources and the student
versions (``nbgrader generate_assignment``) into ``course/release/``.
"""
from .source import DriftError, build, check, write_sources

__all__ = ["DriftError", "build", "check", "write_sources"]
