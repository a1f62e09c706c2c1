"""A private PostgreSQL server for tests and benchmarks, whoever runs them.

Its own cluster in a temporary folder, listening on a loopback port (and on a socket in
that folder only), with a random password that clients find in ``PGPASSWORD`` (this
process's environment, inherited by the grader whatever identity it drops to; kernels get
an allowlisted environment without it): not in the URL, not on any command line, not in a
file that the grader would have to be able to read. As root the server runs as an
unprivileged account (PostgreSQL refuses to run as root).
"""
import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


class Unavailable(Exception):
    """No PostgreSQL here, or no account to run it as."""


class Failed(Exception):
    """A server program failed; the message has its output and the server's log."""


def postgres_bin():
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


def server_account():
    """Who runs the server: this user; or, for root, Debian's ``postgres`` account, else
    ``nobody``."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
    raise Unavailable("running as root and there is neither a postgres nor a nobody account "
                      "to run PostgreSQL as (it refuses to run as root)")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def private_postgres(database="gradebook", max_connections=100, durable=False):
    """Yields the URL of an empty database on a fresh server, with ``PGPASSWORD`` set in
    this process's environment; stops the server and removes everything afterwards.
    ``durable``: PostgreSQL's defaults (fsync, synchronous commits), as a production server
    runs; otherwise both are off, for tests."""
    bindir = postgres_bin()
    if bindir is None:
        raise Unavailable("PostgreSQL's server programs (initdb, pg_ctl, postgres) are not "
                          "installed")
    account = server_account()
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
            raise Failed(f"{cmd[0]} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
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
    started, saved = False, {k: os.environ.get(k) for k in ("PGPASSWORD", "PGPASSFILE")}
    try:
        server("initdb", "-D", data, "-U", "postgres", "--auth=scram-sha-256",
               f"--pwfile={pwfile}", "--locale=C", "--encoding=UTF8", "--no-sync")
        pwfile.unlink()
        with open(data / "postgresql.conf", "a") as conf:
            conf.write(f"\nlisten_addresses = '127.0.0.1'\nport = {port}\n"
                       f"unix_socket_directories = '{run}'\n"
                       f"max_connections = {max_connections}\n")
            if not durable:
                conf.write("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
        server("pg_ctl", "-D", data, "-w", "-t", "60", "-l", run / "log", "start")
        started = True
        os.environ["PGPASSWORD"] = password   # for this process and the grader's
        os.environ.pop("PGPASSFILE", None)
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=port, user="postgres",
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        yield f"postgresql://postgres@127.0.0.1:{port}/{database}"
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if started:
            server("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(base, ignore_errors=True)
