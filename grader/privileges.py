"""A grader started as root keeps root only to start and end kernels.

Everything that touches learner-controlled data (the notebooks, the kernels' messages and
replies, outputs, feedback pages, the gradebook, the reports, an LMS zip) runs as an
unprivileged *grader identity*: ``--grader-user``, else the user who ran ``sudo``, else
``nobody``. The launchers (``grader/launcher.py``), started by each worker before it drops
its rights, stay root: they only create kernel folders, fork, confine and kill, and read
nothing but their worker's requests.

The grader identity may not be able to reach the Python installation or the course (a
pyenv under ``/root``): a private mount namespace binds them, ``--out`` and the
submissions back where a closed folder hides them, for this process and its children.
"""
import atexit
import contextlib
import json
import os
import pwd
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import confine, course


@dataclass(frozen=True)
class Identity:
    name: str
    uid: int
    gid: int


def grader_identity(name=None):
    """The identity to drop to, or None when there is nothing to drop (not root)."""
    if os.geteuid() != 0:
        return None
    if name:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise SystemExit(f"--grader-user {name}: no such user") from None
    elif os.environ.get("SUDO_UID", "0") not in ("", "0"):
        entry = pwd.getpwuid(int(os.environ["SUDO_UID"]))
    else:
        entry = pwd.getpwnam("nobody")
    if entry.pw_uid == 0:
        raise SystemExit("--grader-user must not be root")
    return Identity(entry.pw_name, entry.pw_uid, entry.pw_gid)


def prepare(ident, out_dir, submissions):
    """As root, before any learner data is read: make what the grader needs reachable for
    ``ident``, give it ``out_dir``, and a private home for its caches."""
    reach = [*confine.python_paths(), str(course.ROOT), str(out_dir)]
    if Path(submissions).exists():
        reach.append(str(Path(submissions).resolve()))
    staging = tempfile.mkdtemp(prefix="gru-mounts-")
    confine.expose(reach, staging)
    # its mount points have moved away: only empty folders and files are left (never a
    # recursive removal here, in case a bind mount were still in place)
    with contextlib.suppress(OSError):
        for entry in os.scandir(staging):
            (os.rmdir if entry.is_dir(follow_symlinks=False) else os.unlink)(entry.path)
        os.rmdir(staging)
    for folder, dirs, files in os.walk(out_dir):
        for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
            os.lchown(name, ident.uid, ident.gid)
    home = tempfile.mkdtemp(prefix="gru-grader-home-")
    os.chown(home, ident.uid, ident.gid)
    # removed when the run ends, by the main process (by then ``ident``, its owner)
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    # caches and Jupyter's connection files go here, not under root's home
    os.environ.update(HOME=home, JUPYTER_RUNTIME_DIR=f"{home}/runtime",
                      MPLCONFIGDIR=f"{home}/mpl", IPYTHONDIR=f"{home}/ipython",
                      XDG_CACHE_HOME=f"{home}/cache")


@contextlib.contextmanager
def effective(ident):
    """Files created inside belong to ``ident``, and a process started inside (such as
    multiprocessing's resource tracker) has no root at all; root comes back after, from
    the saved user id."""
    if ident is None:
        yield
        return
    os.setresgid(ident.gid, ident.gid, 0)
    os.setresuid(ident.uid, ident.uid, 0)
    try:
        yield
    finally:
        os.setresuid(0, 0, 0)
        os.setresgid(0, 0, 0)


def drop(ident):
    """For good: setresuid leaves no saved root to come back to."""
    if ident is None:
        return
    os.setgroups([])
    os.setresgid(ident.gid, ident.gid, ident.gid)
    os.setresuid(ident.uid, ident.uid, ident.uid)


def run_as(ident, fn, *args):
    """``fn(*args)`` in a child process that dropped to ``ident``; its JSON result back.
    Exceptions come back as SystemExit with their message."""
    if ident is None:
        return fn(*args)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            drop(ident)
            reply = {"ok": fn(*args)}
        except BaseException as exc:  # noqa: B902 (the parent reports it)
            reply = {"error": str(exc) or type(exc).__name__}
        with os.fdopen(write, "w") as f:
            json.dump(reply, f)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        data = f.read()
    os.waitpid(pid, 0)
    reply = json.loads(data) if data else {"error": "the unprivileged helper died"}
    if "error" in reply:
        raise SystemExit(reply["error"])
    return reply["ok"]
