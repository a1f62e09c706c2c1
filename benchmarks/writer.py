"""How fast the gradebook writer records results, into SQLite and into PostgreSQL.

    .venv/bin/python benchmarks/writer.py [--notebooks 60000] [--sample 300] [--skip-postgres]

It makes synthetic results of the course's notebooks (the released notebook as the graded
notebook, each test passed or failed at random, a tenth of the answer cells left as
released, 6 notebooks a student; the graded notebooks' outputs do not matter: scores come
from the verdicts), and for each database:

* records them all with ``record.Writer`` (batches, one transaction each) into a new
  gradebook, and prints notebooks a second;
* records the first ``--sample`` of them the way this grader did before (nbgrader's
  ``SaveAutoGrades`` on one open gradebook: a commit per cell) and with the writer, each
  into another new gradebook, side by side in the same run, and prints the ratio;
* checks a sample of 200 results through nbgrader's own Gradebook API: each submission's
  score is the sum of its tests' points, each student exists once.

PostgreSQL is a private server started for the run (``benchmarks/private_postgres.py``)
with its production defaults (fsync and synchronous commits on); a server at
``--postgres-url`` is used instead when given (its database must be empty).
"""
import argparse
import contextlib
import io
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nbformat  # noqa: E402
from nbgrader.api import Gradebook  # noqa: E402
from nbgrader.preprocessors import SaveAutoGrades  # noqa: E402
from sqlalchemy import event  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from grader import course, graded_notebook, record  # noqa: E402
from grader.result import NotebookResult, Status, TestResult  # noqa: E402


def synthetic(n, seed=0, variants=8):
    """``n`` results: students s00000, s00001, ... each with every notebook of the course.
    Each notebook has ``variants`` graded notebooks (answer cells written or left as
    released, at random), shared between results: 60,000 copies would not fit in memory."""
    rng = random.Random(seed)
    notebooks = []
    for aid, masters in course.course_notebooks().items():
        for master in masters:
            release_nb = nbformat.read(course.RELEASE / aid / master.filename, as_version=4)
            shapes = []
            for _ in range(variants):
                shape = NotebookResult("", aid, master.name, Status.GRADED)
                nb = graded_notebook.build(release_nb, release_nb, master, shape)
                for cell in nb.cells:   # most answers written (their checksum changes)
                    if course.nbgrader_meta(cell).get("solution") and rng.random() < 0.9:
                        cell.source += "\n# written"
                shapes.append(nb)
            notebooks.append((master, shapes))
    out = []
    for i in range(n):
        master, shapes = notebooks[i % len(notebooks)]
        student = f"s{i // len(notebooks):05d}"
        r = NotebookResult(student, master.assignment, master.name, Status.GRADED,
                           max_score=master.max_score, graded_notebook=rng.choice(shapes))
        for t in master.tests:
            passed = rng.random() < 0.7
            r.tests.append(TestResult(t.grade_id, t.points, t.points if passed else 0.0, passed))
        r.score = sum(t.points for t in r.tests)
        out.append(r)
    return out


def with_writer(db_url, results):
    start = time.perf_counter()
    with record.Writer(db_url) as writer:
        for r in results:
            writer.add(r)
    return time.perf_counter() - start


class _SaveAutoGradesInto(SaveAutoGrades):
    """nbgrader's SaveAutoGrades writing through one open Gradebook (how this grader
    recorded before the batched writer: a commit per cell, one connection for the run)."""

    def __init__(self, gradebook, **kw):
        super().__init__(**kw)
        self._open_gradebook = gradebook

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        self.notebook_id, self.assignment_id = info["notebook"], info["assignment"]
        self.student_id, self.db_url = info["student"], info["db_url"]
        self.gradebook = self._open_gradebook
        return super(SaveAutoGrades, self).preprocess(nb, resources)


@event.listens_for(Engine, "connect")
def _same_sqlite_settings(dbapi_connection, record_):
    """nbgrader's engines get the writer's SQLite settings (WAL is the file's already):
    commits without an fsync each, as this grader set them before the batched writer."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        record._sqlite_settings(dbapi_connection, record_)


def with_nbgrader(db_url, results):
    """nbgrader's own way, on one connection: its Gradebook's update_or_create for the
    student and the submission, then SaveAutoGrades, which commits once per cell."""
    start = time.perf_counter()
    with Gradebook(db_url) as gb:
        save = _SaveAutoGradesInto(gb)
        for r in results:
            gb.update_or_create_student(r.student)
            gb.update_or_create_submission(r.assignment, r.student)
            resources = {"nbgrader": {"db_url": db_url, "assignment": r.assignment,
                                      "notebook": r.notebook, "student": r.student}}
            with contextlib.redirect_stdout(io.StringIO()):
                save.preprocess(nbformat.from_dict(r.graded_notebook), resources)
    return time.perf_counter() - start


def check(db_url, results, k=200, seed=1):
    """A sample, read back through nbgrader's Gradebook API."""
    sample = random.Random(seed).sample(results, min(k, len(results)))
    students = {r.student for r in results}
    with Gradebook(db_url) as gb:
        assert sorted(s.id for s in gb.students) == sorted(students), "students differ"
        for r in sample:
            nb = gb.find_submission_notebook(r.notebook, r.assignment, r.student)
            assert abs(nb.score - r.score) < 1e-9, (r.student, r.notebook, nb.score, r.score)
            assert nb.max_score == r.max_score
    return len(sample)


def measure(label, db_url, results, sample, new_db):
    scope = course.assignments()
    record.prepare_gradebook(db_url, scope)
    seconds = with_writer(db_url, results)
    checked = check(db_url, results)
    stock_url = new_db("stock")
    record.prepare_gradebook(stock_url, scope)
    stock = with_nbgrader(stock_url, results[:sample])
    ours_small_url = new_db("ours_sample")
    record.prepare_gradebook(ours_small_url, scope)
    ours_small = with_writer(ours_small_url, results[:sample])
    rate = len(results) / seconds
    print(f"{label}: {len(results)} notebooks in {seconds:.1f} s = {rate:.0f} notebooks/s "
          f"({seconds / len(results) * 1000:.2f} ms each); {checked} checked with nbgrader's "
          f"Gradebook API. Side by side on the first {sample}: SaveAutoGrades on one connection "
          f"{stock / sample * 1000:.1f} ms a notebook, the writer "
          f"{ours_small / sample * 1000:.2f} ms: {stock / ours_small:.0f}x", flush=True)
    return rate


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--notebooks", type=int, default=60000)
    p.add_argument("--sample", type=int, default=300,
                   help="notebooks recorded the stock way too, for the ratio")
    p.add_argument("--skip-postgres", action="store_true")
    p.add_argument("--postgres-url", default=None)
    args = p.parse_args()
    start = time.perf_counter()
    results = synthetic(args.notebooks)
    print(f"{len(results)} synthetic results ({len({r.student for r in results})} students) "
          f"made in {time.perf_counter() - start:.1f} s", flush=True)
    folder = Path(tempfile.mkdtemp(prefix="gru-writer-"))
    rates = {"SQLite": measure("SQLite", record.sqlite_url(folder / "gradebook.db"), results,
                               args.sample, lambda name: record.sqlite_url(folder / f"{name}.db"))}
    if not args.skip_postgres:
        from private_postgres import private_postgres

        with contextlib.ExitStack() as stack:
            url = args.postgres_url or stack.enter_context(private_postgres(durable=True))
            base = url.rsplit("/", 1)[0]

            def new_db(name):
                import psycopg
                from sqlalchemy.engine import make_url

                u = make_url(url)
                with psycopg.connect(host=u.host, port=u.port, user=u.username,
                                     dbname="postgres", autocommit=True) as conn:
                    conn.execute(f'CREATE DATABASE "{name}"')
                return f"{base}/{name}"

            rates["PostgreSQL"] = measure("PostgreSQL", url, results, args.sample, new_db)
    print("target 100 notebooks/s: " + ", ".join(
        f"{k} {v:.0f}/s ({'met' if v >= 100 else 'NOT met'})" for k, v in rates.items()))


if __name__ == "__main__":
    main()
