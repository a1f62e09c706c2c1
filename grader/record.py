"""Record grades in nbgrader's gradebook (SQLite by default) and in ``grades.csv``.

``Writer`` puts each typed result's scores into nbgrader's tables, in batches; ``rows``
makes ``grades.csv`` from the results and what the gradebook adds (a grader's manual
score, nbgrader's late penalty), so ``nbgrader export`` and formgrader see what
``grades.csv`` says.
"""
import contextlib
import csv
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader import api, utils
from nbgrader.api import Gradebook
from sqlalchemy import bindparam, create_engine, event, or_, select, text, tuple_
from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import NullPool

from . import course
from .release import release, stamp_gradebooks_in_process
from .result import Status

CSV_COLUMNS = ["student_id", "assignment", "score", "max_score", "status", "detail", "seconds",
               "retries", "confined"]


def sqlite_url(path):
    return f"sqlite:///{path}"


def prepare_gradebook(db_url, assignment_ids):
    """Create the assignments and their grade cells in the gradebook, by nbgrader. Runs
    that start together on one gradebook take turns: nbgrader creates its tables and the
    course's row without expecting anyone else to (a second run would fail on "relation
    already exists")."""
    stamp_gradebooks_in_process()
    with _one_preparation_at_a_time(db_url):
        with Gradebook(db_url):   # fails fast, with the driver's own words, when unreachable
            pass
        if db_url.startswith("sqlite:///"):
            # in WAL mode a commit need not wait for the disk (still atomic, and durable at
            # the next checkpoint), and readers do not block the writer
            import sqlite3

            with contextlib.closing(sqlite3.connect(db_url[len("sqlite:///"):])) as db:
                db.execute("PRAGMA journal_mode=WAL")
        with tempfile.TemporaryDirectory() as scratch:
            release(course.ROOT, assignment_ids, db_url=db_url, release_dir=scratch)


@contextlib.contextmanager
def _one_preparation_at_a_time(db_url):
    """PostgreSQL: a session advisory lock (released when its connection closes, also if
    this process dies); SQLite: ``flock`` on a file beside the database."""
    if db_url.startswith("sqlite:///"):
        import fcntl

        lock_path = Path(db_url[len("sqlite:///"):] + ".prepare-lock")
        with open(lock_path, "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            yield
        return
    engine = create_engine(db_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PREPARE_LOCK})
            yield
    finally:
        engine.dispose()


_PREPARE_LOCK = 0x6772755f707265   # any constant the course's runs share ("gru_pre")


class Writer:
    """The run's one gradebook writer.

    Results are written in batches, one transaction each, straight into nbgrader's tables:
    the rows nbgrader's ``add_submission`` creates for a submission (every notebook of the
    assignment, a grade for each graded cell, a comment for each answer cell) and what
    ``SaveAutoGrades`` then sets (``auto_score``, ``needs_manual_grade``, "No response."),
    with each test's points taken from the typed result, so ``nbgrader export``, formgrader
    and the Gradebook API read the same grades. A grader's manual score is never touched.
    Inserts that may meet another run's rows (a student, a submission) are idempotent
    (``ON CONFLICT DO NOTHING``, in a fixed order), so several runs can write into one
    PostgreSQL gradebook at once; a batch that meets a deadlock or a lock is retried."""

    BATCH = 500          # results a transaction
    WAIT_S = 2.0         # ... or what arrived within this long
    TRIES = 6

    def __init__(self, db_url, timestamps=None):
        self.db_url = db_url
        self.timestamps = timestamps or {}   # {(student, assignment): nbgrader's timestamp.txt}
        self.pending, self.first_at = [], None
        self.structures = {}

    def __enter__(self):
        self.engine = create_engine(self.db_url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_settings)
        self.insert = _dialect_insert(self.engine.dialect.name)
        self.late = _late_penalty_preprocessor() if self.timestamps else None
        return self

    def __exit__(self, exc_type, *exc):
        try:
            if exc_type is None:
                self.flush()
        finally:
            self.engine.dispose()

    def add(self, result):
        """Queue one notebook's result; written with its batch (safe to repeat)."""
        if not result.recordable:
            return
        self.pending.append(result)
        self.first_at = self.first_at or time.monotonic()
        if len(self.pending) >= self.BATCH or time.monotonic() - self.first_at >= self.WAIT_S:
            self.flush()

    def flush(self):
        batch, self.pending, self.first_at = self.pending, [], None
        if not batch:
            return
        try:
            self._write(batch)
        except Exception:  # noqa: BLE001 (find the notebook the gradebook refuses)
            for result in batch:   # one notebook the gradebook refuses costs its row only
                try:
                    self._write([result])
                except Exception as exc:  # noqa: BLE001
                    result.fail(f"the gradebook refused this notebook ({type(exc).__name__}: "
                                f"{str(exc)[:200]})")

    def _write(self, batch):
        for attempt in range(self.TRIES):
            try:
                with self.engine.begin() as conn:
                    self._write_rows(conn, batch)
                break
            except sa_exc.OperationalError:   # a deadlock, a locked SQLite file: again
                if attempt == self.TRIES - 1:
                    raise
                time.sleep(0.05 * 2 ** attempt)
        if self.late is not None:
            self._late_penalties(batch)

    def _write_rows(self, conn, batch):
        ins, t = self.insert, _TABLES
        shapes = {aid: self._structure(conn, aid) for aid in {r.assignment for r in batch}}
        for r in batch:
            if r.notebook not in shapes[r.assignment].notebooks:
                raise LookupError(f"{r.assignment} has no notebook {r.notebook} in the gradebook")
        students = sorted({r.student for r in batch})
        conn.execute(ins(t.student).on_conflict_do_nothing(), [{"id": s} for s in students])
        pairs = sorted({(r.assignment, r.student) for r in batch})
        conn.execute(ins(t.submission).on_conflict_do_nothing(),
                     [{"assignment_id": shapes[a].id, "student_id": s} for a, s in pairs])
        stamped = [{"a": shapes[a].id, "s": s, "ts": utils.parse_utc(self.timestamps[(s, a)])}
                   for a, s in pairs if (s, a) in self.timestamps]
        if stamped:
            conn.execute(t.submission.update()
                         .where(t.submission.c.assignment_id == bindparam("a"),
                                t.submission.c.student_id == bindparam("s"))
                         .values(timestamp=bindparam("ts")), stamped)
        by_id = {a.id: a for a in shapes.values()}
        submissions = {(by_id[aid].name, sid): sub_id for sub_id, aid, sid in conn.execute(
            select(t.submission.c.id, t.submission.c.assignment_id, t.submission.c.student_id)
            .where(tuple_(t.submission.c.assignment_id, t.submission.c.student_id)
                   .in_([(shapes[a].id, s) for a, s in pairs])))}
        # every notebook of each submission, as nbgrader's add_submission makes them
        conn.execute(ins(t.notebook).on_conflict_do_nothing(),
                     [{"assignment_id": submissions[(a, s)], "notebook_id": nb.id}
                      for a, s in pairs for nb in shapes[a].notebooks.values()])
        notebook_ids = dict(((sub_id, nb_id), snb_id) for snb_id, sub_id, nb_id in conn.execute(
            select(t.notebook.c.id, t.notebook.c.assignment_id, t.notebook.c.notebook_id)
            .where(t.notebook.c.assignment_id.in_(sorted(submissions.values())))))
        grades, blank_grades, comments, blank_comments = [], [], [], []
        results = {(r.assignment, r.student, r.notebook): r for r in batch}
        for a, s in pairs:
            for name, nb in shapes[a].notebooks.items():
                snb_id = notebook_ids[(submissions[(a, s)], nb.id)]
                result = results.get((a, s, name))
                scores, said = _auto_grades(result) if result else ({}, {})
                for cell, cell_id in nb.graded.items():
                    row = {"notebook_id": snb_id, "cell_id": cell_id}
                    if cell in scores:
                        grades.append({**row, "auto_score": scores[cell],
                                       "needs_manual_grade": scores[cell] is None})
                    else:
                        blank_grades.append(row)
                for cell, cell_id in nb.commented.items():
                    row = {"notebook_id": snb_id, "cell_id": cell_id}
                    if cell in said:
                        comments.append({**row, "auto_comment": said[cell]})
                    else:
                        blank_comments.append(row)
        for table, fresh, blank, update in (
                (t.grade, grades, blank_grades, _GRADE_UPDATE),
                (t.comment, comments, blank_comments, _COMMENT_UPDATE)):
            if fresh:
                stmt = ins(table)
                conn.execute(stmt.on_conflict_do_update(
                    index_elements=["cell_id", "notebook_id"], set_=update(table, stmt.excluded)),
                    fresh)
            if blank:
                conn.execute(ins(table).on_conflict_do_nothing(), blank)

    def _structure(self, conn, assignment):
        """The assignment's notebooks and cells as the release put them in the gradebook."""
        if assignment not in self.structures:
            self.structures[assignment] = _structure(conn, assignment)
        return self.structures[assignment]

    def _late_penalties(self, batch):
        """nbgrader's AssignLatePenalties, through its Gradebook: the plugin that
        ``nbgrader_config.py`` configures (``LateSubmissionPlugin.penalty_method``) decides
        the penalty of a submission whose timestamp is past the assignment's due date."""
        with Gradebook(self.db_url) as gb:
            for result in batch:
                if (result.student, result.assignment) not in self.timestamps:
                    continue
                submission = gb.find_submission(result.assignment, result.student)
                notebook = gb.find_submission_notebook(result.notebook, result.assignment,
                                                       result.student)
                penalty = None
                if submission.total_seconds_late > 0:
                    penalty = self.late.plugin_inst.late_submission_penalty(
                        result.student, notebook.score, submission.total_seconds_late)
                    if penalty is not None:
                        penalty = self.late._check_late_penalty(notebook, penalty)
                notebook.late_submission_penalty = penalty
            gb.db.commit()


def _late_penalty_preprocessor():
    """nbgrader's AssignLatePenalties with the plugin ``nbgrader_config.py`` configures."""
    from nbgrader.preprocessors import AssignLatePenalties

    from .release import load_config

    late = AssignLatePenalties(config=load_config(course.ROOT))
    late.log.setLevel(logging.ERROR)
    late.init_plugin()
    return late


class _Tables:
    """nbgrader's own tables (its SQLAlchemy models), written through SQLAlchemy Core."""
    student = api.Student.__table__
    submission = api.SubmittedAssignment.__table__
    notebook = api.SubmittedNotebook.__table__
    grade = api.Grade.__table__
    comment = api.Comment.__table__


_TABLES = _Tables()


def _GRADE_UPDATE(table, new):
    """What SaveAutoGrades sets on a grade it finds: the manual score stays, and a grade
    with one (or without an automatic score) needs a person's look."""
    return {"auto_score": new.auto_score,
            "needs_manual_grade": or_(table.c.manual_score.is_not(None), new.auto_score.is_(None))}


def _COMMENT_UPDATE(table, new):
    return {"auto_comment": new.auto_comment}


def _dialect_insert(name):
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise SystemExit(f"the gradebook must be SQLite or PostgreSQL, not {name}")
    return insert


@dataclass
class _NotebookShape:
    id: str
    graded: dict      # grade id of each grade cell and task cell: base_cell id
    commented: dict   # grade id of each solution cell and task cell: base_cell id


@dataclass
class _AssignmentShape:
    id: str
    name: str
    notebooks: dict   # notebook name: _NotebookShape


def _structure(conn, assignment):
    a, n, c = api.Assignment.__table__, api.Notebook.__table__, api.BaseCell.__table__
    aid = conn.execute(select(a.c.id).where(a.c.name == assignment)).scalar_one()
    notebooks = {}
    for nb_id, nb_name in conn.execute(select(n.c.id, n.c.name).where(n.c.assignment_id == aid)):
        notebooks[nb_name] = _NotebookShape(nb_id, {}, {})
    for cell_id, name, kind, nb_id in conn.execute(
            select(c.c.id, c.c.name, c.c.type, c.c.notebook_id)
            .where(c.c.notebook_id.in_([nb.id for nb in notebooks.values()]))):
        nb = next(x for x in notebooks.values() if x.id == nb_id)
        if kind in ("GradeCell", "TaskCell"):
            nb.graded[name] = cell_id
        if kind in ("SolutionCell", "TaskCell"):
            nb.commented[name] = cell_id
    return _AssignmentShape(aid, assignment, notebooks)


def _auto_grades(result):
    """({grade cell: auto score}, {answer cell: auto comment}) of one graded notebook, as
    SaveAutoGrades would set them: a test cell scores its verdict's points; another graded
    cell scores what nbgrader's ``determine_grade`` says (None: a person grades it); an
    answer cell left as released gets "No response."."""
    verdicts = {t.grade_id: t.points for t in result.tests}
    scores, comments = {}, {}
    for cell in nbformat.from_dict(result.graded_notebook).cells:
        meta = cell.metadata.get("nbgrader", {})
        gid = meta.get("grade_id")
        if gid is None:
            continue
        if utils.is_grade(cell):
            scores[gid] = verdicts[gid] if gid in verdicts else utils.determine_grade(cell)[0]
        if utils.is_solution(cell) or utils.is_task(cell):
            unchanged = meta.get("checksum") == utils.compute_checksum(cell)
            comments[gid] = "No response." if unchanged and not utils.is_task(cell) else None
    return scores, comments


def _sqlite_settings(dbapi_connection, _record):
    """WAL with synchronous=NORMAL: commits stay atomic, without an fsync each; a run
    waits for another run's transaction instead of failing at once."""
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")
    dbapi_connection.execute("PRAGMA busy_timeout=30000")


def gradebook_scores(db_url):
    """{(student, assignment): (score, max_score)} as nbgrader computes them: a grader's
    manual score where formgrader set one, less nbgrader's late penalty."""
    return {key: (score - penalty, max_score)
            for key, (score, max_score, penalty) in gradebook_details(db_url).items()}


def gradebook_details(db_url):
    """{(student, assignment): (score, max_score, late_penalty)} from the gradebook."""
    scores = {}
    with Gradebook(db_url) as gb:
        for assignment in gb.assignments:
            for sub in assignment.submissions:
                scores[(sub.student.id, assignment.name)] = (
                    sub.score, sub.max_score, sub.late_submission_penalty or 0.0)
    return scores


def refresh_csv(out_dir, db_url=None):
    """``grades.csv`` again with the gradebook's scores, after grading by hand in formgrader
    (or a due date set since the run): the rows and their statuses stay as autograde wrote
    them."""
    path = Path(out_dir) / "grades.csv"
    if not path.exists():
        return
    db_url = db_url or sqlite_url(Path(out_dir).resolve() / "gradebook.db")
    if db_url.startswith("sqlite:///") and not Path(db_url[len("sqlite:///"):]).exists():
        return
    scores = gradebook_scores(db_url)
    table, columns = read_csv(path)
    for row in table:
        if (row["student_id"], row["assignment"]) in scores:
            score, max_score = scores[(row["student_id"], row["assignment"])]
            row["score"], row["max_score"] = round(score, 2), round(max_score, 2)
    write_csv(path, table, columns)


def rows(results, db_url):
    """One row of ``grades.csv`` per student and assignment, from the typed results: the
    score is the gradebook's (what the results put there, with a grader's manual scores
    and nbgrader's late penalty), the status the most severe of the notebooks'."""
    scores = gradebook_details(db_url)
    grouped = {}
    for r in results:
        grouped.setdefault((r.student, r.assignment), []).append(r)
    out = []
    for (student, assignment), parts in sorted(grouped.items()):
        details = "; ".join(f"{p.notebook}: {p.detail}" for p in parts if p.detail)
        score, max_score, penalty = scores.get((student, assignment),
                                               (0.0, sum(p.max_score for p in parts), 0.0))
        score -= penalty
        if penalty:
            details = "; ".join(filter(None, [details, f"late: nbgrader's late penalty "
                                                       f"-{round(penalty, 2):g} points"]))
        out.append({"student_id": student, "assignment": assignment, "score": round(score, 2),
                    "max_score": round(max_score, 2),
                    "status": str(Status.worst(p.status for p in parts)), "detail": details,
                    "seconds": round(sum(p.seconds for p in parts), 2),
                    "retries": sum(p.retries for p in parts),
                    "confined": "yes" if all(p.confined for p in parts) else "no"})
    return out


def read_csv(path):
    """The rows of ``grades.csv`` (or another CSV) as dicts, with its column names."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return list(reader), reader.fieldnames


def write_csv(path, table, columns=CSV_COLUMNS):
    """Written whole beside it, then moved over it: a reader never sees half a file."""
    tmp = Path(path).with_suffix(".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(table)
    tmp.replace(path)
