"""Scale-out: the same grades from a real Dask cluster writing into a real PostgreSQL."""
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from cohort.submissions import answers_for, fill, write
from cohort.mistakes import catalogue
from grader import course
from conftest import ROOT, read_grades, run_cli

DASK = str(Path(sys.executable).parent / "dask")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bins:
        pytest.skip("PostgreSQL is not installed (scripts/system-deps.sh installs it as root)")
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no postgres user")
    base = Path(tempfile.mkdtemp(prefix="gru-pg-"))
    os.chmod(base, 0o755)
    data, sock = base / "data", base / "sock"
    for d in (data, sock):
        d.mkdir()
        os.chown(d, user.pw_uid, user.pw_gid)
    port = _free_port()
    as_pg = ["runuser", "-u", "postgres", "--"]
    subprocess.run(as_pg + [f"{bins[-1]}/initdb", "-D", str(data), "-A", "trust", "-U", "postgres",
                            "--no-sync"], check=True, capture_output=True)
    subprocess.run(as_pg + [f"{bins[-1]}/pg_ctl", "-D", str(data), "-w", "-l", str(sock / "log"),
                            "-o", f"-h 127.0.0.1 -p {port} -k {sock} -c fsync=off", "start"],
                   check=True, capture_output=True)
    try:
        subprocess.run(as_pg + ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                                "-c", "CREATE DATABASE gradebook"], check=True, capture_output=True)
        yield f"postgresql://postgres@127.0.0.1:{port}/gradebook"
    finally:
        subprocess.run(as_pg + [f"{bins[-1]}/pg_ctl", "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def dask_cluster():
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    common = dict(cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    scheduler = subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                  "--no-dashboard"], **common)
    address = f"tcp://127.0.0.1:{port}"
    worker = subprocess.Popen([DASK, "worker", address, "--nthreads", "1", "--nworkers", "2",
                               "--host", "127.0.0.1", "--no-dashboard"], **common)
    try:
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for proc in (worker, scheduler):
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="module")
def small_cohort(tmp_path_factory):
    subs = tmp_path_factory.mktemp("scale") / "subs"
    masters = course.course_notebooks()
    mistakes = catalogue()
    for i, aid in enumerate(["01_gates", "03_parameters"]):
        master = masters[aid][0]
        own = sorted(m for m in mistakes if mistakes[m].assignment == aid)
        write(fill(aid, master.name, answers_for(master)), subs, "ok", aid, master.name)
        write(fill(aid, master.name, answers_for(master, [mistakes[own[0]]])), subs, "wrong", aid, master.name)
        write(fill(aid, master.name, {}), subs, "blank", aid, master.name)
    (subs / "broken" / "01_gates").mkdir(parents=True)
    (subs / "broken" / "01_gates" / "gru_gates.ipynb").write_text("{ nope")
    return subs


def _scores(out):
    return {k: (r["score"], r["max_score"], r["status"]) for k, r in read_grades(out).items()}


def test_dask_and_postgres_give_the_local_grades(small_cohort, dask_cluster, postgres_url, tmp_path):
    local = run_cli("autograde", "--submissions", small_cohort, "--out", tmp_path / "local")
    assert local.returncode == 0, local.stderr[-2000:]
    remote = run_cli("autograde", "--submissions", small_cohort, "--out", tmp_path / "remote",
                     "--dask", dask_cluster, "--db-url", postgres_url)
    assert remote.returncode == 0, remote.stderr[-3000:]
    assert _scores(tmp_path / "local") == _scores(tmp_path / "remote")
    assert len(_scores(tmp_path / "remote")) == 8

    from nbgrader.api import Gradebook

    with Gradebook(postgres_url) as gb:
        for (student, aid), (score, max_score, status) in _scores(tmp_path / "remote").items():
            if status == "graded":
                sub = gb.find_submission(aid, student)
                assert sub.score == pytest.approx(float(score))
                assert sub.max_score == pytest.approx(float(max_score))
    # the feedback was written by the one writer, from what the workers sent back
    assert (tmp_path / "remote" / "feedback" / "wrong" / "01_gates" / "gru_gates.html").exists()
