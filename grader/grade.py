"""Grade one submitted notebook: run its cells, run each test after the cell it follows.

Tests run where the master notebook puts them (after the solution cell they follow), so a
runaway cell late in a notebook does not cost the points earned above it.
"""
import copy
import time

import nbformat

from . import collect, course, faults, graded_notebook, identity, tampering, verdict
from .launch import KernelStartFailed, LauncherDied
from .protocol import GradingStopped, LearnerError
from .result import NotebookResult, Status
from .session import NOT_RUN_NOTE, KernelSession

RETRIES = 2   # fresh kernels for a fault that is not the learner's, before the row says error


def plan(nb, master):
    """Order of work: the learner's code cells, each followed by the tests anchored on it."""
    test_ids = {t.grade_id for t in master.tests}
    by_anchor = {}
    for t in master.tests:
        by_anchor.setdefault(t.anchor, []).append(t)
    steps, placed = [], set()
    for t in by_anchor.get(None, []):
        steps.append(("test", t))
        placed.add(t.grade_id)
    for cell in nb.cells:
        gid = course.nbgrader_meta(cell).get("grade_id")
        if cell.cell_type == "code" and gid not in test_ids and not course.is_test_cell(cell):
            steps.append(("cell", cell))
        for t in by_anchor.get(gid, []) if gid else []:
            if t.grade_id not in placed:
                steps.append(("test", t))
                placed.add(t.grade_id)
    # Tests whose anchor the learner deleted still run: at the end, in source order.
    steps += [("test", t) for t in master.tests if t.grade_id not in placed]
    return steps


def graded_part(steps):
    """Grading without figures runs the steps up to the last test only: the code cells after
    it (a notebook's closing experiments and plots) cannot change any score, so they are
    not run, and their outputs say so (``--figures`` runs them)."""
    last = max((i for i, (kind, _) in enumerate(steps) if kind == "test"), default=-1)
    for _, cell in steps[last + 1:]:
        cell.outputs = [nbformat.v4.new_output("display_data", data=dict(NOT_RUN_NOTE))]
        cell.execution_count = None
    return steps[:last + 1]


def not_run(test, why):
    return verdict.TestResult(test.grade_id, test.points, message=f"not run: {why}", not_run=True)


def grade_notebook(sub, master, limits):
    """Grade one submission: read it, check it is this notebook, run it with the master's
    tests in a fresh kernel, then score it and rebuild the graded notebook. Each step that
    finds a problem says so in the result's status and detail; later steps still run, so
    every row has every test (not run) and a graded notebook."""
    start = time.monotonic()
    result = NotebookResult(sub.student, sub.assignment, sub.notebook, Status.GRADED,
                            max_score=master.max_score, confined=limits.confined,
                            figures=limits.figures)
    release_nb = nbformat.read(course.RELEASE / sub.assignment / master.filename, as_version=4)
    base, tests = release_nb, {}
    nb = _read(sub, result)
    if nb is not None and _is_this_notebook(nb, master, result):
        result.tampering = tampering.changed_tests(nb, release_nb, master)
        base, tests = run_with_retries(nb, master, limits, result, sub)
        _note_memory_errors(base, ordered_tests(tests, master), result, limits)
        _note_nothing_written(nb, release_nb, result)
    for t in master.tests:
        tests.setdefault(t.grade_id, not_run(t, result.detail or result.status))
    result.tests = ordered_tests(tests, master)
    result.score = sum(t.points for t in result.tests)
    result.detail = _detail(sub, result)
    result.graded_notebook = graded_notebook.build(base, release_nb, master, result)
    result.seconds = round(time.monotonic() - start, 3)
    return result


def _read(sub, result):
    """The submitted notebook, or None when there is none to grade (the status says why)."""
    if sub.problem:
        result.status, result.detail = sub.problem, sub.detail
        return None
    result.fingerprint = sub.fingerprint()
    try:
        return collect.load_notebook(sub.read())
    except collect.InvalidNotebook as exc:
        result.status, result.detail = Status.INVALID_NOTEBOOK, str(exc)
        return None


def _is_this_notebook(nb, master, result):
    other = identity.belongs_elsewhere(nb, master)
    if other:
        result.status = Status.WRONG_ASSIGNMENT
        result.detail = f"this notebook belongs to {other}, not {master.assignment}"
    return not other


def _note_nothing_written(nb, release_nb, result):
    if result.status == Status.GRADED and nothing_written(nb, release_nb):
        result.status = Status.NOT_ATTEMPTED
        result.detail = "nothing was written: every code cell is as released"


def _detail(sub, result):
    """The row's note: what collecting found, what grading found, changed test cells."""
    notes = [sub.detail if not sub.problem else "", result.detail]
    if result.tampering:
        notes.append("test cells changed in the submission (graded from the master): "
                     + ", ".join(result.tampering))
    return "; ".join(dict.fromkeys(n for n in notes if n))


def ordered_tests(tests, master):
    return [tests[t.grade_id] for t in master.tests if t.grade_id in tests]


def nothing_written(nb, release_nb):
    """True when the submission has no code of its own: each non-blank code cell is one
    that the release already had, word for word (a notebook opened, run and handed in)."""
    def code(notebook):
        return {c.source.strip() for c in notebook.cells
                if c.cell_type == "code" and c.source.strip()}
    return code(nb) <= code(release_nb)


def _note_memory_errors(nb, tests, result, limits):
    hit = any(o.get("ename") == "MemoryError" for c in nb.cells if c.cell_type == "code"
              for o in c.get("outputs", []))
    hit = hit or any("MemoryError" in (t.message or "") for t in tests)
    if hit and result.status == Status.GRADED:
        result.status = Status.MEMORY_LIMIT
        result.detail = (f"learner code ran out of memory (limit {limits.memory_mb} MB); "
                         "the tests that ran are scored")


class GraderFault(Exception):
    """Something went wrong that learner code did not cause: retried in a fresh kernel."""


def run_with_retries(nb, master, limits, result, sub=None):
    """Grade in a fresh kernel; a fault that is not the learner's (a kernel that did not
    start or died before the learner's first cell, a lost launcher, an exception inside
    the grader) is retried in another fresh kernel, ``RETRIES`` times."""
    for attempt in range(RETRIES + 1):
        base = copy.deepcopy(nb)   # cells run in place: outputs land on this copy
        answers, tests = {}, {}
        try:
            stop = _run(base, master, limits, answers, tests, sub, attempt)
        except GraderFault as fault:
            result.retries = attempt + (attempt < RETRIES)
            result.retry_reasons.append(str(fault)[:300])
            if attempt == RETRIES:
                result.fail(f"the grader failed on this notebook {RETRIES + 1} times "
                            f"(not the learner's fault): {fault}")
                return base, {}
            continue
        result.answers, result.answer_types = answers.get("answers", {}), answers.get("types", {})
        if stop is not None:
            result.status, result.detail = Status(stop.status), str(stop)
        return base, tests


def _run(nb, master, limits, answers, tests, sub, attempt):
    """Run the plan in one fresh kernel, filling ``tests`` ({grade_id: TestResult}) and
    ``answers``; returns the ``GradingStopped`` that ended it early, or None."""
    names = verdict.learner_names(master.tests)
    support = course.RELEASE / master.assignment
    session = KernelSession(master.assignment, limits)
    try:
        with session:
            faults.after_kernel_start(sub, attempt, session)
            learner = None
            steps = plan(nb, master)
            for kind, item in steps if limits.figures else graded_part(steps):
                if kind == "cell":
                    session.run_cell(item)
                    learner = None   # definitions may have changed
                    continue
                if learner is None:
                    try:
                        learner = session.lookup(names)
                    except LearnerError as exc:   # learner code wrecked its own channel
                        tests[item.grade_id] = verdict.unanswered(item, exc)
                        continue
                _keep_answers(answers, item, learner)
                try:
                    tests[item.grade_id] = verdict.run_test(item, learner, support)
                except GradingStopped as stop:
                    tests[item.grade_id] = verdict.stopped(item, stop)
                    raise
    except GradingStopped as stop:
        if stop.status == Status.KERNEL_DIED and not session.learner_started:
            raise GraderFault("the kernel died before the learner's first cell ran") from None
        return stop
    except (KernelStartFailed, LauncherDied) as exc:
        raise GraderFault(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 (a bug of ours must not cost the learner)
        raise GraderFault(f"{type(exc).__name__}: {exc}") from None
    return None


def _keep_answers(answers, test, learner):
    """Record the quiz answer this test checks (for the class report's item analysis)."""
    name = test.quiz
    if name is None or name not in learner:
        return
    value = learner[name]
    items = value if isinstance(value, (set, frozenset, list, tuple)) else [value]
    answers.setdefault("answers", {})[name] = sorted(str(v)[:40] for v in list(items)[:30])
    kind = type(value).__name__
    types = answers.setdefault("types", {})
    if kind in ("set", "frozenset"):
        types.pop(name, None)
    else:
        types[name] = kind


