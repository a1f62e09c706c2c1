"""Faults of the grader itself: killed halfway, run twice at once."""
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import nbformat

from grader import course
from cohort.mistakes import catalogue
from cohort.submissions import answers_for, fill, write
from conftest import ROOT, read_grades, run_cli

A, NB = "01_gates", "gru_gates"


def _cohort(folder, n=8):
    master = course.course_notebooks()[A][0]
    gates = sorted(m for m in catalogue() if m.startswith("gates-"))
    for i in range(n):
        mistakes = [catalogue()[gates[i % len(gates)]]] if i % 2 else []
        write(fill(A, NB, answers_for(master, mistakes)), folder, f"st{i:02d}", A, NB)


def _kernel_processes():
    """Launchers and kernels of this checkout (a kernel is a fork of its launcher)."""
    import psutil

    launcher = str(ROOT / "grader" / "launcher.py")
    return [p.pid for p in psutil.process_iter(["cmdline"])
            if launcher in " ".join(p.info["cmdline"] or [])]


def _start(subs, out, *extra):
    """``autograde`` in the background, its output unbuffered (so a test can read its lines
    as they come), in a session of its own (so a test can kill it with its workers)."""
    return subprocess.Popen([sys.executable, "-m", "grader", "autograde", "--submissions",
                             str(subs), "--out", str(out), "--workers", "2", *extra],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"), start_new_session=True)


def _wait_for_line(proc, words):
    """Read ``proc``'s stdout until a line has ``words``: the run got that far."""
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if words in line:
            return
    raise AssertionError(f"the run ended without saying {words!r}: {''.join(seen)[-2000:]}"
                         f"{proc.stderr.read()[-2000:]}")


def _stuck(subs, student):
    """A notebook that cannot end before its time limit: a run with it cannot finish early."""
    nb = fill(A, NB, answers_for(course.course_notebooks()[A][0]))
    # before the exercises: grading without figures does not run cells after the last test
    at = 1 + next(i for i, c in enumerate(nb.cells)
                  if course.nbgrader_meta(c).get("grade_id") == "imports")
    nb.cells.insert(at, nbformat.v4.new_code_cell("import time\ntime.sleep(3600)"))
    write(nb, subs, student, A, NB)


def _expected_rows():
    """What an uninterrupted run gives _cohort (tests/test_grading.py checks it for the
    whole catalogue): full marks, or 15 less the points of the tests a mistake fails."""
    master = course.course_notebooks()[A][0]
    points = {t.grade_id: t.points for t in master.tests}
    gates = sorted(m for m in catalogue() if m.startswith("gates-"))
    rows = {}
    for i in range(8):
        lost = sum(points[g] for g in catalogue()[gates[i % len(gates)]].fails) if i % 2 else 0
        rows[(f"st{i:02d}", A)] = (f"{master.max_score - lost:.1f}", "graded")
    return rows


def test_killed_run_resumes_to_the_same_grades(tmp_path):
    """Killed while one notebook cannot have ended (so never after the run finished,
    however the machine is loaded), the run resumes from the results it saved."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    _cohort(subs)
    _stuck(subs, "zz-stuck")
    proc = _start(subs, out, "--timeout", "600")
    while len(list((out / "results").rglob("*.json")) if (out / "results").exists() else []) < 2:
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    saved = list((out / "results").rglob("*.json"))
    assert len(saved) >= 2 and not (out / "results" / "zz-stuck").exists()
    assert not (out / "grades.csv").exists()

    shutil.rmtree(subs / "zz-stuck")
    again = run_cli("autograde", "--submissions", subs, "--out", out)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"({len(saved)} already graded)" in again.stdout
    resumed = read_grades(out)
    assert {k: (r["score"], r["status"]) for k, r in resumed.items()} == _expected_rows()
    # kernels of the killed run notice their parent is gone and exit
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _kernel_processes():
        time.sleep(0.5)
    assert not _kernel_processes()
    db = sqlite3.connect(out / "gradebook.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT COUNT(*) FROM submitted_assignment").fetchone()[0] == 8


def test_second_run_on_the_same_output_refuses_clearly(tmp_path):
    """A second run refuses while the first one grades (the first cannot end meanwhile: its
    notebook sleeps past its limit); killed outright, the first leaves its lock file, which
    the next run takes."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    _stuck(subs, "slow")
    first = _start(subs, out, "--timeout", "600")
    try:
        _wait_for_line(first, "grading 1 notebooks")   # said once the lock is held
        second = run_cli("autograde", "--submissions", subs, "--out", out)
        assert second.returncode != 0
        assert "another autograde is already writing" in second.stderr
        assert first.poll() is None
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert (out / ".autograde.lock").exists()
    third = run_cli("autograde", "--submissions", subs, "--out", out, "--timeout", "5")
    assert third.returncode == 0, third.stderr[-2000:]
    assert read_grades(out)[("slow", A)]["status"] == "timeout"
    assert not (out / ".autograde.lock").exists()


def test_unreachable_gradebook_stops_with_the_cause(tmp_path):
    """A wrong --db-url is said in one line, and no grade is recorded anywhere."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    _cohort(subs, n=4)
    import socket

    with socket.socket() as s:   # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = run_cli("autograde", "--submissions", subs, "--out", out,
                   "--db-url", f"postgresql://nobody@127.0.0.1:{port}/gradebook")
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("could not set up the gradebook at postgresql://"), proc.stderr[-2000:]
    assert "refused" in last, last
    assert "Traceback" not in proc.stderr
    assert not list(out.glob("results/**/*.json")) and not (out / "grades.csv").exists()


def test_new_gradebook_is_stamped_with_nbgrader_own_alembic_head(tmp_path):
    """The grader asks alembic in-process for the revision nbgrader stamps a new gradebook
    with (nbgrader runs the ``alembic heads`` command for it): both must agree, or
    ``nbgrader db upgrade`` would later migrate the gradebook from the wrong revision."""
    from nbgrader.dbutil import _temp_alembic_ini

    from grader import record, release

    with _temp_alembic_ini("sqlite:////tmp/gradebook.db") as ini:
        cli = subprocess.run([os.path.join(os.path.dirname(sys.executable), "alembic"), "-c",
                              ini, "heads"], capture_output=True, text=True, check=True)
    head = cli.stdout.split("\n")[0].split(" ")[0]
    assert head and release.alembic_head() == head
    db = tmp_path / "gradebook.db"
    record.prepare_gradebook(record.sqlite_url(db), [A])
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT version_num FROM alembic_version").fetchall() == [(head,)]
