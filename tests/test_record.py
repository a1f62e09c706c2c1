"""The gradebook writer (grader/record.py) against nbgrader's own SaveAutoGrades.

The writer puts typed results into nbgrader's tables in batches, without nbgrader's
preprocessor; these tests hold it to what nbgrader itself would have written for the same
graded notebooks, row by row, and to nbgrader's rules on manual scores.
"""
import contextlib
import io
import json
import sqlite3

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.preprocessors import SaveAutoGrades

from grader import record
from grader.result import NotebookResult, Status


def _results(out_dir):
    return [NotebookResult.from_dict(json.loads(p.read_text()))
            for p in sorted((out_dir / "results").glob("*/*/*.json"))]


def _with_nbgrader(db_url, results):
    """What stock nbgrader writes: its Gradebook and SaveAutoGrades, one notebook at a time."""
    for r in results:
        if not r.recordable:
            continue
        with Gradebook(db_url) as gb:
            gb.update_or_create_student(r.student)
            gb.update_or_create_submission(r.assignment, r.student)
        resources = {"nbgrader": {"db_url": db_url, "assignment": r.assignment,
                                  "notebook": r.notebook, "student": r.student}}
        with contextlib.redirect_stdout(io.StringIO()):
            SaveAutoGrades().preprocess(nbformat.from_dict(r.graded_notebook), resources)


GRADES = """SELECT st.id, a.name, n.name, c.name, g.auto_score, g.manual_score,
                   g.needs_manual_grade
            FROM grade g JOIN submitted_notebook sn ON g.notebook_id = sn.id
            JOIN submitted_assignment sa ON sn.assignment_id = sa.id
            JOIN student st ON sa.student_id = st.id JOIN assignment a ON sa.assignment_id = a.id
            JOIN notebook n ON sn.notebook_id = n.id JOIN base_cell c ON g.cell_id = c.id"""
COMMENTS = """SELECT st.id, a.name, n.name, c.name, cm.auto_comment
            FROM comment cm JOIN submitted_notebook sn ON cm.notebook_id = sn.id
            JOIN submitted_assignment sa ON sn.assignment_id = sa.id
            JOIN student st ON sa.student_id = st.id JOIN assignment a ON sa.assignment_id = a.id
            JOIN notebook n ON sn.notebook_id = n.id JOIN base_cell c ON cm.cell_id = c.id"""


def _rows(db, query):
    with contextlib.closing(sqlite3.connect(db)) as con:
        return sorted(con.execute(query).fetchall(), key=repr)


def _write(db_url, results, batch=None):
    writer = record.Writer(db_url)
    if batch:
        writer.BATCH = batch
    with writer:
        for r in results:
            writer.add(r)


@pytest.mark.slow
def test_the_writer_writes_what_nbgrader_writes(graded_cohort, tmp_path):
    """Every grade and comment row, for every notebook of the catalogue (correct, each
    mistake, blank), equals the row nbgrader's SaveAutoGrades writes for that notebook."""
    results = _results(graded_cohort["out"])
    assert len(results) > 40 and {r.status for r in results} >= {Status.GRADED,
                                                                   Status.NOT_ATTEMPTED}
    scope = sorted({r.assignment for r in results})
    ours, theirs = tmp_path / "ours.db", tmp_path / "theirs.db"
    for db in (ours, theirs):
        record.prepare_gradebook(record.sqlite_url(db), scope)
    _write(record.sqlite_url(ours), results, batch=7)   # several batches, one left over
    _with_nbgrader(record.sqlite_url(theirs), results)
    grades = _rows(ours, GRADES)
    assert grades == _rows(theirs, GRADES)
    assert _rows(ours, COMMENTS) == _rows(theirs, COMMENTS)
    assert any(g[4] == 0 for g in grades) and any(g[4] and g[4] > 0 for g in grades)
    assert record.gradebook_details(record.sqlite_url(ours)) == \
        record.gradebook_details(record.sqlite_url(theirs))
    # and the scores are those of the typed results
    for (student, aid), (score, _, _) in record.gradebook_details(record.sqlite_url(ours)).items():
        assert score == pytest.approx(sum(r.score for r in results
                                          if (r.student, r.assignment) == (student, aid)))


def _one_graded(tmp_path):
    """A result of 03_parameters with its graded notebook, made without a kernel: the
    release's notebook with every test passed."""
    from grader import course, graded_notebook

    master = course.course_notebooks()["03_parameters"][0]
    release_nb = nbformat.read(course.RELEASE / "03_parameters" / master.filename, as_version=4)
    from grader.result import TestResult

    result = NotebookResult("ada", "03_parameters", master.name, Status.GRADED,
                            max_score=master.max_score)
    result.tests = [TestResult(t.grade_id, t.points, t.points, True) for t in master.tests]
    result.score = master.max_score
    result.graded_notebook = graded_notebook.build(release_nb, release_nb, master, result)
    db_url = record.sqlite_url(tmp_path / "gradebook.db")
    record.prepare_gradebook(db_url, ["03_parameters"])
    return result, db_url, master


def test_recording_again_keeps_a_graders_manual_score(tmp_path):
    """nbgrader's rule: a grade with a manual score keeps it and needs a person's look."""
    result, db_url, master = _one_graded(tmp_path)
    _write(db_url, [result])
    first = master.tests[0].grade_id
    with Gradebook(db_url) as gb:
        assert gb.find_submission("03_parameters", "ada").score == master.max_score
        g = gb.find_grade(first, master.name, "03_parameters", "ada")
        g.manual_score = 0.5
        gb.db.commit()
    result.tests[0].points, result.tests[0].passed = 0.0, False   # regraded: now failing
    _write(db_url, [result])
    with Gradebook(db_url) as gb:
        g = gb.find_grade(first, master.name, "03_parameters", "ada")
        assert (g.manual_score, g.auto_score, g.needs_manual_grade) == (0.5, 0.0, True)
        assert gb.find_submission("03_parameters", "ada").score == \
            pytest.approx(master.max_score - master.tests[0].points + 0.5)
        assert len(gb.students) == 1 and len(gb.find_assignment("03_parameters").submissions) == 1


def test_a_notebook_the_gradebook_refuses_costs_its_row_only(tmp_path):
    result, db_url, _ = _one_graded(tmp_path)
    other = NotebookResult.from_dict(result.to_dict())
    other.student = "bob"
    stranger = NotebookResult.from_dict(result.to_dict())
    stranger.student, stranger.notebook = "eve", "no_such_notebook"
    _write(db_url, [result, stranger, other])
    assert stranger.status == Status.ERROR and "gradebook refused" in stranger.detail
    assert result.status == other.status == Status.GRADED
    scores = record.gradebook_scores(db_url)
    assert scores[("ada", "03_parameters")] == scores[("bob", "03_parameters")] == \
        (result.max_score, result.max_score)


def test_status_severity_order():
    """A row of several notebooks takes the most severe status: every status is ranked."""
    assert Status.worst(["graded", "memory_limit", "wrong_assignment"]) == Status.MEMORY_LIMIT
    assert Status.worst(["graded", "not_attempted"]) == Status.NOT_ATTEMPTED
    assert Status.worst(["missing", "error"]) == Status.ERROR
    assert [s.severity for s in Status] == sorted(s.severity for s in Status)
