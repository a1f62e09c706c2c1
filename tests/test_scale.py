"""Scale-out: the same grades from a real Dask cluster writing into a real PostgreSQL."""
import glob
import os
import pwd
import secrets
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
from conftest import ROOT, read_grades, run_cli, system_dep_missing

DASK = str(Path(sys.executable).parent / "dask")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _postgres_bin():
    """The folder of PostgreSQL's server programs: ``$GRU_PG_BIN`` when set (a test of the
    skip can point it at nothing), else Debian's newest, else the one ``initdb`` is in."""
    if "GRU_PG_BIN" in os.environ:
        candidates = [os.environ["GRU_PG_BIN"]]
    else:
        candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                            key=lambda d: [int(p) if p.isdigit() else 0
                                           for p in Path(d).parent.name.split(".")],
                            reverse=True)
        if shutil.which("initdb"):
            candidates.append(str(Path(shutil.which("initdb")).resolve().parent))
    for folder in map(Path, candidates):
        if all(os.access(folder / p, os.X_OK) for p in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def _server_account():
    """Who runs the server: this user; or, for root (PostgreSQL refuses to run as root),
    Debian's ``postgres`` account, else ``nobody``."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
    pytest.skip("running as root and there is neither a postgres nor a nobody account to run "
                "PostgreSQL as (it refuses to run as root)")


@pytest.fixture(scope="module")
def postgres_url():
    """A private PostgreSQL server for this module, whoever runs the tests: its own cluster in
    a temporary folder, listening on a loopback port (and on a socket in that folder only),
    with a random password that clients find in ``PGPASSWORD`` (this process's environment,
    inherited by the grader whatever identity it drops to; kernels get an allowlisted
    environment without it): not in the URL, not on any command line, not in a file that the
    grader would have to be able to read. As root the server runs as an unprivileged account."""
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip(system_dep_missing("PostgreSQL", "postgresql"))
    account = _server_account()
    if account is None:
        as_server, server_env = [], dict(os.environ)
    else:
        as_server = ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}",
                     "--clear-groups", "--"]
        server_env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}

    def server(*cmd, check=True):
        proc = subprocess.run(as_server + [str(bindir / cmd[0]), *map(str, cmd[1:])], cwd=base,
                              env=server_env, capture_output=True, text=True, timeout=120)
        if check and proc.returncode:
            log = run / "log"
            pytest.fail(f"{cmd[0]} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
                        + (f"\nserver log:\n{log.read_text()[-3000:]}" if log.exists() else ""))
        return proc

    # base/ (0711) holds data/ and run/ (the server's, 0700: cluster, socket, log, and the
    # password file for initdb until initdb has read it)
    base = Path(tempfile.mkdtemp(prefix="gru-pg-", dir="/tmp" if account else None))
    os.chmod(base, 0o711)
    data, run = base / "data", base / "run"
    password = secrets.token_hex(16)
    for d in (data, run):
        d.mkdir(mode=0o700)
    pwfile = run / "pwfile"
    pwfile.write_text(password + "\n")
    pwfile.chmod(0o600)
    if account is not None:
        for p in (data, run, pwfile):
            os.chown(p, account.pw_uid, account.pw_gid)
    port = _free_port()
    started = False
    try:
        server("initdb", "-D", data, "-U", "postgres", "--auth=scram-sha-256",
               f"--pwfile={pwfile}", "--locale=C", "--encoding=UTF8", "--no-sync")
        pwfile.unlink()
        with open(data / "postgresql.conf", "a") as conf:
            conf.write(f"\nlisten_addresses = '127.0.0.1'\nport = {port}\n"
                       f"unix_socket_directories = '{run}'\nfsync = off\n"
                       "synchronous_commit = off\nfull_page_writes = off\n")
        server("pg_ctl", "-D", data, "-w", "-t", "60", "-l", run / "log", "start")
        started = True
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("PGPASSWORD", password)   # for this process and the grader's
            mp.delenv("PGPASSFILE", raising=False)
            import psycopg

            with psycopg.connect(host="127.0.0.1", port=port, user="postgres",
                                 dbname="postgres", autocommit=True) as conn:
                conn.execute("CREATE DATABASE gradebook")
            yield f"postgresql://postgres@127.0.0.1:{port}/gradebook"
    finally:
        if started:
            server("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop", check=False)
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


@pytest.fixture(scope="module")
def local_scores(small_cohort, tmp_path_factory):
    """The small cohort graded here, with local workers and SQLite: what every remote run
    must give (one run for both tests below)."""
    out = tmp_path_factory.mktemp("local") / "out"
    local = run_cli("autograde", "--submissions", small_cohort, "--out", out)
    assert local.returncode == 0, local.stderr[-2000:]
    return _scores(out)


def test_dask_and_postgres_give_the_local_grades(small_cohort, local_scores, dask_cluster,
                                                 postgres_url, tmp_path):
    remote = run_cli("autograde", "--submissions", small_cohort, "--out", tmp_path / "remote",
                     "--dask", dask_cluster, "--db-url", postgres_url)
    assert remote.returncode == 0, remote.stderr[-3000:]
    assert local_scores == _scores(tmp_path / "remote")
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


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory):
    """A Dask scheduler and workers that speak only TLS and accept only holders of the
    course's certificate (self-signed here, made with openssl, as an instructor would)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip(system_dep_missing("openssl", "openssl"))
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=gru-grader"], check=True,
                   capture_output=True)
    tls = ["--tls-ca-file", str(cert), "--tls-cert", str(cert), "--tls-key", str(key)]
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    common = dict(cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    address = f"tls://127.0.0.1:{port}"
    scheduler = subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                  "--protocol", "tls", "--no-dashboard", *tls], **common)
    worker = subprocess.Popen([DASK, "worker", address, "--nthreads", "1", "--nworkers", "1",
                               "--host", "127.0.0.1", "--no-dashboard", *tls], **common)
    try:
        from distributed import Client
        from distributed.security import Security

        security = Security(tls_ca_file=str(cert), tls_client_cert=str(cert),
                            tls_client_key=str(key), require_encryption=True)
        with Client(address, security=security, timeout="60s") as client:
            client.wait_for_workers(1, timeout=120)
        yield {"address": address, "cert": cert, "key": key}
    finally:
        for proc in (worker, scheduler):
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_dask_over_tls_gives_the_local_grades_and_refuses_strangers(small_cohort, local_scores,
                                                                    tls_cluster, tmp_path):
    cert, key = tls_cluster["cert"], tls_cluster["key"]
    remote = run_cli("autograde", "--submissions", small_cohort, "--out", tmp_path / "remote",
                     "--assignment", "01_gates", "--dask", tls_cluster["address"],
                     "--dask-tls-ca", cert, "--dask-tls-cert", cert, "--dask-tls-key", key)
    assert remote.returncode == 0, remote.stderr[-3000:]
    assert {k: v for k, v in local_scores.items() if k[1] == "01_gates"} == _scores(tmp_path / "remote")
    # without the certificate, nobody reaches the workers through the scheduler
    stranger = run_cli("autograde", "--submissions", small_cohort, "--out", tmp_path / "stranger",
                       "--assignment", "01_gates", "--dask", tls_cluster["address"])
    assert stranger.returncode != 0
    assert not (tmp_path / "stranger" / "grades.csv").exists()
