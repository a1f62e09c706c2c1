"""Set-up that changes another library, done only by the processes that ask for it.

Importing the grader changes no other library. ``python -m grader`` (``grader/__main__.py``)
calls ``skip_iri_grammar`` before anything imports jsonschema; the commands that create
nbgrader gradebooks call ``grader.release.stamp_gradebooks_in_process`` (see there).
"""
import os
import sys

# how a grader process asks the processes it starts for ``skip_iri_grammar``: autograde's
# workers are spawned, and import the grader package before any code of theirs runs
SKIP_IRI_GRAMMAR = "GRU_SKIP_IRI_GRAMMAR"


def skip_iri_grammar():
    """jsonschema (under nbformat) imports ``rfc3987_syntax`` when it is installed
    (JupyterLab's jupyter-events pulls it in), and that compiles a grammar, seconds of CPU,
    in every grader process. It only checks the ``iri`` formats, which no notebook
    schema uses. After this call ``import rfc3987_syntax`` fails in this process, as if it
    were not installed, and in the processes it starts (``grader/__init__.py`` reads
    ``SKIP_IRI_GRAMMAR``). Effective only before jsonschema is imported."""
    sys.modules.setdefault("rfc3987_syntax", None)
    os.environ[SKIP_IRI_GRAMMAR] = "1"
