"""The main path, in this process and with short limits (the fast tier, ``make test-fast``):
collect a submission, grade it in a fresh confined kernel, render its feedback.

The same outcomes through the real CLI, for the whole mistake catalogue, are in
test_grading.py (slow tier).
"""
import json

import nbformat
import pytest

from cohort.mistakes import catalogue
from cohort.submissions import answers_for, fill, write
from grader import collect, course, feedback, launch
from grader.grade import grade_notebook
from grader.session import Limits
from hostile_cases import A, NB, insert_after

MASTER = course.course_notebooks()[A][0]       # 01_gates/gru_gates: 15 points
POINTS = {t.grade_id: t.points for t in MASTER.tests}
LIMITS = Limits(timeout=60)


@pytest.fixture(scope="module", autouse=True)
def _launchers_closed():
    """The kernels' launcher started here ends with this module, as ``check``'s does."""
    yield
    launch.close_launchers()


def grade(folder, student, nb, limits=LIMITS):
    """Collect ``nb`` as ``student``'s submission of 01_gates and grade it here."""
    if isinstance(nb, (bytes, str)):
        path = folder / student / A / f"{NB}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(nb if isinstance(nb, bytes) else nb.encode())
    else:
        write(nb, folder, student, A, NB)
    subs = [s for s in collect.collect(folder, {A: [MASTER]}) if s.student == student]
    assert len(subs) == 1
    return grade_notebook(subs[0], MASTER, limits)


def failed(result):
    return {t.grade_id for t in result.tests if not t.passed}


def test_a_correct_notebook_scores_full_marks_and_its_feedback_hides_the_tests(tmp_path):
    result = grade(tmp_path, "ana", fill(A, NB, answers_for(MASTER)))
    assert (result.status, result.score, result.max_score) == ("graded", 15.0, 15.0)
    assert result.confined is True
    assert failed(result) == set()
    assert [t.grade_id for t in result.tests] == list(POINTS)
    html, text = feedback.render_feedback(result)
    assert "BEGIN HIDDEN TESTS" not in html and "gru_reference" not in html
    assert "Score:" in html and "15" in text


@pytest.mark.parametrize("mistake_id", ["gates-update-flipped", "gates-reset-transposed"])
def test_a_catalogued_mistake_loses_exactly_its_points(tmp_path, mistake_id):
    mistake = catalogue()[mistake_id]
    result = grade(tmp_path, "bo", fill(A, NB, answers_for(MASTER, [mistake])))
    assert result.status == "graded", result.detail
    assert failed(result) == set(mistake.fails)
    assert result.score == 15.0 - sum(POINTS[g] for g in mistake.fails)
    _, text = feedback.render_feedback(result)
    assert "differs from the reference" in text


@pytest.mark.filterwarnings("ignore:just a note")   # the learner's warning, shown here too
def test_printing_to_stderr_or_warning_keeps_full_marks(tmp_path):
    """Stock nbgrader gives 0 to a test cell whose output has stderr; here code is judged."""
    answers = answers_for(MASTER)
    answers["update_gate"] = answers["update_gate"].replace(
        '    return sigmoid(', '    import sys, warnings\n    print("debug", file=sys.stderr)\n'
        '    warnings.warn("just a note")\n    return sigmoid(')
    assert "debug" in answers["update_gate"]
    result = grade(tmp_path, "noisy", fill(A, NB, answers))
    assert (result.status, result.score) == ("graded", 15.0), result.detail
    assert "debug" in json.dumps(result.graded_notebook)   # it did print, on stderr


def test_a_timeout_is_a_timeout_and_keeps_the_points_earned_before_it(tmp_path):
    """A runaway cell after the update gate's tests: the sigmoid's and the update gate's
    points stay, every later test is not run, and the row says timeout."""
    nb = insert_after(fill(A, NB, answers_for(MASTER)), "test-update-hidden", "while True:\n    pass")
    result = grade(tmp_path, "cy", nb, Limits(timeout=10))
    assert result.status == "timeout", result.detail
    before = {"test-sigmoid-visible", "test-sigmoid-hidden", "test-update-visible", "test-update-hidden"}
    assert failed(result) == set(POINTS) - before
    assert result.score == sum(POINTS[g] for g in before) == 6.0
    assert all(t.not_run for t in result.tests if t.grade_id not in before)


def test_the_blank_release_is_not_attempted(tmp_path):
    release = (course.RELEASE / A / f"{NB}.ipynb").read_bytes()
    result = grade(tmp_path, "dee", release)
    assert (result.status, result.score) == ("not_attempted", 0.0)
    assert "nothing was written" in result.detail


def test_an_nbformat_3_notebook_is_converted_then_graded_as_not_attempted(tmp_path):
    """nbformat converts a version 3 notebook to version 4 (grader/collect.py); one with no
    code of its own is then not attempted, exactly like the blank release."""
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": []}
    assert collect.load_notebook(json.dumps(v3).encode()).nbformat == 4
    result = grade(tmp_path, "ed", json.dumps(v3))
    assert (result.status, result.score) == ("not_attempted", 0.0), result.detail


@pytest.mark.parametrize("data, why", [
    (b"", "the file is empty"),
    (b"{ this is not json", "not valid notebook JSON"),
    (b'{"hello": 1}', "no nbformat field"),
])
def test_a_broken_file_is_an_invalid_notebook_that_says_why(tmp_path, data, why):
    result = grade(tmp_path, "fay", data)
    assert (result.status, result.score) == ("invalid_notebook", 0.0)
    assert why in result.detail
    assert all(t.not_run for t in result.tests)


def test_a_missing_notebook_is_missing(tmp_path):
    (tmp_path / "gil" / A).mkdir(parents=True)
    (tmp_path / "gil" / A / "notes.txt").write_text("forgot it")
    (sub,) = collect.collect(tmp_path, {A: [MASTER]})
    assert (sub.problem, sub.path) == ("missing", None)
    result = grade_notebook(sub, MASTER, LIMITS)
    assert (result.status, result.score) == ("missing", 0.0)


def test_another_assignments_notebook_is_the_wrong_assignment(tmp_path):
    other = nbformat.read(course.RELEASE / "03_parameters" / "parameter_counting.ipynb", as_version=4)
    result = grade(tmp_path, "hal", other)
    assert result.status == "wrong_assignment" and "03_parameters" in result.detail
