"""The launcher: the one process of a grading worker that starts (and ends) kernels.

A worker starts one launcher (``grader/launch.py``). It imports what notebooks need
(IPython, ipykernel, numpy, matplotlib, torch), pays the costs those libraries defer to
first use, and then only forks: each child confines itself (``grader/confine.py``) and
becomes a fresh IPython kernel for exactly one notebook. No learner code ever runs here,
so no state passes between students; a fork saves the imports, not isolation.

It is also the only privileged part of a run started as root: it creates each kernel's
private folder, gives the kernel its own user id, and kills everything the kernel left
behind. Learner code never reaches it: every descriptor but the kernel's own pipes is
closed in the fork, and requests come only from the worker, over a unix socket pair
(one JSON datagram each way, descriptors passed beside it).

Run as ``python -I launcher.py SOCKET_FD RELEASE_DIR KIND``, KIND the JSON of
``{"confined": bool, "figures": bool}`` (isolated: nothing of the course is importable here;
the sibling modules are loaded by path). A launcher starts one kind of kernel: confined or
not, and drawing figures as inline PNGs (``autograde --figures``) or drawing nothing and
leaving a note where a figure would be (the default, ``grader/figure_notes.py``); the
warm-up pays only what that kind needs. Each spawn request carries the kernel's
``KernelLimits``.
"""
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

# What notebooks import, and what a kernel's start-up imports (found by diffing
# sys.modules around IPKernelApp.initialize).
PRELOAD = ("numpy", "matplotlib", "matplotlib.pyplot", "torch", "IPython",
           "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.debugger", "ipykernel.zmqshell",
           "matplotlib_inline.backend_inline", "sqlite3", "pdb", "pydoc", "http.server",
           "xmlrpc.server", "tornado.queues", "tornado.locks", "tornado.gen", "faulthandler",
           "IPython.core.history", "IPython.core.completer", "IPython.core.interactiveshell",
           "IPython.extensions.storemagic", "jedi", "IPython.core.completerlib",
           "IPython.core.debugger", "IPython.core.magic_arguments", "IPython.core.magics.ast_mod",
           "IPython.core.magics.execution", "IPython.core.oinspect", "IPython.utils.module_paths",
           "IPython.utils.wildcard", "tornado.platform.asyncio", "pyseccomp", "psutil")

# no input history (a SQLite file and a thread per kernel, for nobody to read)
KERNEL_ARGS = ["--IPKernelApp.log_level=ERROR", "--HistoryManager.enabled=False"]
# --figures: figures become inline PNG outputs, as Jupyter draws them, so feedback pages
# show the learner's plots; without it the kernel installs figure_notes after start-up
FIGURE_ARGS = ["--IPKernelApp.matplotlib=inline"]
MAX_MESSAGE = 1 << 16


@dataclass(frozen=True)
class KernelLimits:
    """What one kernel may use and how it runs, as one value: the worker makes it
    (``grader.session.Limits.kernel``) and sends it with the spawn request
    (``Launcher.spawn`` in ``grader/launch.py``, JSON of ``as_json``); the launcher rebuilds
    it (``from_json``, clamped) and hands that value to the fork that becomes the kernel."""
    memory_mb: int    # RLIMIT_DATA
    nproc: int        # RLIMIT_NPROC: processes of the kernel's user id
    confined: bool    # Landlock, seccomp and, as root, a user id of its own
    figures: bool     # figures drawn as inline PNGs; otherwise nothing is drawn

    def as_json(self):
        return asdict(self)

    @classmethod
    def from_json(cls, data):
        return cls(memory_mb=_clamp(data["memory_mb"], 64, 1 << 20),
                   nproc=_clamp(data["nproc"], 8, 4096),
                   confined=data["confined"] is True, figures=data["figures"] is True)


def warm_up(figures=True, notes=None):
    """Import what notebooks import, then pay the one-time costs that libraries defer to
    first use. Nothing here is learner code: every fork starts from the same state.
    ``figures``: warm up drawing (fonts, mathtext, the PNG writer); otherwise a figure is
    made with ``notes`` (the figure_notes module), which draws nothing.

    The benchmark's floor kernel runs this too, so the floor is as warm as our kernels."""
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except (ImportError, OSError):
            pass
    try:
        import io

        import matplotlib.pyplot as plt
        import torch
        from matplotlib.backends.registry import backend_registry

        from jupyter_client import localinterfaces

        # a kernel's connection info asks for this machine's addresses (psutil, slow the first time)
        localinterfaces.localhost()
        # torch.optim's first optimizer imports torch._dynamo and sympy (slow)
        torch.optim.Adam([torch.zeros(1, requires_grad=True)])
        if figures:
            # --IPKernelApp.matplotlib=inline is checked against every installed backend,
            # which scans all packages' entry points (per kernel); the registry keeps
            # the list
            backend_registry.list_all()
            # fonts, mathtext and the PNG writer load on the first figure drawn
            fig, ax = plt.subplots(figsize=(2, 2))
            ax.semilogy([1, 10], label=r"$\|x\|_F$")
            ax.legend()
            fig.tight_layout()
            fig.savefig(io.BytesIO(), format="png", bbox_inches="tight")
            plt.close(fig)
        elif notes is not None:
            # what a plotting cell imports on first use (axes, scales, legend, layout)
            fig = plt.Figure()
            notes.FigureCanvas(fig)
            ax = fig.subplots(1, 2)[0]
            ax.semilogy([1, 10], label=r"$\|x\|_F$")
            ax.legend()
            fig.tight_layout()
    except Exception:  # noqa: BLE001 (a warm-up that fails only costs speed)
        pass


def _load(filename, name):
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location(name, os.path.join(here, filename))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _clamp(value, low, high):
    return max(low, min(high, int(value)))


def remove_tree(top):
    """Remove a folder a kernel wrote, whatever it made of it. ``shutil.rmtree`` recurses
    once per level (a 3,000-level tree raised RecursionError and stayed on disk) and needs
    paths (deeper than PATH_MAX there): here the tree is flattened instead, one level per
    round, with two descriptors open at a time, and folders the kernel made unreadable are
    made readable again (it ran as this user, without root)."""
    try:
        top_fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return
    lifted = 0
    try:
        progress = True
        while progress:
            progress = False
            with os.scandir(top_fd) as entries:
                names = [(e.name, e.is_dir(follow_symlinks=False)) for e in entries]
            for name, is_dir in names:
                try:
                    if not is_dir:
                        os.unlink(name, dir_fd=top_fd)
                    else:
                        os.rmdir(name, dir_fd=top_fd)
                    progress = True
                    continue
                except OSError:
                    if not is_dir:
                        continue
                try:   # a folder with something in it: lift its entries to the top
                    os.chmod(name, 0o700, dir_fd=top_fd)
                    sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW,
                                  dir_fd=top_fd)
                except OSError:
                    continue
                try:
                    with os.scandir(sub) as inner:
                        children = [e.name for e in inner]
                    for child in children:
                        lifted += 1
                        os.rename(child, f".lift-{lifted}", src_dir_fd=sub, dst_dir_fd=top_fd)
                        progress = True
                except OSError:
                    pass
                finally:
                    os.close(sub)
    finally:
        os.close(top_fd)
    try:
        os.rmdir(top)
    except OSError:
        pass


def kill_uid(confine, uid):
    """kill(-1) as a kernel's own user id reaches exactly its processes, fork loops
    included, repeated until none of them is alive (at most 1000 times, 1 ms apart).

    kill(-1) itself cannot say when that is: it succeeds whenever any other process
    exists, its own or not (and zombies count), so the killer looks in /proc."""
    pid = os.fork()
    if pid == 0:
        try:
            confine.become(uid)
            me = os.getpid()
            for _ in range(1000):
                os.kill(-1, signal.SIGKILL)
                if not _alive_of(uid, me):
                    break
                time.sleep(0.001)
        except (ProcessLookupError, PermissionError):
            pass
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


class Killer:
    """A small root process that runs ``kill_uid`` on request, forked before the launcher
    imports anything: forking it is cheap, where each fork of the warm launcher (a gigabyte
    mapped) costs CPU and the notebook's time (benchmarks/README.md has the numbers)."""

    def __init__(self, confine):
        req_r, self.req_w = os.pipe()
        self.rep_r, rep_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            try:
                confine.die_with_parent()
                confine.close_other_fds([req_r, rep_w])
                while len(data := os.read(req_r, 4)) == 4:
                    kill_uid(confine, int.from_bytes(data, "little"))
                    os.write(rep_w, b"k")
            finally:
                os._exit(0)
        os.close(req_r)
        os.close(rep_w)

    def kill(self, uid):
        os.write(self.req_w, uid.to_bytes(4, "little"))
        return os.read(self.rep_r, 1) == b"k"

    def close(self):
        os.close(self.req_w)
        os.close(self.rep_r)
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


class Launcher:
    """Serves one worker: forks kernels of one kind (``confined``, ``figures``), each with
    the limits its request carries, and ends them. ``env``: the environment the launcher
    was started with, which ``confine.kernel_env`` filters for each kernel."""

    def __init__(self, sock, release_root, env, confined=True, figures=False, notes=None,
                 confine=None, killer=None):
        self.sock, self.release_root = sock, Path(release_root).resolve()
        self.env = env
        self.confined, self.figures, self.notes = confined, figures, notes
        self.confine = confine or _load("confine.py", "gru_confine")
        self.killer = killer
        self.helper = _load("kernel_helper.py", "gru_kernel_helper").__gru_grader__
        self.root = os.geteuid() == 0
        self.base = Path(tempfile.mkdtemp(prefix="gru-kernels-"))
        os.chmod(self.base, 0o711)     # kernels (other user ids) enter only their own folder
        self.python = self.confine.python_paths()
        self.kernels = {}               # pid -> (uid, workdir)
        self.count = 0

    # -- requests
    def serve(self):
        self.confine.become_subreaper()
        self.confine.die_with_parent()
        try:
            while True:
                try:
                    data, fds, _, _ = socket.recv_fds(self.sock, MAX_MESSAGE, 4)
                except OSError:
                    break
                if not data:
                    break                 # the worker is gone
                try:
                    request = json.loads(data)
                    reply, out_fds = self.handle(request, fds)
                except Exception as exc:  # noqa: BLE001 (a refused request is an answer)
                    reply, out_fds = {"error": f"{type(exc).__name__}: {exc}"}, []
                finally:
                    for fd in fds:
                        os.close(fd)
                socket.send_fds(self.sock, [json.dumps(reply).encode()], out_fds)
                for fd in out_fds:
                    os.close(fd)
                self._reap_zombies()
        finally:
            for pid in list(self.kernels):
                self.end(pid)
            if self.killer is not None:
                self.killer.close()
            remove_tree(self.base)

    def handle(self, request, fds):
        if request.get("op") == "spawn":
            if len(fds) != 2:
                raise ValueError("spawn needs the kernel's two pipe ends")
            return self.spawn(request, *fds)
        if request.get("op") == "end":
            self.end(int(request["pid"]))
            return {"ok": True}, []
        raise ValueError("unknown request")

    def spawn(self, request, req_r, rep_w):
        assignment = str(request["assignment"])
        support = self.release_root / assignment
        if "/" in assignment or assignment.startswith(".") or not support.is_dir():
            raise ValueError(f"no released assignment {assignment!r}")
        limits = KernelLimits.from_json(request["limits"])
        if (limits.confined, limits.figures) != (self.confined, self.figures):
            raise ValueError(f"this launcher starts kernels with confined={self.confined}, "
                             f"figures={self.figures}")
        for pid in list(self.kernels):   # one kernel at a time: the last one ends first,
            self.end(pid)                  # whatever the worker did or did not ask
        self.count += 1
        workdir = Path(tempfile.mkdtemp(prefix="k", dir=self.base))
        for item in support.iterdir():
            if item.is_file() and not item.is_symlink() and item.suffix != ".ipynb":
                shutil.copy(item, workdir / item.name)
        (workdir / "tmp").mkdir()
        connection = workdir / ".connection.json"
        connection.write_text(json.dumps(request["connection"]))
        uid = (self.confine.kernel_uid(os.getpid(), self.count)
               if self.root and limits.confined else None)
        if uid is not None:
            for path in (workdir, *workdir.iterdir()):
                os.chown(path, uid, uid)
        os.chmod(workdir, 0o700)
        pid = os.fork()
        if pid == 0:
            self._become_kernel(workdir, connection, uid, limits, req_r, rep_w)
        self.kernels[pid] = (uid, workdir)
        pidfd = os.pidfd_open(pid)
        return {"pid": pid, "uid": uid}, [pidfd]

    def end(self, pid):
        """Kill the kernel and everything it started; remove its folder."""
        uid, workdir = self.kernels.pop(pid, (None, None))
        if workdir is None:
            return
        if uid is not None:
            self._kill_uid(uid)
        self._kill_descendants()
        remove_tree(workdir)

    # -- clean-up
    def _kill_uid(self, uid):
        """Every process of the kernel's own user id (``kill_uid``), by the killer when
        there is one."""
        if self.killer is not None:
            try:
                if self.killer.kill(uid):
                    return
            except OSError:
                pass
            self.killer = None     # gone: fork from here instead
        kill_uid(self.confine, uid)

    def _kill_descendants(self):
        """As a subreaper we are the parent of every orphan a kernel left: kill them all
        (one kernel at a time per launcher, so every descendant is the last kernel's)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            kids = [k for k in self._children() if self.killer is None or k != self.killer.pid]
            if not kids:
                return
            for kid in kids:
                try:
                    os.kill(kid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            for kid in kids:
                for grandkid in self._children(kid):
                    try:
                        os.kill(grandkid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            time.sleep(0.002)
            self._reap_zombies()

    @staticmethod
    def _children(pid=None):
        pid = pid or os.getpid()
        found = []
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            return found
        for tid in tasks:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    found += [int(c) for c in f.read().split()]
            except OSError:
                pass
        return found

    @staticmethod
    def _reap_zombies():
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return

    # -- the child
    def _become_kernel(self, workdir, connection, uid, limits, req_r, rep_w):
        """This fork becomes the kernel: ``limits`` is the request's ``KernelLimits``."""
        confine = self.confine
        try:
            os.setsid()
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):   # learner code must not write into the grader's terminal
                os.dup2(null, fd)
            confine.close_other_fds([req_r, rep_w])
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.environ.clear()
            os.environ.update(confine.kernel_env(self.env))
            os.environ.update(confine.private_env(workdir))
            nproc = limits.nproc
            if uid is not None:
                confine.expose(self.python, self.base / f".mounts-{os.getpid()}")
                confine.become(uid)
            else:    # RLIMIT_NPROC counts every process of the user id, the grader's too
                nproc += _processes_of(os.getuid())
            confine.set_limits(limits.memory_mb, nproc)
            confine.die_with_parent()
            os.chdir(workdir)
            # in this fork only, as in any kernel: the notebook's folder imports first
            sys.path.insert(0, "")
            if limits.confined:
                confine.restrict_filesystem(
                    read=[*self.python, *confine.SYSTEM_READ, f"/proc/{os.getpid()}"],
                    write=[str(workdir)], extra_read_files=confine.SYSTEM_READ_FILES)
            from ipykernel.kernelapp import IPKernelApp

            app = IPKernelApp.instance()
            app.initialize(["-f", str(connection), *KERNEL_ARGS,
                            *(FIGURE_ARGS if limits.figures else []),
                            f"--IPKernelApp.parent_handle={os.getppid()}"])
            if not limits.figures:
                self.notes.install(app.shell)
            # the debugger's socket connects to the kernel's own shell port: no debugger here,
            # and a connection that ZeroMQ retries after seccomp denies it aborts the kernel
            app.debug_shell_socket.close(linger=0)
            app.kernel.debug_shell_socket = None
            # the checks' helper thread, outside the learner's namespace (see kernel_helper)
            self.helper.serve(req_r, rep_w)
            if limits.confined:
                confine.deny_escapes()   # every thread, now that the ports are bound
            app.start()
        finally:
            os._exit(0)


def _alive_of(uid, me):
    """Whether a process of this user id other than ``me`` is alive (not yet a zombie)."""
    real = b"\nUid:\t%d\t" % uid
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            fd = os.open(f"/proc/{name}/status", os.O_RDONLY)
        except OSError:
            continue
        try:
            status = os.read(fd, 4096)
        except OSError:
            continue
        finally:
            os.close(fd)
        if real in status and b"\nState:\tZ" not in status and b"\nState:\tX" not in status:
            return True
    return False


def _processes_of(uid):
    count = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                count += os.stat(f"/proc/{name}").st_uid == uid
            except OSError:
                pass
    return count


def main():
    sock = socket.socket(fileno=int(sys.argv[1]))
    confine = _load("confine.py", "gru_confine")
    kind = json.loads(sys.argv[3])
    confined, figures = kind["confined"] is True, kind["figures"] is True
    # each kernel its own user id (as root): killed through a small process, forked now
    killer = Killer(confine) if confined and os.geteuid() == 0 else None
    notes = None
    if not figures:
        notes = _load("figure_notes.py", "gru_figure_notes")
        sys.modules[notes.NAME] = notes    # matplotlib.use("module://gru_figure_notes")
    warm_up(figures, notes)
    launcher = Launcher(sock, sys.argv[2], dict(os.environ), confined=confined,
                        figures=figures, notes=notes, confine=confine, killer=killer)
    launcher.serve()


if __name__ == "__main__":
    main()
