"""Confine one learner kernel, as root or as an ordinary user.

Applied by the launcher (``grader/launcher.py``) in each freshly forked kernel, in this
order, before any learner code can run:

1. every file descriptor but the kernel's own is closed; the environment is an allowlist;
2. as root only: the Python installation is made reachable (a private mount namespace that
   binds it back where a closed folder such as ``/root`` hides it), and the kernel takes a
   user id of its own (one per kernel, never reused within a run);
3. resource limits (memory, file size, processes, no core dumps) and ``no_new_privs``;
4. **Landlock** (unprivileged, Linux >= 5.13): an allowlist of what the kernel may touch on
   the file system (read: the Python installation, system libraries, a few files of
   ``/etc``, its own ``/proc/PID``; write: its private working folder only). Everything else
   is denied, whatever its path or owner. From ABI 4 TCP connections are denied; from ABI 6
   signals and abstract unix sockets cannot reach anything outside the kernel's own domain
   (so no kernel can signal the grader or another kernel, even with the same user id);
5. the kernel binds its Jupyter ports (loopback TCP);
6. **seccomp** (libseccomp through ``pyseccomp``, synchronised over all threads): no new
   sockets of any family, no bind/connect/listen, no ptrace or cross-process memory access,
   no namespaces, mounts, io_uring, BPF, keyrings or perf events.

Landlock alone cannot deny UDP or unix sockets reached by path, and seccomp alone cannot
express "this folder but not that one": each covers what the other cannot.
"""
import ctypes
import errno
import os
import resource
import stat
import sys
from pathlib import Path

# ---------------------------------------------------------------- Landlock (kernel ABI)
# The PyPI binding (``landlock``) stops at ABI 3 file rules; network rules (ABI 4) and
# scopes (ABI 6) are needed here, so the three system calls are called directly.
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446  # same on all arches
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 38, 1, 36

FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1, 2, 4, 8
FS_READ = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
NET_BIND_TCP, NET_CONNECT_TCP = 1, 2
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1, 2
NEEDED_ABI_AS_USER = 6    # signal scoping: without a user id of its own, nothing else stops kill()


def _fs_all(abi):
    bits = (1 << 13) - 1                 # ABI 1: EXECUTE .. MAKE_SYM
    if abi >= 2:
        bits |= 1 << 13                  # REFER
    if abi >= 3:
        bits |= 1 << 14                  # TRUNCATE
    if abi >= 5:
        bits |= 1 << 15                  # IOCTL_DEV
    return bits


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _syscall(*args):
    ret = _libc.syscall(*args)
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return ret


def landlock_abi():
    """The running kernel's Landlock ABI version (0: none)."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        return _syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0),
                        ctypes.c_uint32(_CREATE_RULESET_VERSION))
    except OSError:
        return 0


def _seccomp_available():
    try:
        import pyseccomp  # noqa: F401  (loads libseccomp.so.2)
    except (ImportError, OSError):
        return False
    return True


def missing():
    """What this machine lacks for confined kernels, as sentences ([] when nothing)."""
    if not sys.platform.startswith("linux"):
        return [f"Linux (this is {sys.platform}): Landlock and seccomp exist only there"]
    problems = []
    abi = landlock_abi()
    need = 1 if os.geteuid() == 0 else NEEDED_ABI_AS_USER
    if abi < need:
        why = ("" if os.geteuid() == 0 else
               " (signal scoping; as root each kernel gets its own user id instead)")
        problems.append(f"Landlock ABI {need} or newer{why}; this kernel "
                        f"({os.uname().release}) has {'none' if abi == 0 else f'ABI {abi}'}")
    if not _seccomp_available():
        problems.append("seccomp through libseccomp (Debian: libseccomp2) and the pyseccomp "
                        "package")
    return problems


def restrict_filesystem(read, write, extra_read_files=()):
    """Landlock: from now on this thread (and what it starts) may read only ``read``
    (folders), ``extra_read_files`` and write only ``write``. Call while single-threaded."""
    abi = landlock_abi()
    attr = _RulesetAttr(handled_access_fs=_fs_all(abi))
    size = 8
    if abi >= 4:
        attr.handled_access_net, size = NET_CONNECT_TCP, 16
    if abi >= 6:
        attr.scoped, size = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL, 24
    ruleset = _syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size),
                       ctypes.c_uint32(0))
    try:
        file_bits = FS_EXECUTE | FS_READ_FILE | FS_WRITE_FILE | (1 << 14 if abi >= 3 else 0)
        for paths, access in ((read, FS_READ), (write, _fs_all(abi))):
            for path in paths:
                _allow(ruleset, path, access)
        for path in extra_read_files:
            _allow(ruleset, path, FS_READ_FILE | (file_bits & FS_WRITE_FILE
                                                  if path == "/dev/null" else 0))
        _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        _syscall(_SYS_RESTRICT_SELF, ruleset, ctypes.c_uint32(0))
    finally:
        os.close(ruleset)


def _allow(ruleset, path, access):
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return                       # absent on this machine: nothing to allow
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            access &= FS_EXECUTE | FS_READ_FILE | FS_WRITE_FILE | (1 << 14) | (1 << 15)
        rule = _PathBeneath(allowed_access=access, parent_fd=fd)
        _syscall(_SYS_ADD_RULE, ruleset, ctypes.c_int(_RULE_PATH_BENEATH), ctypes.byref(rule),
                 ctypes.c_uint32(0))
    finally:
        os.close(fd)


# ---------------------------------------------------------------- seccomp
_DENIED_SYSCALLS = (
    "socket", "bind", "connect", "listen",                       # no network, no unix paths
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "move_mount",
    "open_tree", "fsopen", "fsmount", "fsconfig", "fspick", "mount_setattr",
    "io_uring_setup", "io_uring_enter", "io_uring_register",     # would bypass this filter
    "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "reboot", "swapon", "swapoff", "acct", "quotactl", "iopl", "ioperm",
    "open_by_handle_at", "name_to_handle_at",
)
_CLONE_NAMESPACES = 0x7E020000   # NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
AF_UNIX, SOCK_TYPE_MASK, SOCK_STREAM = 1, 0xF, 1


def deny_escapes():
    """seccomp on every thread of this process (the kernel's ports are bound by now)."""
    import pyseccomp as sc

    f = sc.SyscallFilter(sc.ALLOW)
    deny = sc.ERRNO(errno.EPERM)
    for name in _DENIED_SYSCALLS:
        try:
            f.add_rule(deny, name)
        except (RuntimeError, OSError, ValueError):
            pass                     # not a system call on this architecture
    # asyncio's self-pipe is a unix stream socketpair; nothing else a kernel needs
    f.add_rule(deny, "socketpair", sc.Arg(0, sc.NE, AF_UNIX))
    f.add_rule(deny, "socketpair", sc.Arg(1, sc.MASKED_EQ, SOCK_TYPE_MASK, 2))   # DGRAM
    f.add_rule(deny, "socketpair", sc.Arg(1, sc.MASKED_EQ, SOCK_TYPE_MASK, 5))   # SEQPACKET
    for bit in (b for b in range(32) if _CLONE_NAMESPACES >> b & 1):
        bit = 1 << bit
        f.add_rule(deny, "clone", sc.Arg(0, sc.MASKED_EQ, bit, bit))
    # clone3 passes its flags in memory seccomp cannot read: ENOSYS makes libc use clone
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    f.set_attr(sc.Attr.CTL_TSYNC, 1)
    f.load()


# ---------------------------------------------------------------- identity and limits
def kernel_uid(launcher_pid, n):
    """A user id no other kernel of this run shares (root only): 10**9 + pid*256 + n."""
    return 1_000_000_000 + launcher_pid * 256 + n % 256


def become(uid):
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def set_limits(memory_mb, nproc):
    limit = memory_mb * 2 ** 20
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    resource.setrlimit(resource.RLIMIT_FSIZE, (512 * 2 ** 20, 512 * 2 ** 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))


def close_other_fds(keep):
    """Release every descriptor but 0, 1, 2 and ``keep`` (the launcher's socket included).

    Each is replaced by /dev/null rather than closed: objects inherited from the launcher
    (a font file matplotlib opened) close "their" number when collected, and must not
    close a descriptor the kernel has opened since under the same number."""
    keep = {0, 1, 2, *keep}
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep and fd != null:
            try:
                os.dup2(null, fd, inheritable=False)
            except OSError:
                pass            # the listing's own descriptor, already gone
    os.close(null)


def become_subreaper():
    """Orphans of our children come back to us, so none escapes the clean-up."""
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def die_with_parent():
    _libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)


# ---------------------------------------------------------------- root: reach the Python
CLONE_NEWNS = 0x00020000
MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 4096, 8192, 16384, 1 << 18


def _mount(source, target, fstype, flags, data=None):
    args = [None if v is None else str(v).encode() for v in (source, target, fstype)]
    if _libc.mount(args[0], args[1], args[2], ctypes.c_ulong(flags),
                   None if data is None else data.encode()) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def expose(paths, staging):
    """Root only, in a private mount namespace: a folder that another user id cannot enter
    (``/root`` above a pyenv Python) is covered by an empty tmpfs and ``paths`` are bound
    back, so a kernel with its own user id can still import from the Python installation."""
    paths = [Path(p) for p in paths]
    cover = set()
    for path in paths:
        for parent in reversed(path.parents):
            if parent != Path("/") and not os.stat(parent).st_mode & stat.S_IXOTH:
                cover.add(parent)
                break
    cover = {c for c in cover if not any(o in c.parents for o in cover)}
    if not cover:
        return
    if _libc.unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    staged = []
    for i, path in enumerate(paths):
        if any(c == path or c in path.parents for c in cover):
            point = Path(staging) / f"expose-{i}"
            _mount_point(point, path.is_dir())
            _mount(path, point, None, MS_BIND | MS_REC)
            staged.append((point, path))
    for path in sorted(cover, key=lambda p: len(p.parts)):
        _mount("tmpfs", path, "tmpfs", 0, "size=64k,mode=755")
    for point, path in staged:
        _mount_point(path, point.is_dir())
        _mount(point, path, None, MS_MOVE)


def _mount_point(path, folder):
    """A bind mount needs a target of the same kind: a folder for a folder, a file for a
    file (an LMS zip given as --submissions is a file)."""
    if folder:
        path.mkdir(parents=True, exist_ok=True)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)


# ---------------------------------------------------------------- what a kernel may read
SYSTEM_READ = ("/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/bin", "/bin",
               "/usr/share/zoneinfo", "/sys/devices/system/cpu")
SYSTEM_READ_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/passwd", "/etc/group",
                     "/etc/nsswitch.conf", "/etc/mime.types", "/proc/cpuinfo", "/proc/meminfo",
                     "/proc/stat", "/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")


def python_paths():
    """The Python installation: prefixes (resolved through symlinks) and package folders."""
    import site
    import sysconfig

    found = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(sys.executable)}
    found.update(sysconfig.get_paths().values())
    found.update(site.getsitepackages())
    found.update(os.path.realpath(p) for p in list(found))
    found.add(os.path.dirname(os.path.realpath(sys.executable)))
    return sorted(p for p in found if p and os.path.isdir(p))


# Variables a kernel inherits from the grader; everything else (tokens, PGPASSWORD, proxy
# settings, the instructor's paths) stays out of the kernel.
ENV_ALLOWED = ("LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_NUMERIC", "TZ",
               "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def kernel_env(environ=None):
    environ = os.environ if environ is None else environ
    env = {k: environ[k] for k in ENV_ALLOWED if k in environ}
    env.update({
        "PATH": os.path.dirname(sys.executable) + ":/usr/bin:/bin",
        "GRU_AUTOGRADING": "1",       # notebooks shrink their heavy experiments
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1", "PYTHONNOUSERSITE": "1",
    })
    return env


def private_env(workdir):
    """The variables that point a kernel at its own folder."""
    workdir = str(workdir)
    return {"HOME": workdir, "TMPDIR": workdir + "/tmp", "MPLCONFIGDIR": workdir + "/.mpl",
            "IPYTHONDIR": workdir + "/.ipython", "JUPYTER_RUNTIME_DIR": workdir + "/.runtime",
            "XDG_CACHE_HOME": workdir + "/.cache"}
