"""Start a learner's kernel confined: its own user id, the course's secrets out of sight,
and resource limits. Runs as ``python -m grader.sandbox [options] -- KERNEL COMMAND``.

When the grader runs as root (CI, a grading container), the kernel gets:

* a private mount namespace where the course repository (master notebooks, hidden tests,
  reference GRU, git history), the grading output (gradebook, results) and the cohort's
  submissions are covered by empty read-only tmpfs mounts; only the Python environment is
  mounted back;
* a user id of its own (no other process shares it), so it cannot read files it does not
  own, cannot touch other kernels' folders, and ``RLIMIT_NPROC`` stops fork bombs;
* ``RLIMIT_DATA`` (memory), ``RLIMIT_FSIZE`` (file size) and no core dumps.

Without root only the resource limits apply, and the grader says so when it starts.
"""
import argparse
import ctypes
import os
import resource
import shutil
import stat
import sys
from pathlib import Path

CLONE_NEWNS = 0x00020000
MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 4096, 8192, 16384, 1 << 18
PR_SET_CHILD_SUBREAPER = 36


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source, target, fstype, flags, data=None):
    libc = _libc()
    args = [None if v is None else str(v).encode() for v in (source, target, fstype)]
    _check(libc.mount(args[0], args[1], args[2], ctypes.c_ulong(flags),
                      None if data is None else data.encode()), f"mount {target}")


def can_confine():
    return os.geteuid() == 0 and sys.platform.startswith("linux")


def become_subreaper():
    """Orphans of the kernels we start become our children, so none escapes the clean-up."""
    if sys.platform.startswith("linux"):
        _libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _others_can_enter(path):
    return all(os.stat(p).st_mode & stat.S_IXOTH for p in [path, *path.parents])


def _hide_and_expose(hide, expose, staging):
    """Cover ``hide`` (and closed ancestors of ``expose``) with tmpfs; mount ``expose`` back."""
    libc = _libc()
    _check(libc.unshare(CLONE_NEWNS), "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    cover = {Path(p) for p in hide if Path(p).exists()}
    for path in expose:
        # a closed folder above the Python environment (e.g. /root) is covered too
        for parent in reversed(path.parents):
            if parent != Path("/") and not os.stat(parent).st_mode & stat.S_IXOTH:
                cover.add(parent)
                break
    # a path inside another covered path is hidden already (and has no mount point there)
    cover = {c for c in cover if not any(o in c.parents for o in cover)}
    staged = []
    for i, path in enumerate(expose):
        if any(c == path or c in path.parents for c in cover):
            mount_point = staging / f"expose-{i}"
            mount_point.mkdir()
            _mount(path, mount_point, None, MS_BIND | MS_REC)
            staged.append((mount_point, path))
    # outermost first, so that inner covers are not hidden under outer ones
    for path in sorted(cover, key=lambda p: len(p.parts)):
        _mount("tmpfs", path, "tmpfs", 0, "size=64k,mode=755")
    for mount_point, path in staged:
        path.mkdir(parents=True, exist_ok=True)
        _mount(mount_point, path, None, MS_MOVE)


def parse(argv):
    p = argparse.ArgumentParser()
    p.add_argument("--uid", type=int)
    p.add_argument("--workdir", required=True)
    p.add_argument("--memory-mb", type=int, default=2048)
    p.add_argument("--nproc", type=int, default=128)
    p.add_argument("--hide", action="append", default=[])
    p.add_argument("--expose", action="append", default=[])
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    return p.parse_args(argv)


def confine(args, connection_file):
    """Apply everything to the current process; returns the connection file it may read."""
    workdir = Path(args.workdir)
    if args.uid is not None:
        # The kernel cannot read root's runtime folder: hand it its own connection file.
        own = workdir / ".kernel-connection.json"
        shutil.copy(connection_file, own)
        os.chown(own, args.uid, args.uid)
        os.chmod(own, 0o600)
        connection_file = str(own)
        staging = workdir / ".mounts"
        staging.mkdir(mode=0o700, exist_ok=True)
        _hide_and_expose(args.hide, [Path(e) for e in args.expose], staging)
        resource.setrlimit(resource.RLIMIT_NPROC, (args.nproc, args.nproc))
    limit = args.memory_mb * 2 ** 20
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    resource.setrlimit(resource.RLIMIT_FSIZE, (512 * 2 ** 20, 512 * 2 ** 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if args.uid is not None:
        os.setgroups([])
        os.setgid(args.uid)
        os.setuid(args.uid)
    os.chdir(workdir)
    return connection_file


def main(argv=None):
    args = parse(argv)
    cmd = [c for c in args.cmd if c != "--"]
    i = cmd.index("-f") + 1
    cmd[i] = confine(args, cmd[i])
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    main()
