"""Shared fixtures: cohorts built from the real release and graded through the real CLI."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from grader import course
from cohort.mistakes import catalogue
from cohort.submissions import answers_for, fill, write

ROOT = course.ROOT

# Two tiers. `make test` (and CI) runs every test; `make test-fast` runs the tests not marked
# `slow` (pytest -m "not slow"): the grader called in this process with short limits
# (grade_notebook, verdict.run_test, collect, feedback), the reference GRU, the diagnoses and
# the course, notation and release checks, a few minutes on 2 cores. A test is `slow` when it
# runs the grader's command line in a subprocess (an autograde of a cohort), Chromium, Dask,
# PostgreSQL or the hostile corpus: every test of a module named here, every test that uses
# a fixture named here, and, in the other modules, each test marked @pytest.mark.slow.
SLOW_MODULES = {
    "test_browser": "Chromium on feedback pages and the class report",
    "test_confinement": "attacks graded through the CLI, as root and as a user",
    "test_exchange": "nbgrader's exchange and the CLI",
    "test_faults": "autograde runs killed, run twice, pointed at a dead gradebook",
    "test_figures": "autograde with and without --figures",
    "test_formgrader": "nbgrader's formgrader on an autograde output",
    "test_hostile": "the hostile corpus through the CLI",
    "test_lms": "LMS zips graded and exported through the CLI",
    "test_quiz_feedback": "quiz feedback through the CLI",
    "test_reports": "the class report and exports of a CLI run",
    "test_scale": "PostgreSQL and Dask on a large cohort",
}
SLOW_FIXTURES = {
    "graded_cohort": "one autograde CLI run of the whole mistake catalogue",
    "learner_copy": "python -m grader check in a subprocess, as a learner runs it",
    "chromium": "headless Chromium",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.stem in SLOW_MODULES or SLOW_FIXTURES.keys() & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)


def system_dep_missing(what, package):
    """Why a test that needs a Debian package skips, with the command that installs it (as
    root: ``scripts/system-deps.sh`` installs every such package; ``make test`` runs it, and
    as another user it only reports them missing)."""
    return (f"{what} is not installed. Install it as root: `sudo bash scripts/system-deps.sh` "
            f"(or `sudo apt-get install -y --no-install-recommends {package}`)")


def run_cli(*args, timeout=900):
    """``python -m grader ...`` in a subprocess, as an instructor runs it."""
    proc = subprocess.run([sys.executable, "-m", "grader", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    return proc


def read_grades(out_dir):
    with open(Path(out_dir) / "grades.csv", newline="") as f:
        return {(r["student_id"], r["assignment"]): r for r in csv.DictReader(f)}


def read_result(out_dir, student, assignment, notebook):
    return json.loads((Path(out_dir) / "results" / student / assignment / f"{notebook}.json").read_text())


def failed_tests(result):
    return {t["grade_id"] for t in result["tests"] if not t["passed"]}


def write_profile(root, student, mistakes=(), blank_all=False):
    """One student's submission of every assignment: correct, with mistakes, or blank."""
    for aid, masters in course.course_notebooks().items():
        own = [m for m in mistakes if m.assignment == aid]
        for master in masters:
            answers = {} if blank_all else answers_for(master, own)
            write(fill(aid, master.name, answers), root, student, aid, master.name)


@pytest.fixture(scope="session")
def graded_cohort(tmp_path_factory):
    """Solution, blank release and every catalogued mistake, graded in one CLI run."""
    root = tmp_path_factory.mktemp("cohort")
    subs, out = root / "submissions", root / "out"
    write_profile(subs, "solution")
    write_profile(subs, "blank", blank_all=True)
    for mistake in catalogue().values():
        for master in course.course_notebooks()[mistake.assignment]:
            write(fill(mistake.assignment, master.name, answers_for(master, [mistake])),
                  subs, mistake.id, mistake.assignment, master.name)
    proc = run_cli("autograde", "--submissions", subs, "--out", out, "--timeout", 120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"out": out, "subs": subs, "stdout": proc.stdout}
