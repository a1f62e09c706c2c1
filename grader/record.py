"""Record grades in nbgrader's gradebook (SQLite by default) and in ``grades.csv``.

Scores go through nbgrader's own ``SaveAutoGrades`` preprocessor on the graded notebook,
so ``nbgrader export`` and the formgrader see exactly what ``grades.csv`` says.
"""
import contextlib
import csv
import io
import logging
import tempfile
import warnings

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

import nbformat
from nbgrader.api import Gradebook
from nbgrader.preprocessors import SaveAutoGrades

from . import course
from .release import release

CSV_COLUMNS = ["student_id", "assignment", "score", "max_score", "status", "detail", "seconds",
               "retries", "confined"]
STATUS_ORDER = ["error", "kernel_died", "timeout", "memory_limit", "invalid_notebook",
                "wrong_assignment", "missing", "not_attempted", "graded"]


def sqlite_url(path):
    return f"sqlite:///{path}"


def prepare_gradebook(db_url, assignment_ids):
    """Create the assignments and their grade cells in the gradebook, by nbgrader."""
    with Gradebook(db_url):   # fails fast, with the driver's own words, when unreachable
        pass
    if db_url.startswith("sqlite:///"):
        # nbgrader commits once per grade cell; in WAL mode a commit need not wait for the
        # disk (still atomic, and durable at the next checkpoint); set before the release
        # writes its hundred-odd cells
        import sqlite3

        with contextlib.closing(sqlite3.connect(db_url[len("sqlite:///"):])) as db:
            db.execute("PRAGMA journal_mode=WAL")
    with tempfile.TemporaryDirectory() as scratch:
        release(course.ROOT, assignment_ids, db_url=db_url, release_dir=scratch)


@event.listens_for(Engine, "connect")
def _sqlite_no_fsync_per_commit(dbapi_connection, _record):
    """WAL with synchronous=NORMAL: commits stay atomic, without an fsync each."""
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")


class Writer:
    """The run's one gradebook writer: one connection for the whole run, since opening
    nbgrader's Gradebook (engine, schema check) costs more than recording a notebook."""

    def __init__(self, db_url, timestamps=None):
        self.db_url = db_url
        self.gb = None
        self.timestamps = timestamps or {}   # (student, assignment): nbgrader's timestamp.txt

    def __enter__(self):
        # nbgrader's own queries trigger harmless SQLAlchemy autoflush warnings on SA 2.x
        warnings.filterwarnings("ignore", module="nbgrader", category=sa_exc.SAWarning)
        self.gb = Gradebook(self.db_url)
        self.save = _SaveAutoGradesInto(self.gb)
        self.save.log.setLevel(logging.ERROR)
        self.late = _late_penalties()
        return self

    def __exit__(self, *exc):
        self.gb.close()

    def rollback(self):
        self.gb.db.rollback()

    def record(self, result):
        """Write one notebook's result; safe to repeat (update or create everywhere)."""
        self.gb.update_or_create_student(result["student"])
        stamp = self.timestamps.get((result["student"], result["assignment"]))
        self.gb.update_or_create_submission(result["assignment"], result["student"],
                                            **({"timestamp": stamp} if stamp else {}))
        nb = nbformat.from_dict(result["graded_notebook"])
        resources = {"nbgrader": {"db_url": self.db_url, "assignment": result["assignment"],
                                  "notebook": result["notebook"], "student": result["student"]}}
        with contextlib.redirect_stdout(io.StringIO()):
            self.save.preprocess(nb, resources)
        if self.timestamps:   # submissions from nbgrader's exchange: a due date may apply
            self._late_penalty(result)

    def _late_penalty(self, result):
        """nbgrader's AssignLatePenalties, through the open gradebook: the plugin that
        ``nbgrader_config.py`` configures (``LateSubmissionPlugin.penalty_method``) decides
        the penalty of a submission whose timestamp is past the assignment's due date."""
        student, aid = result["student"], result["assignment"]
        submission = self.gb.find_submission(aid, student)
        notebook = self.gb.find_submission_notebook(result["notebook"], aid, student)
        penalty = None
        if submission.total_seconds_late > 0:
            penalty = self.late.plugin_inst.late_submission_penalty(
                student, notebook.score, submission.total_seconds_late)
            if penalty is not None:
                penalty = self.late._check_late_penalty(notebook, penalty)
        notebook.late_submission_penalty = penalty
        self.gb.db.commit()


def _late_penalties():
    from nbgrader.preprocessors import AssignLatePenalties

    from .release import load_config

    late = AssignLatePenalties(config=load_config(course.ROOT))
    late.log.setLevel(logging.ERROR)
    late.init_plugin()
    return late


class _SaveAutoGradesInto(SaveAutoGrades):
    """nbgrader's SaveAutoGrades, writing through an open Gradebook instead of opening
    one per notebook (its cell-by-cell logic is unchanged)."""

    def __init__(self, gradebook, **kw):
        super().__init__(**kw)
        self._open_gradebook = gradebook

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        self.notebook_id, self.assignment_id = info["notebook"], info["assignment"]
        self.student_id, self.db_url = info["student"], info["db_url"]
        self.gradebook = self._open_gradebook
        return super(SaveAutoGrades, self).preprocess(nb, resources)


def record(db_url, result):
    """Write one notebook's result (a one-off; a run uses one ``Writer``)."""
    with Writer(db_url) as writer:
        writer.record(result)


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
    from pathlib import Path

    path = Path(out_dir) / "grades.csv"
    if not path.exists():
        return
    db_url = db_url or sqlite_url(Path(out_dir).resolve() / "gradebook.db")
    if db_url.startswith("sqlite:///") and not Path(db_url[len("sqlite:///"):]).exists():
        return
    scores = gradebook_scores(db_url)
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        table = list(reader)
    for row in table:
        if (row["student_id"], row["assignment"]) in scores:
            score, max_score = scores[(row["student_id"], row["assignment"])]
            row["score"], row["max_score"] = round(score, 2), round(max_score, 2)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=reader.fieldnames)
        writer.writeheader()
        writer.writerows(table)
    tmp.replace(path)


def rows(results, db_url):
    """One row per student and assignment; a notebook's problem becomes the row's status."""
    scores = gradebook_details(db_url)
    grouped = {}
    for r in results:
        grouped.setdefault((r["student"], r["assignment"]), []).append(r)
    out = []
    for (student, assignment), parts in sorted(grouped.items()):
        status = min((p["status"] for p in parts),
                     key=lambda s: STATUS_ORDER.index(s) if s in STATUS_ORDER else -1)
        details = "; ".join(f"{p['notebook']}: {p['detail']}" for p in parts if p["detail"])
        score, max_score, penalty = scores.get((student, assignment),
                                               (0.0, sum(p["max_score"] for p in parts), 0.0))
        score -= penalty
        if penalty:
            details = "; ".join(filter(None, [details, f"late: nbgrader's late penalty "
                                                       f"-{round(penalty, 2):g} points"]))
        out.append({"student_id": student, "assignment": assignment, "score": round(score, 2),
                    "max_score": round(max_score, 2), "status": status, "detail": details,
                    "seconds": round(sum(p["seconds"] for p in parts), 2),
                    "retries": sum(p.get("retries", 0) for p in parts),
                    "confined": "no" if any(p.get("confined") is False for p in parts) else "yes"})
    return out


def write_csv(path, table):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(table)
