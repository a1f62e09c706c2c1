"""nbgrader's formgrader on this grader's gradebook, in a real browser.

A course root (the course's ``nbgrader_config.py``) whose ``submitted/`` this grader graded
into ``graded/gradebook.db``; JupyterLab with nbgrader's formgrader serves it on loopback.
Its "Manage Students" and "Manage Submissions" views show the scores of ``grades.csv``; a
manual score set through the formgrader's own REST API (``PUT /formgrader/api/grade/ID``
with the page's XSRF token, what its grading view sends) reaches ``grades.csv`` and the
exports after ``python -m grader export``, and the views.
"""
import csv
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error

import pytest

from cohort.mistakes import catalogue
from cohort.submissions import answers_for, fill, write
from conftest import read_grades, run_cli
from test_browser import (PAGE_MS, SERVER_START_S, Lab, browser, expect, free_port,  # noqa: F401
                          page, shot)
from test_exchange import ASSIGNMENT, NOTEBOOK, course_config, master

STUDENTS = {"alice": [], "bob": ["parameters-gru-bias-once"]}


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    course_dir = tmp_path_factory.mktemp("formgrader") / "course"
    course_dir.mkdir()
    course_config(course_dir)
    for student, mistakes in STUDENTS.items():
        answers = answers_for(master(), [catalogue()[m] for m in mistakes])
        write(fill(ASSIGNMENT, NOTEBOOK, answers), course_dir / "submitted", student,
              ASSIGNMENT, NOTEBOOK)
    proc = run_cli("autograde", "--submissions", course_dir / "submitted",
                   "--out", course_dir / "graded", "--assignment", ASSIGNMENT, "--timeout", 120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return course_dir


@pytest.fixture(scope="module")
def formgrader(graded_course, tmp_path_factory):
    """``jupyter lab`` started in the course root: nbgrader's formgrader reads its config."""
    home = tmp_path_factory.mktemp("formgrader-home")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("JUPYTER", "JPY_", "PYTHONPATH", "MPLBACKEND"))}
    env.update(HOME=str(home), JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), IPYTHONDIR=str(home / "ipython"),
               PATH=f"{os.path.dirname(sys.executable)}{os.pathsep}{env.get('PATH', '')}")
    port, token = free_port(), secrets.token_hex(16)
    log = home / "lab.log"
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
           f"--ServerApp.token={token}", f"--ServerApp.root_dir={graded_course}", "--allow-root"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=graded_course, env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    server = Lab(proc, port, token, graded_course, log)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{server.log_tail()}")
            try:
                server.api("/api/status")
                break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    pytest.fail(f"jupyter lab did not answer in {SERVER_START_S} s:\n"
                                f"{server.log_tail()}")
                time.sleep(0.5)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)   # its own session: only what it started
            proc.wait(timeout=30)


def fmt(points):
    return f"{float(points):g}"


def scores_in_view(page, url, id_class):
    """{student: 'score / max'} as the view's table shows them."""
    page.goto(url)
    rows = page.locator("tbody tr", has=page.locator(f"td.{id_class}"))
    expect(rows.filter(has_text="alice").locator("td.score")).to_have_text(
        __import__("re").compile(r"\d"), timeout=PAGE_MS)
    out = {}
    for i in range(rows.count()):
        row = rows.nth(i)
        out[row.locator(f"td.{id_class}").inner_text().strip()] = \
            row.locator("td.score").inner_text().strip()
    return out


def expected_cells(course_dir):
    return {s: f"{fmt(r['score'])} / {fmt(r['max_score'])}"
            for (s, _), r in read_grades(course_dir / "graded").items()}


def test_formgrader_shows_the_grades_and_takes_a_manual_score(page, formgrader, graded_course,
                                                             tmp_path):
    login = f"{formgrader.url}/formgrader/manage_students?token={formgrader.token}"
    students_url = f"{formgrader.url}/formgrader/manage_students"
    submissions_url = f"{formgrader.url}/formgrader/manage_submissions/{ASSIGNMENT}"
    expected = expected_cells(graded_course)
    assert expected["alice"] == "9 / 9" and expected["bob"] != "9 / 9", expected

    assert scores_in_view(page, login, "id") == expected
    shot(page, tmp_path, "manage_students")
    assert scores_in_view(page, submissions_url, "student-id") == expected
    shot(page, tmp_path, "manage_submissions")

    # what the grading view sends when an instructor types a score: the page's own API
    changed = page.evaluate("""async ([assignment, notebook]) => {
        const xsrf = document.cookie.split('; ').find(c => c.startsWith('_xsrf='))
                             .slice('_xsrf='.length);
        const get = async (path) => (await fetch(path, {headers: {'X-XSRFToken': xsrf}})).json();
        const subs = await get(`/formgrader/api/submitted_notebooks/${assignment}/${notebook}`);
        const bob = subs.find(s => s.student === 'bob');
        const grades = await get(`/formgrader/api/grades?submission_id=${bob.id}`);
        const grade = grades.filter(g => g.auto_score > 0).sort((a, b) => a.name < b.name ? -1 : 1)[0];
        const resp = await fetch(`/formgrader/api/grade/${grade.id}`, {
            method: 'PUT', headers: {'X-XSRFToken': xsrf, 'Content-Type': 'application/json'},
            body: JSON.stringify({manual_score: 0, extra_credit: null})});
        return {status: resp.status, grade: await resp.json()};
    }""", [ASSIGNMENT, NOTEBOOK])
    assert changed["status"] == 200, changed
    assert changed["grade"]["manual_score"] == 0, changed
    lost = changed["grade"]["auto_score"]
    before = float(read_grades(graded_course / "graded")[("bob", ASSIGNMENT)]["score"])

    proc = run_cli("export", "--out", graded_course / "graded", "--format", "canvas")
    assert proc.returncode == 0, proc.stderr
    after = float(read_grades(graded_course / "graded")[("bob", ASSIGNMENT)]["score"])
    assert after == round(before - lost, 2)
    with open(graded_course / "graded" / "export" / "canvas.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    bob = next(r for r in rows if "bob" in (r.get("SIS Login ID"), r.get("Student")))
    column = next(k for k in bob if k.startswith(ASSIGNMENT))
    assert float(bob[column]) == after
    proc = run_cli("export", "--out", graded_course / "graded", "--format", "nbgrader")
    assert proc.returncode == 0, proc.stderr
    with open(graded_course / "graded" / "export" / "nbgrader.csv", newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["student_id"] == "bob")
    assert float(row["score"]) == after

    # and the formgrader shows it too
    assert scores_in_view(page, students_url, "id")["bob"] == f"{fmt(after)} / 9"
