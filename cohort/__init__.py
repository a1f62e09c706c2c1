"""Synthetic learners: correct, blank and realistically wrong submissions.

Used by the demo cohort, the tests and the benchmarks. Wrong implementations are small
edits of the solution code (``mistakes/``), each with the tests it must fail.
"""
