"""The graded notebook: what the learner's feedback page shows and the formgrader opens.

The learner's cells and outputs, in their order, with the release's test cells (never the
submission's, never hidden tests) put back after the cell each follows, each carrying its
verdict as its output; answer cells carry the release's nbgrader metadata, never the
learner's.
"""
import copy

import nbformat

from . import course


def build(base, release_nb, master, result):
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
