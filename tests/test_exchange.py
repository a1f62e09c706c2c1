"""The whole nbgrader course loop with nbgrader's own commands and this grader.

An instructor releases through a temporary exchange, four students (separate home folders
and user names) fetch and submit, the instructor collects, ``python -m grader autograde``
grades ``submitted/`` where nbgrader put it, ``nbgrader release_feedback`` returns this
grader's pages and each student fetches their own with ``fetch_feedback``. One student
submits after the due date: nbgrader's timestamp and the course's late penalty
(``nbgrader_config.py``) show in ``grades.csv``. A score a grader set by hand survives a
second autograde run, with and without ``--regrade``, and reaches the exports.
"""
import csv
import datetime
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from cohort.mistakes import catalogue
from cohort.submissions import answers_for, fill
from grader import course

from conftest import ROOT, read_grades, run_cli

ASSIGNMENT = "03_parameters"
NOTEBOOK = "parameter_counting"
NBGRADER = Path(sys.executable).parent / "nbgrader"
COURSE_ID = "gru-course"


def course_config(course_dir):
    """The course's own nbgrader_config.py, with the released notebooks named by their
    absolute path (this temporary course root has no copy of them)."""
    text = (ROOT / "nbgrader_config.py").read_text()
    text += (f"\nc.CourseDirectory.release_directory = {str(ROOT / 'notebooks')!r}\n"
             f"c.CourseDirectory.source_directory = {str(ROOT / 'solutions')!r}\n")
    (course_dir / "nbgrader_config.py").write_text(text)


def clean_env(home, user):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("JUPYTER", "JPY_", "PYTHONPATH", "NBGRADER"))}
    # as in an activated venv: nbgrader runs the `alembic` command of its environment
    env.update(HOME=str(home), USER=user, LOGNAME=user,
               PATH=f"{NBGRADER.parent}{os.pathsep}{env.get('PATH', '')}")
    return env


def nbgrader(*args, cwd, home, user, exchange):
    proc = subprocess.run([str(NBGRADER), *args, f"--Exchange.root={exchange}"], cwd=cwd,
                          env=clean_env(home, user), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"nbgrader {' '.join(args)} as {user}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def master():
    return next(m for m in course.course_notebooks()[ASSIGNMENT] if m.name == NOTEBOOK)


def work(kind):
    """What a student writes: the solution, a catalogued mistake, or nothing."""
    if kind == "blank":
        return None
    mistakes = [catalogue()[kind]] if kind != "correct" else []
    return fill(ASSIGNMENT, NOTEBOOK, answers_for(master(), mistakes))


STUDENTS = {"alice": "correct", "bob": "parameters-gru-bias-once", "carol": "blank",
            "dave": "correct"}   # dave submits after the due date


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    base = tmp_path_factory.mktemp("exchange-loop")
    exchange, course_dir, instructor = base / "exchange", base / "course", base / "instructor"
    for d in (exchange, course_dir, instructor):
        d.mkdir()
    course_config(course_dir)
    teach = dict(cwd=course_dir, home=instructor, user="instructor", exchange=exchange)
    nbgrader("release_assignment", ASSIGNMENT, **teach)

    homes = {}
    for student, kind in STUDENTS.items():
        home = base / "home" / student
        home.mkdir(parents=True)
        homes[student] = home
        me = dict(cwd=home, home=home, user=student, exchange=exchange)
        if student == "dave":   # the due date passes before dave submits
            time.sleep(1.5)
            due = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
            nbgrader("db", "assignment", "add", ASSIGNMENT, f"--duedate={due}", **teach)
            time.sleep(1.5)
        nbgrader("fetch_assignment", ASSIGNMENT, f"--course={COURSE_ID}", **me)
        fetched = home / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
        assert fetched.is_file()
        nb = work(kind)
        if nb is not None:
            nbformat.write(nb, fetched)
        # one machine account for all: each student names themselves, as on a shared hub
        nbgrader("submit", ASSIGNMENT, f"--course={COURSE_ID}", f"--student={student}", **me)

    nbgrader("collect", ASSIGNMENT, **teach)
    submitted = course_dir / "submitted"
    graded = course_dir / "graded"
    db_url = f"sqlite:///{graded / 'gradebook.db'}"   # nbgrader_config.py's, autograde's default
    proc = run_cli("autograde", "--submissions", submitted, "--out", graded,
                   "--assignment", ASSIGNMENT, "--timeout", 120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    nbgrader("release_feedback", ASSIGNMENT, **teach)
    for student, home in homes.items():
        nbgrader("fetch_feedback", ASSIGNMENT, f"--course={COURSE_ID}", f"--student={student}",
                 cwd=home, home=home,
                 user=student, exchange=exchange)
    return dict(course=course_dir, graded=graded, submitted=submitted, homes=homes,
                db_url=db_url, exchange=exchange, teach=teach)


def test_collected_layout_is_graded_where_nbgrader_put_it(loop):
    for student in STUDENTS:
        folder = loop["submitted"] / student / ASSIGNMENT
        assert (folder / f"{NOTEBOOK}.ipynb").is_file()
        assert (folder / "timestamp.txt").is_file()
    grades = read_grades(loop["graded"])
    max_score = float(grades[("alice", ASSIGNMENT)]["max_score"])
    assert float(grades[("alice", ASSIGNMENT)]["score"]) == max_score
    assert grades[("alice", ASSIGNMENT)]["status"] == "graded"
    assert 0 < float(grades[("bob", ASSIGNMENT)]["score"]) < max_score
    assert grades[("carol", ASSIGNMENT)]["status"] == "not_attempted"
    assert float(grades[("carol", ASSIGNMENT)]["score"]) == 0


def test_late_submission_keeps_nbgrader_timestamp_and_penalty(loop):
    from nbgrader.api import Gradebook

    stamp = (loop["submitted"] / "dave" / ASSIGNMENT / "timestamp.txt").read_text().strip()
    with Gradebook(loop["db_url"]) as gb:
        dave = gb.find_submission(ASSIGNMENT, "dave")
        alice = gb.find_submission(ASSIGNMENT, "alice")
        assert dave.timestamp is not None and alice.timestamp is not None
        assert dave.timestamp.strftime("%Y-%m-%d %H:%M:%S") == stamp[:19]
        assert dave.total_seconds_late > 0 and alice.total_seconds_late == 0
        assert dave.score == dave.max_score          # every test passed ...
        assert dave.late_submission_penalty == dave.score   # ... and "zero" takes it all
    row = read_grades(loop["graded"])[("dave", ASSIGNMENT)]
    assert float(row["score"]) == 0 and row["status"] == "graded"
    assert "late" in row["detail"]


def test_each_student_fetches_this_graders_feedback(loop):
    grades = read_grades(loop["graded"])
    for student, home in loop["homes"].items():
        pages = sorted((home / ASSIGNMENT / "feedback").glob(f"*/{NOTEBOOK}.html"))
        assert len(pages) == 1, (student, pages)
        html = pages[0].read_text()
        assert f"<h1>{ASSIGNMENT} · {NOTEBOOK}</h1>" in html   # this grader's banner
        banner = re.search(r"Score: ([\d.]+) / ([\d.]+)", html)
        # the page shows the points the tests gave (before a late penalty)
        expected = float(grades[(student, ASSIGNMENT)]["score"]) if student != "dave" \
            else float(grades[(student, ASSIGNMENT)]["max_score"])
        assert float(banner.group(1)) == expected, student
        # the page stamped with the student's own submission, not another's
        timestamp = pages[0].parent.name
        assert timestamp.startswith((loop["submitted"] / student / ASSIGNMENT / "timestamp.txt")
                                    .read_text().strip()[:10])


def set_manual_score(db_url, student, points):
    """What formgrader's grade API does: manual_score on one autograded test cell."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gb:
        grades = gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student).grades
        grade = next(g for g in sorted(grades, key=lambda g: g.name) if g.auto_score)
        was = grade.score   # the manual score where one is set, else the autograder's
        grade.manual_score = points
        gb.db.commit()
        return grade.name, grade.auto_score, was


@pytest.mark.parametrize("regrade", [False, True])
def test_rerun_keeps_a_manual_score(loop, regrade):
    before = float(read_grades(loop["graded"])[("bob", ASSIGNMENT)]["score"])
    name, auto, was = set_manual_score(loop["db_url"], "bob", 0.0)
    expected = round(before - was, 2)
    args = ["autograde", "--submissions", loop["submitted"], "--out", loop["graded"],
            "--assignment", ASSIGNMENT, "--timeout", 120]
    proc = run_cli(*args, *(["--regrade"] if regrade else []))
    assert proc.returncode == 0, proc.stderr[-3000:]
    from nbgrader.api import Gradebook

    with Gradebook(loop["db_url"]) as gb:
        grade = gb.find_grade(name, NOTEBOOK, ASSIGNMENT, "bob")
        assert grade.manual_score == 0.0 and grade.auto_score == auto
    assert float(read_grades(loop["graded"])[("bob", ASSIGNMENT)]["score"]) == expected
    proc = run_cli("export", "--out", loop["graded"], "--format", "moodle")
    assert proc.returncode == 0, proc.stderr
    with open(loop["graded"] / "export" / "moodle.csv", newline="") as f:
        rows = {r["ID number"]: r for r in csv.DictReader(f)}
    assert any(float(v) == expected for k, v in rows["bob"].items() if k != "ID number"
               and re.match(r"^[\d.]+$", v or ""))
