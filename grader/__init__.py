"""Autograder for the GRU course.

The pipeline, one module a step: ``collect`` (find submissions) -> ``session`` (run the
learner's cells in a fresh kernel that ``launcher`` forks and ``confine`` confines) ->
``verdict`` (run the instructor's test cells in the grader process, calling the learner's
functions through ``protocol``) -> ``record`` (nbgrader gradebook, ``grades.csv``) ->
``report`` and ``feedback``.

Importing the grader changes no other library: the set-up that does is in ``startup``,
called by the processes that want it.
"""
import os as _os

if _os.environ.get("GRU_SKIP_IRI_GRAMMAR") == "1":
    # a process that a grader process started and asked for this set-up (autograde's
    # spawned workers import this package before any code of theirs runs): see startup.py
    from .startup import skip_iri_grammar as _skip_iri_grammar

    _skip_iri_grammar()
