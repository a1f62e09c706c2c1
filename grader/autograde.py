"""``python -m grader autograde``: grade a cohort, record it, write the reports.

Notebooks are graded in worker processes (one fresh kernel each); the main process is the
only writer of the gradebook and of ``results/``. A finished notebook's result is saved
at once, so a run that is killed resumes where it stopped.
"""
import concurrent.futures as cf
import fcntl
import hashlib
import json
import multiprocessing
import os
import shutil
import sys
import threading
import time
from pathlib import Path

from . import collect, confine, course, defaults, exchange, privileges, record, table
from .feedback import render_feedback, write_feedback
from .result import NotebookResult, Status
from .session import Limits


def _master(assignment, notebook):
    return next(m for m in course.course_notebooks()[assignment] if m.name == notebook)


def source_hash(master):
    return hashlib.sha256(master.path.read_bytes()).hexdigest()[:16]


_ONE_AT_A_TIME = threading.Lock()


def grade_one(sub, limits, reveal_quiz=False):
    """Worker (a local process or a Dask worker): grade one notebook and render its
    feedback; returns (result, (html, text) or None), so the caller alone writes files
    and the gradebook."""
    from .grade import grade_notebook

    with _ONE_AT_A_TIME:   # a Dask worker may run tasks in threads; grading is per process
        master = _master(sub.assignment, sub.notebook)
        result = grade_notebook(sub, master, limits)
        result.source_hash = source_hash(master)
        feedback = None
        try:
            feedback = render_feedback(result, reveal_quiz)
        except Exception as exc:  # noqa: BLE001 (feedback must not cost a grade)
            result.feedback_error = f"{type(exc).__name__}: {exc}"
        return result, feedback


def _result_path(out_dir, sub):
    return Path(out_dir) / "results" / sub.student / sub.assignment / f"{sub.notebook}.json"


def _cached(out_dir, sub, figures=False):
    """A saved result is reused when neither the submission nor the master changed, and,
    for a run with ``--figures``, when it was graded with figures too."""
    path = _result_path(out_dir, sub)
    if not path.exists():
        return None
    try:
        saved = NotebookResult.from_dict(json.loads(path.read_text()))
    except (ValueError, TypeError, KeyError):
        return None
    master = _master(sub.assignment, sub.notebook)
    if saved.fingerprint != (sub.fingerprint() if sub.path else "") \
            or saved.source_hash != source_hash(master) or (figures and not saved.figures):
        return None
    return saved


def _save(out_dir, sub, result):
    path = _result_path(out_dir, sub)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result.to_dict()))
    os.replace(tmp, path)


def _crash_result(sub, exc):
    return NotebookResult(sub.student, sub.assignment, sub.notebook, Status.ERROR,
                          detail=f"the grader failed on this notebook: {exc}",
                          max_score=_master(sub.assignment, sub.notebook).max_score)


class Lock:
    """One autograde at a time per output folder: a second run refuses, it does not wait.

    The lock is ``flock`` on ``OUT/.autograde.lock``, removed when the run ends (on an error
    too) while it is still held. A run that opened the file just before it was removed and
    locks it afterwards holds a lock on a removed file: it sees that the path no longer
    names what it locked and starts again, so two runs never both hold the lock. A run
    killed outright leaves the file behind; the kernel released its lock, so the next run
    takes it."""

    def __init__(self, out_dir):
        self.path = Path(out_dir) / ".autograde.lock"

    def __enter__(self):
        while True:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                         0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise SystemExit(f"another autograde is already writing to {self.path.parent}; "
                                 "wait for it to finish (or use another --out)") from None
            try:
                same = os.path.samestat(os.stat(self.path, follow_symlinks=False), os.fstat(fd))
            except FileNotFoundError:
                same = False
            if same:
                self.fd = fd
                return self
            os.close(fd)   # removed by the run that just ended: lock the new file

    def __exit__(self, *exc):
        try:
            os.unlink(self.path)   # while still locked: see the class comment
        except OSError:
            pass
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def check_db_url(db_url):
    """No secret on a command line, where every process (kernels too) could read it."""
    if db_url:
        from sqlalchemy.engine import make_url

        if make_url(db_url).password:
            raise SystemExit("--db-url must not carry a password (every process on the machine "
                             "can read a command line): put it in PGPASSWORD or ~/.pgpass")


def check_confinement(unconfined, log):
    """Refuse to grade unconfined unless asked to; say what the machine lacks."""
    lacking = confine.missing()
    if unconfined:
        log("warning: --unconfined: learner code runs with this account's rights (it can "
            "read the answer keys and change grades); grades.csv and the report say so")
        return
    if lacking:
        raise SystemExit("cannot confine learner kernels on this machine: it lacks "
                         + "; ".join(lacking) + ". Grade on Linux 6.12 or newer (or as root "
                         "on 5.13 or newer), or pass --unconfined for trusted code only.")


def autograde(submissions, out_dir, workers=None, timeout=defaults.TIMEOUT_S,
              assignment_ids=None, db_url=None, regrade=False, log=print,
              memory_mb=defaults.MEMORY_MB, dask=None,
              unconfined=False, dask_security=None, grader_user=None, figures=False,
              reveal_quiz=False):
    check_confinement(unconfined, log)
    check_db_url(db_url)
    ident = privileges.grader_identity(grader_user)
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(out_dir, 0o700)   # gradebook and results: no kernel (another user id) may look in
    submissions = Path(submissions)
    workers = workers or os.cpu_count() or 1
    with Lock(out_dir):
        if ident is not None:
            privileges.prepare(ident, out_dir, submissions)
        if submissions.is_file() and submissions.suffix.lower() == ".zip":
            submissions = Path(privileges.run_as(ident, _from_zip, submissions, out_dir, log))
        if not submissions.is_dir():
            raise SystemExit(f"--submissions {submissions} is not a folder or a .zip")
        masters = course.course_notebooks()
        unknown = assignment_ids and sorted(set(assignment_ids) - set(masters))
        if unknown:
            raise SystemExit(f"unknown assignment(s): {', '.join(unknown)}; "
                             f"the course has {', '.join(masters)}")
        subs = collect.collect(submissions, masters, assignment_ids)
        scope = sorted({s.assignment for s in subs})
        db_url = db_url or record.sqlite_url(out_dir / "gradebook.db")
        # saved results are learner data: read without root, here and below
        uncached = {tuple(k) for k in privileges.run_as(ident, _uncached, out_dir, subs, regrade,
                                                        figures)}
        todo = [s for s in subs if s.key in uncached]
        limits = Limits(timeout, memory_mb, confined=not unconfined, figures=figures)
        pool = _start_workers(min(workers, len(todo)), limits, ident) if todo and not dask else None
        privileges.drop(ident)   # from here on nothing runs as root but the launchers
        results = {}
        for sub in subs:
            saved = None if sub.key in uncached else _cached(out_dir, sub, figures)
            if saved is not None:
                results[sub.key] = saved
            elif sub.key not in uncached:   # removed since we looked: grade it after all
                todo.append(sub)
        if todo and pool is None and not dask:
            pool = _start_workers(min(workers, len(todo)), limits, None)
        # nbgrader takes seconds to set up the gradebook: a thread does it while the
        # workers grade; the first record waits for it
        prep_pool = cf.ThreadPoolExecutor(max_workers=1)
        prepared = prep_pool.submit(record.prepare_gradebook, db_url, scope)
        log(f"grading {len(todo)} notebooks ({len(results)} already graded) "
            f"with {workers} workers, {timeout:g} s each")
        start = time.monotonic()
        submitted = _submit(pool, todo, limits, reveal_quiz, dask, dask_security)
        try:
            prepared.result()
        except Exception as exc:
            submitted.cancel()
            raise SystemExit(f"could not set up the gradebook at {db_url}: {_root_cause(exc)}") from exc
        except BaseException:
            submitted.cancel()
            raise
        finally:
            prep_pool.shutdown()
        receipts = exchange.receipts(subs)   # nbgrader collect's timestamp.txt and secret
        try:
            with record.Writer(db_url, exchange.timestamps(receipts)) as writer, \
                    progress_bar(len(todo)) as bar:
                for result in results.values():   # reused results go into this gradebook too
                    writer.add(result)
                    if reveal_quiz and _explained(result):   # released since it was graded
                        write_feedback(out_dir, result, *render_feedback(result, True))
                for sub, (result, feedback) in submitted.results():
                    if feedback:
                        write_feedback(out_dir, result, *feedback)
                    _save(out_dir, sub, result)
                    results[sub.key] = result
                    writer.add(result)   # the single writer records while the workers grade
                    bar.set_postfix_str(f"{sub.student} {sub.assignment}: {result.status}",
                                        refresh=False)
                    bar.update()
        finally:
            submitted.cancel()
        elapsed = time.monotonic() - start
        # for nbgrader's release_feedback and formgrader
        exchange.write_receipts(out_dir, receipts, results.values())
        all_results = [results[s.key] for s in subs]
        rows = record.rows(all_results, db_url)
        record.write_csv(out_dir / "grades.csv", rows)
        _class_report(out_dir, rows, all_results, log)
    if todo:
        retried = [r for r in all_results if r.retries]
        log(f"graded {len(todo)} notebooks in {elapsed:.1f} s "
            f"({elapsed / len(todo):.2f} s per notebook, {workers} workers); "
            f"{sum(r.retries for r in retried)} fresh kernels for grader faults "
            f"in {len(retried)} notebooks")
    return rows


def _explained(result):
    return any(t.explanation for t in result.tests)


def _root_cause(exc):
    """nbgrader wraps a refused connection in advice about upgrading: show the cause."""
    while exc.__cause__ or exc.__context__:
        exc = exc.__cause__ or exc.__context__
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first_line}"


def _uncached(out_dir, subs, regrade, figures=False):
    """Keys of the submissions whose saved result cannot be reused."""
    return [list(s.key) for s in subs if regrade or _cached(out_dir, s, figures) is None]


def _from_zip(zip_path, out_dir, log):
    """An LMS download, unpacked once into ``out_dir/submissions`` in nbgrader's layout;
    the Canvas user ids of its file names go to ``out_dir/lms_ids.csv`` (for ``export``)."""
    from . import unzip

    target = out_dir / "submissions"
    notebooks = {aid: [m.name for m in ms] for aid, ms in course.course_notebooks().items()}
    try:
        if not target.exists():
            tmp = out_dir / "submissions.partial"
            shutil.rmtree(tmp, ignore_errors=True)
            notes = unzip.unpack(zip_path, tmp, notebooks)
            os.replace(tmp, target)
            for note in notes:
                log(f"note: {note}")
        ids = unzip.identities(zip_path, notebooks)
    except unzip.BadZip as exc:
        raise SystemExit(str(exc)) from None
    if ids:
        unzip.write_identities(out_dir / unzip.IDS_FILE, ids)
    return str(target)


def progress_bar(total):
    """Rate and ETA on a terminal; silent in CI logs and pipes."""
    from tqdm import tqdm

    return tqdm(total=total, unit="nb", desc="grading", file=sys.stderr, dynamic_ncols=True,
                disable=not sys.stderr.isatty() or total == 0)


def _class_report(out_dir, rows, results, log):
    """``out_dir/report/``; a report that fails costs a warning, never the grades."""
    try:
        from .report import write_report

        write_report(out_dir, rows, results)
    except Exception as exc:  # noqa: BLE001
        log(f"warning: the class report could not be written ({type(exc).__name__}: {exc})")


def _start_workers(n, limits, ident):
    """Local worker processes, each with its launcher started (as root, when we are) and
    then its own rights dropped; all of them exist before the main process drops."""
    ctx = multiprocessing.get_context("spawn")
    # the pool's semaphores belong to the grader identity, which removes them at the end
    with privileges.effective(ident):
        pool = cf.ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_start_worker,
                                      initargs=(limits.confined, ident, limits.figures))
    for future in [pool.submit(_ready) for _ in range(n)]:   # each submit spawns a worker
        future.result()
    return pool


def _ready():
    return os.getpid()


class Submitted:
    """Notebooks handed to the workers (local processes or a Dask cluster): ``results()``
    yields ``(submission, (result, feedback))`` as they finish; ``cancel()`` drops what
    has not started (the run stopped early: a bad gradebook URL, Ctrl-C)."""

    def __init__(self, futures, as_completed, closing=None):
        self.futures, self.as_completed, self.closing = futures, as_completed, closing
        self.ended = False

    def results(self):
        try:
            for future in self.as_completed(self.futures):
                sub = self.futures[future]
                try:
                    yield sub, future.result()
                except Exception as exc:  # noqa: BLE001 (a lost worker costs one row, not the run)
                    yield sub, (_crash_result(sub, exc), None)
        finally:
            self.cancel()

    def cancel(self):
        """Once: a Dask future cannot be cancelled after its client has closed."""
        if self.ended:
            return
        self.ended = True
        for future in self.futures:
            future.cancel()
        if self.closing is not None:
            self.closing.__exit__(None, None, None)


def _submit(pool, todo, limits, reveal_quiz, dask=None, dask_security=None):
    """Give every notebook to the workers now; the notebook's bytes travel with it, so
    workers elsewhere need not see our disk."""
    for sub in todo:
        try:
            sub.content = collect.read_submission(sub.path) if sub.path else None
        except (OSError, collect.InvalidNotebook) as exc:
            sub.path, sub.problem = None, "invalid_notebook"
            sub.detail = f"the file cannot be read ({exc})"
    if dask:
        from distributed import Client, as_completed

        client = Client(dask, timeout="30s", security=dask_security)
        futures = {client.submit(grade_one, sub, limits, reveal_quiz, pure=False,
                                 key=f"grade-{i}"): sub for i, sub in enumerate(todo)}
        return Submitted(futures, as_completed, closing=client)
    if pool is None:
        return Submitted({}, cf.as_completed)
    futures = {pool.submit(grade_one, sub, limits, reveal_quiz): sub for sub in todo}
    return Submitted(futures, cf.as_completed, closing=pool)


def _start_worker(confined, ident, figures=False):
    """A new local worker starts its launcher at once (torch loads there while the worker
    imports the grader), then gives up root if it had it. The launcher's kernels draw
    figures or not as the run says (``--figures``)."""
    from .launch import Launcher

    Launcher.get(confined, figures)
    privileges.drop(ident)


def dask_security(ca=None, cert=None, key=None):
    """Dask's own TLS (``--dask tls://...``): the scheduler, its workers and this client
    prove themselves with certificates, so nobody else can submit work to the workers."""
    if not (ca or cert or key):
        return None
    from distributed.security import Security

    # read now, with the rights of whoever started the run: the connection is made after a
    # grader started as root has dropped them (distributed takes PEM text as well as paths)
    def pem(path):
        try:
            return Path(path).read_text() if path else None
        except OSError as exc:
            raise SystemExit(f"cannot read the Dask TLS file {path}: {exc.strerror}") from None
    return Security(tls_ca_file=pem(ca), tls_client_cert=pem(cert), tls_client_key=pem(key),
                    require_encryption=True)


def main(args):
    rows = autograde(args.submissions, args.out, args.workers, args.timeout,
                     args.assignment or None, args.db_url, args.regrade,
                     memory_mb=args.memory_mb, dask=args.dask, unconfined=args.unconfined,
                     dask_security=dask_security(args.dask_tls_ca, args.dask_tls_cert,
                                                 args.dask_tls_key),
                     grader_user=args.grader_user, figures=args.figures,
                     reveal_quiz=args.reveal_quiz)
    print(table.grade_table(rows))
    print(table.summary(rows))
    print(f"wrote {Path(args.out) / 'grades.csv'}, {Path(args.out) / 'gradebook.db'}, "
          f"feedback/ for each student and the class report {Path(args.out) / 'report' / 'index.html'}",
          file=sys.stderr)
    return 0
