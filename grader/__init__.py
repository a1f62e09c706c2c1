"""Autograder for the GRU course.

The pipeline, one module a step: ``collect`` (find submissions) -> ``session`` (run the
learner's cells in a fresh kernel that ``launcher`` forks and ``confine`` confines) -> ``check`` (run the instructor's test cells in the
grader process, calling the learner's functions through ``protocol``) -> ``record``
(nbgrader gradebook, ``grades.csv``) -> ``report`` and ``feedback``.
"""

import sys as _sys

# jsonschema (under nbformat) imports rfc3987_syntax when it is installed (JupyterLab's
# jupyter-events pulls it in), and that compiles a grammar for over a second in every
# grader process. It only checks IRI formats, which no notebook schema uses.
_sys.modules.setdefault("rfc3987_syntax", None)
