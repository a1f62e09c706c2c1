"""Autograder for the GRU course.

The pipeline, one module a step: ``collect`` (find submissions) -> ``execute`` (run the
learner's cells in a fresh kernel) -> ``check`` (run the instructor's test cells in the
grader process, calling the learner's functions through ``protocol``) -> ``record``
(nbgrader gradebook, ``grades.csv``) -> ``report`` and ``feedback``.
"""

import os as _os
import sys as _sys

# nbgrader runs the `alembic` command found on PATH (its database upgrades; a new gradebook's
# revision is asked in-process, see record._alembic_head); make it the one installed
# beside this interpreter even when the venv is not activated (.venv/bin/python -m grader).
_bin = _os.path.dirname(_sys.executable)
if _bin not in _os.environ.get("PATH", "").split(_os.pathsep):
    _os.environ["PATH"] = _bin + _os.pathsep + _os.environ.get("PATH", "")

# jsonschema (under nbformat) imports rfc3987_syntax when it is installed (JupyterLab's
# jupyter-events pulls it in), and that compiles a grammar for over a second in every
# grader process. It only checks IRI formats, which no notebook schema uses.
_sys.modules.setdefault("rfc3987_syntax", None)
