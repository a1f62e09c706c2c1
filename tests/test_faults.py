"""Faults of the grader itself: killed halfway, run twice at once."""
import os
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
    return subprocess.Popen([sys.executable, "-m", "grader", "autograde", "--submissions",
                             str(subs), "--out", str(out), "--workers", "2", *extra],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)


def test_killed_run_resumes_to_the_same_grades(tmp_path):
    subs = tmp_path / "subs"
    _cohort(subs)
    reference = run_cli("autograde", "--submissions", subs, "--out", tmp_path / "clean")
    assert reference.returncode == 0, reference.stderr[-2000:]

    out = tmp_path / "out"
    proc = _start(subs, out)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        done = list((out / "results").rglob("*.json")) if (out / "results").exists() else []
        if len(done) >= 2:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 2 <= len(list((out / "results").rglob("*.json"))) < 8, "the kill came too late"
    assert not (out / "grades.csv").exists()

    again = run_cli("autograde", "--submissions", subs, "--out", out)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "already graded" in again.stdout
    clean, resumed = read_grades(tmp_path / "clean"), read_grades(out)
    assert len(resumed) == 8
    assert {k: (r["score"], r["status"]) for k, r in resumed.items()} == \
        {k: (r["score"], r["status"]) for k, r in clean.items()}
    # kernels of the killed run notice their parent is gone and exit
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _kernel_processes():
        time.sleep(0.5)
    assert not _kernel_processes()
    db = sqlite3.connect(out / "gradebook.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT COUNT(*) FROM submitted_assignment").fetchone()[0] == 8


def test_second_run_on_the_same_output_refuses_clearly(tmp_path):
    subs = tmp_path / "subs"
    master = course.course_notebooks()[A][0]
    nb = fill(A, NB, answers_for(master))
    # before the exercises: grading without figures does not run cells after the last test
    at = 1 + next(i for i, c in enumerate(nb.cells)
                  if course.nbgrader_meta(c).get("grade_id") == "imports")
    nb.cells.insert(at, nbformat.v4.new_code_cell("while True:\n    pass"))
    write(nb, subs, "slow", A, NB)
    first = _start(subs, tmp_path / "out", "--timeout", "20")
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "out" / ".autograde.lock").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        second = run_cli("autograde", "--submissions", subs, "--out", tmp_path / "out")
        assert second.returncode != 0
        assert "another autograde is already writing" in second.stderr
    finally:
        first.wait(timeout=120)
    assert first.returncode == 0
    assert read_grades(tmp_path / "out")[("slow", A)]["status"] == "timeout"


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
