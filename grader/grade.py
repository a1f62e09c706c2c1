"""Grade one submitted notebook: run its cells, run each test after the cell it follows.

Tests run where the master notebook puts them (after the solution cell they follow), so a
runaway cell late in a notebook does not cost the points earned above it.
"""
import copy
import time

import nbformat

from . import collect, course, faults, verdict
from .launch import KernelStartFailed, LauncherDied
from .protocol import GradingStopped, LearnerError
from .result import NotebookResult, Status
from .session import NOT_RUN_NOTE, KernelSession, Limits

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
    start = time.monotonic()
    result = NotebookResult(sub.student, sub.assignment, sub.notebook, Status.GRADED,
                            max_score=master.max_score, confined=limits.confined,
                            figures=limits.figures)
    release_dir = course.RELEASE / sub.assignment
    release_nb = nbformat.read(release_dir / master.filename, as_version=4)
    base, tests = release_nb, {}
    if sub.problem:
        result.status, result.detail = sub.problem, sub.detail
    else:
        result.fingerprint = sub.fingerprint()
        try:
            nb = collect.load_notebook(sub.read())
        except collect.InvalidNotebook as exc:
            result.status, result.detail = Status.INVALID_NOTEBOOK, str(exc)
        else:
            other = _other_assignment(nb, master)
            if other:
                result.status = Status.WRONG_ASSIGNMENT
                result.detail = f"this notebook belongs to {other}, not {sub.assignment}"
            else:
                result.tampering = tampering(nb, release_nb, master)
                base, tests = run_with_retries(nb, master, limits, result, sub)
                _note_memory_errors(base, ordered_tests(tests, master), result, limits)
                if result.status == Status.GRADED and nothing_written(nb, release_nb):
                    result.status = Status.NOT_ATTEMPTED
                    result.detail = "nothing was written: every code cell is as released"
    for t in master.tests:
        tests.setdefault(t.grade_id, not_run(t, result.detail or result.status))
    ordered = ordered_tests(tests, master)
    notes = [sub.detail if not sub.problem else "", result.detail]
    if result.tampering:
        notes.append("test cells changed in the submission (graded from the master): "
                     + ", ".join(result.tampering))
    result.detail = "; ".join(dict.fromkeys(n for n in notes if n))
    result.tests = ordered
    result.score = sum(t.points for t in ordered)
    result.graded_notebook = graded_notebook(base, release_nb, master, result)
    result.seconds = round(time.monotonic() - start, 3)
    return result


def ordered_tests(tests, master):
    return [tests[t.grade_id] for t in master.tests if t.grade_id in tests]


def nothing_written(nb, release_nb):
    """True when the submission has no code of its own: each non-blank code cell is one
    that the release already had, word for word (a notebook opened, run and handed in)."""
    def code(notebook):
        return {c.source.strip() for c in notebook.cells
                if c.cell_type == "code" and c.source.strip()}
    return code(nb) <= code(release_nb)


def _other_assignment(nb, master):
    """The notebook a submission really is, when its cell ids match another one better."""
    ids = {course.nbgrader_meta(c).get("grade_id") for c in nb.cells} - {None}
    if not ids:
        return None

    def overlap(other):
        return len(ids & other.grade_ids) / len(ids | other.grade_ids)

    best_score, best = overlap(master), None
    for aid, masters in course.course_notebooks().items():
        for other in masters:
            if other.path != master.path and overlap(other) > best_score:
                best_score, best = overlap(other), f"{aid}/{other.filename}"
    return best


def tampering(nb, release_nb, master):
    """Test cells the learner deleted, edited or re-labelled (graded from the master anyway)."""
    released = {course.nbgrader_meta(c).get("grade_id"): c for c in release_nb.cells
                if course.is_test_cell(c)}
    seen, notes = {}, []
    for cell in nb.cells:
        gid = course.nbgrader_meta(cell).get("grade_id")
        if gid in released:
            seen[gid] = seen.get(gid, 0) + 1
            if cell.source != released[gid].source:
                notes.append(f"edited test cell {gid}")
            meta, orig = course.nbgrader_meta(cell), course.nbgrader_meta(released[gid])
            if any(meta.get(k) != orig.get(k) for k in ("points", "grade", "locked")):
                notes.append(f"changed the metadata of test cell {gid}")
    for gid in released:
        if gid not in seen:
            notes.append(f"deleted or re-labelled test cell {gid}")
        elif seen[gid] > 1:
            notes.append(f"duplicated test cell {gid}")
    return notes


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


def graded_notebook(base, release_nb, master, result):
    """The learner's cells and outputs, with each test cell (release version: no hidden
    tests) carrying its verdict as output. Deleted test cells come back after their anchor.
    """
    release_tests = {course.nbgrader_meta(c).get("grade_id"): c
                     for c in release_nb.cells if course.is_test_cell(c)}
    # an answer cell carries the release's nbgrader metadata, never the learner's: a
    # learner's "grade": true or "points": 100 must not make it a graded cell
    release_meta = {course.nbgrader_meta(c).get("grade_id"): course.nbgrader_meta(c)
                    for c in release_nb.cells if course.nbgrader_meta(c).get("grade_id")}
    verdicts = {t.grade_id: t for t in result.tests}
    after = {}
    for t in master.tests:
        after.setdefault(t.anchor, []).append(t.grade_id)
    cells, placed, kept = [], set(), set()

    def place(gid):
        if gid in release_tests and gid not in placed:
            placed.add(gid)
            cells.append(_with_verdict(copy.deepcopy(release_tests[gid]), verdicts.get(gid)))

    for gid in after.get(None, []):
        place(gid)
    for cell in base.cells:
        gid = course.nbgrader_meta(cell).get("grade_id")
        if gid in release_tests or course.is_test_cell(cell):
            place(gid)
            continue
        if gid is not None and (gid not in master.solution_ids or gid in kept
                                or gid not in release_meta):
            # an unknown or repeated id would derail nbgrader's bookkeeping: plain cell
            cell.metadata.pop("nbgrader", None)
            gid = None
        elif gid is not None:
            cell.metadata["nbgrader"] = copy.deepcopy(release_meta[gid])
        else:
            cell.metadata.pop("nbgrader", None)
        kept.add(gid)
        cells.append(cell)
        for tid in after.get(gid, []) if gid else []:
            place(tid)
    for t in master.tests:
        place(t.grade_id)
    nb = copy.deepcopy(release_nb)
    nb.cells = cells
    return nb


def _with_verdict(cell, verdict):
    cell.outputs = []
    if verdict is None:
        return cell
    if verdict.output:
        cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=verdict.output))
    if not verdict.passed:
        message = verdict.message or "failed"
        lines = [message] + ([verdict.learner_traceback] if verdict.learner_traceback else [])
        cell.outputs.append(nbformat.v4.new_output(
            "error", ename="TestFailed", evalue=message.splitlines()[0], traceback=lines))
    return cell
