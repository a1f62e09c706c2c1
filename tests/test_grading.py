"""The autograder on real notebooks: full marks, zero, and every realistic mistake."""
import csv

import nbformat
import pytest

from grader import course
from cohort.mistakes import catalogue
from conftest import failed_tests, read_grades, read_result, run_cli

MASTERS = course.course_notebooks()
MISTAKES = catalogue()


def test_solution_scores_full_marks(graded_cohort):
    grades = read_grades(graded_cohort["out"])
    for aid, masters in MASTERS.items():
        row = grades[("solution", aid)]
        assert row["status"] == "graded", row
        assert float(row["score"]) == float(row["max_score"]) == sum(m.max_score for m in masters) > 0


def test_blank_release_scores_zero_and_is_not_attempted(graded_cohort):
    grades = read_grades(graded_cohort["out"])
    for aid in MASTERS:
        row = grades[("blank", aid)]
        assert row["status"] == "not_attempted" and float(row["score"]) == 0.0, row
        assert "nothing was written" in row["detail"], row
    # one written answer is an attempt, even a wrong one
    assert grades[("gates-update-flipped", "01_gates")]["status"] == "graded"


@pytest.mark.parametrize("mistake_id", sorted(MISTAKES))
def test_mistake_loses_exactly_its_exercises(graded_cohort, mistake_id):
    mistake = MISTAKES[mistake_id]
    all_tests = set()
    for master in MASTERS[mistake.assignment]:
        result = read_result(graded_cohort["out"], mistake_id, mistake.assignment, master.name)
        assert result["status"] == "graded", result["detail"]
        all_tests |= {t["grade_id"] for t in result["tests"]}
        failed = failed_tests(result) & {t.grade_id for t in master.tests}
        expected = set(mistake.fails) & {t.grade_id for t in master.tests}
        assert failed == expected, f"{mistake_id}: failed {sorted(failed)}, expected {sorted(expected)}"
    assert set(mistake.fails) <= all_tests, "a mistake lists a test that does not exist"
    row = read_grades(graded_cohort["out"])[(mistake_id, mistake.assignment)]
    assert 0 <= float(row["score"]) < float(row["max_score"])


def test_at_least_five_mistakes_per_assignment():
    counts = {aid: len([m for m in MISTAKES.values() if m.assignment == aid]) for aid in MASTERS}
    assert {m.assignment for m in MISTAKES.values()} <= set(MASTERS)
    assert all(n >= 5 for n in counts.values()), counts


def test_grades_csv_has_one_row_per_student_and_assignment(graded_cohort):
    with open(graded_cohort["out"] / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {"student_id", "assignment", "score", "max_score", "status"} <= set(rows[0])
    keys = [(r["student_id"], r["assignment"]) for r in rows]
    assert len(keys) == len(set(keys))
    students = {p.name for p in graded_cohort["subs"].iterdir()}
    submitted = {(s, a) for s in students for a in MASTERS
                 if (graded_cohort["subs"] / s / a).is_dir()}
    assert submitted <= set(keys)


def test_gradebook_agrees_with_csv(graded_cohort):
    from nbgrader.api import Gradebook

    grades = read_grades(graded_cohort["out"])
    with Gradebook(f"sqlite:///{graded_cohort['out'] / 'gradebook.db'}") as gb:
        for (student, aid), row in grades.items():
            sub = gb.find_submission(aid, student)
            assert sub.score == pytest.approx(float(row["score"]))
            assert sub.max_score == pytest.approx(float(row["max_score"]))


def test_feedback_written_without_hidden_tests(graded_cohort):
    out = graded_cohort["out"]
    for student in ("solution", "blank", "gates-update-flipped"):
        for aid, masters in MASTERS.items():
            for master in masters:
                html = (out / "feedback" / student / aid / f"{master.name}.html").read_text()
                text = (out / "feedback" / student / aid / f"{master.name}.txt").read_text()
                assert "BEGIN HIDDEN TESTS" not in html and "gru_reference" not in html
                assert "Score:" in html and "score" in text
    text = (out / "feedback" / "gates-update-flipped" / "01_gates" / "gru_gates.txt").read_text()
    assert "✗ gru_cell_forward · hidden tests" in text and "differs from the reference" in text


@pytest.mark.slow
def test_missing_empty_and_invalid_notebooks_get_rows(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    release = course.RELEASE / "01_gates" / "gru_gates.ipynb"
    cases = {
        "empty": b"",
        "not-json": b"{ this is not json",
        "not-a-notebook": b'{"hello": 1}',
        "nbformat-3": b'{"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": []}',
    }
    for student, data in cases.items():
        (subs / student / "01_gates").mkdir(parents=True)
        (subs / student / "01_gates" / "gru_gates.ipynb").write_bytes(data)
    (subs / "no-notebook" / "01_gates").mkdir(parents=True)
    (subs / "no-notebook" / "01_gates" / "notes.txt").write_text("forgot it")
    (subs / "blank" / "01_gates").mkdir(parents=True)
    (subs / "blank" / "01_gates" / "gru_gates.ipynb").write_bytes(release.read_bytes())
    (subs / "other-assignment-only" / "02_missing").mkdir(parents=True)
    proc = run_cli("autograde", "--submissions", subs, "--out", out, "--assignment", "01_gates")
    assert proc.returncode == 0, proc.stderr[-2000:]
    grades = read_grades(out)
    for student in ("empty", "not-json", "not-a-notebook"):
        assert grades[(student, "01_gates")]["status"] == "invalid_notebook"
        assert grades[(student, "01_gates")]["detail"]
        assert float(grades[(student, "01_gates")]["score"]) == 0
    assert grades[("no-notebook", "01_gates")]["status"] == "missing"
    assert grades[("other-assignment-only", "01_gates")]["status"] == "missing"
    assert grades[("blank", "01_gates")]["status"] == "not_attempted"
    # an old nbformat 3 notebook is converted by nbformat (grader/collect.py), then graded:
    # with no code of its own it is not attempted, like the blank release
    row = grades[("nbformat-3", "01_gates")]
    assert (row["status"], float(row["score"])) == ("not_attempted", 0.0), row
    assert "nothing was written" in row["detail"], row
    assert len(grades) == 7


@pytest.mark.slow
def test_rerun_reuses_results_and_regrade_is_idempotent(tmp_path):
    from cohort.submissions import answers_for, fill, write

    master = MASTERS["01_gates"][0]
    subs, out = tmp_path / "subs", tmp_path / "out"
    write(fill("01_gates", master.name, answers_for(master, [MISTAKES["gates-update-flipped"]])),
          subs, "ana", "01_gates", master.name)
    first = run_cli("autograde", "--submissions", subs, "--out", out)
    assert first.returncode == 0, first.stderr[-2000:]
    before = (out / "grades.csv").read_text()
    first_rows = read_grades(out)
    again = run_cli("autograde", "--submissions", subs, "--out", out)
    assert "grading 0 notebooks (1 already graded)" in again.stdout
    assert (out / "grades.csv").read_text() == before
    regrade = run_cli("autograde", "--submissions", subs, "--out", out, "--regrade")
    assert "grading 1 notebooks" in regrade.stdout
    def untimed(rows):
        return {k: {c: v for c, v in r.items() if c != "seconds"} for k, r in rows.items()}

    assert untimed(read_grades(out)) == untimed(first_rows)  # the same rows but for timing
    assert read_grades(out)[("ana", "01_gates")]["score"] == "12.0"


@pytest.mark.slow
def test_cli_errors_are_clear(tmp_path):
    proc = run_cli("autograde", "--submissions", tmp_path / "nope", "--out", tmp_path / "o")
    assert proc.returncode != 0 and "is not a folder" in proc.stderr
    (tmp_path / "s").mkdir()
    proc = run_cli("autograde", "--submissions", tmp_path / "s", "--out", tmp_path / "o",
                   "--assignment", "99_nothing")
    assert proc.returncode != 0 and "unknown assignment" in proc.stderr
