"""Several autograde runs into one PostgreSQL gradebook at once (one per assignment, as from
several machines): each student created once, no row lost, no lock error."""
import multiprocessing
import subprocess
import sys

import pytest

from benchmarks.private_postgres import Failed, Unavailable, private_postgres
from cohort.mistakes import catalogue
from cohort.submissions import answers_for, fill, write
from conftest import ROOT, read_grades, system_dep_missing
from grader import course, record

pytestmark = pytest.mark.slow
ASSIGNMENTS = ["01_gates", "03_parameters", "05_quiz"]


@pytest.fixture(scope="module")
def postgres():
    try:
        with private_postgres() as url:
            yield url
    except Unavailable:
        pytest.skip(system_dep_missing("PostgreSQL", "postgresql"))
    except Failed as exc:
        pytest.fail(str(exc))


def _new_database(url, name):
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    with psycopg.connect(host=u.host, port=u.port, user=u.username, dbname="postgres",
                         autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + "/" + name


def test_runs_at_once_into_one_postgres_gradebook(postgres, tmp_path):
    """Three autograde processes started together on a new, empty gradebook (each creates
    nbgrader's schema and its assignment): every row of every run's grades.csv is in the
    gradebook with its score, each student once."""
    url = _new_database(postgres, "at_once")
    mistakes = catalogue()
    subs = tmp_path / "subs"
    students = ["ada", "bob", "cy"]
    for aid in ASSIGNMENTS:
        master = course.course_notebooks()[aid][0]
        own = sorted(m for m in mistakes if mistakes[m].assignment == aid)
        write(fill(aid, master.name, answers_for(master)), subs, "ada", aid, master.name)
        write(fill(aid, master.name, answers_for(master, [mistakes[own[0]]])), subs, "bob", aid,
              master.name)
        write(fill(aid, master.name, {}), subs, "cy", aid, master.name)
    runs = [subprocess.Popen([sys.executable, "-m", "grader", "autograde", "--submissions",
                              str(subs), "--out", str(tmp_path / aid), "--assignment", aid,
                              "--workers", "1", "--db-url", url], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for aid in ASSIGNMENTS]
    for run in runs:
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, err[-3000:]
        assert "Traceback" not in err and "lock" not in err.lower(), err[-3000:]
    in_gradebook = record.gradebook_details(url)
    from nbgrader.api import Gradebook

    with Gradebook(url) as gb:
        assert sorted(s.id for s in gb.students) == students
        assert sorted(a.name for a in gb.assignments) == ASSIGNMENTS
    seen = 0
    for aid in ASSIGNMENTS:
        for (student, assignment), row in read_grades(tmp_path / aid).items():
            assert in_gradebook[(student, assignment)][:2] == (float(row["score"]),
                                                               float(row["max_score"]))
            seen += 1
    assert seen == len(in_gradebook) == len(students) * len(ASSIGNMENTS)
    assert float(read_grades(tmp_path / "03_parameters")[("ada", "03_parameters")]["score"]) == \
        course.course_notebooks()["03_parameters"][0].max_score


def _write_many(url, assignment, n, batch, seed):
    """One process's writer: ``n`` synthetic results of one assignment."""
    import random

    from benchmarks.writer import synthetic

    mine = [r for r in synthetic(n * 6, seed=seed) if r.assignment == assignment]
    random.Random(seed).shuffle(mine)   # students in another order than the other writers
    writer = record.Writer(url)
    writer.BATCH = batch
    with writer:
        for r in mine:
            writer.add(r)
    return sum(1 for r in mine if r.status != "graded")


def test_writers_racing_on_the_same_students(postgres):
    """Four writers, one assignment each, the same 300 students in different orders, small
    batches: every student once, every submission and grade there, no result refused."""
    url = _new_database(postgres, "race")
    record.prepare_gradebook(url, course.assignments())
    assignments = course.assignments()[:4]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        refused = pool.starmap(_write_many, [(url, aid, 300, 25, i)
                                             for i, aid in enumerate(assignments)])
    assert refused == [0, 0, 0, 0]
    from nbgrader.api import Gradebook

    with Gradebook(url) as gb:
        assert len(gb.students) == 300
        for aid in assignments:
            assert len(gb.find_assignment(aid).submissions) == 300
    details = record.gradebook_details(url)
    assert len(details) == 1200


def _prepare(url, assignment):
    try:
        record.prepare_gradebook(url, [assignment])
        return "ok"
    except Exception as exc:  # noqa: BLE001 (the test reports what each process met)
        return f"{type(exc).__name__}: {str(exc)[:200]}"


def test_runs_preparing_one_new_gradebook_take_turns(postgres):
    """Creating nbgrader's tables is not safe to do twice at once ("relation already
    exists", seen once in four tries before runs took turns): four processes at once on
    a new database, three times."""
    ctx = multiprocessing.get_context("spawn")
    for attempt in range(3):
        url = _new_database(postgres, f"prepare_{attempt}")
        with ctx.Pool(4) as pool:
            assert pool.starmap(_prepare, [(url, a) for a in course.assignments()[:4]]) == \
                ["ok"] * 4
