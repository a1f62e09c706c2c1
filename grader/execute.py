"""Run a learner's notebook in a fresh kernel, under one time budget for the whole notebook.

nbclient does the Jupyter messaging; this module adds the budget, output caps and the
calls the checks make into the kernel (``call``/``lookup``, see ``kernel_helper``).
"""
import asyncio
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import nbformat
import zmq
from queue import Empty

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from . import course, protocol, sandbox
from .protocol import GradingStopped, LearnerError

HELPER_SOURCE = (Path(__file__).with_name("kernel_helper.py")).read_text()
MAX_CELL_OUTPUT = 200_000      # characters of text kept per cell, for the graded notebook


class CappedClient(NotebookClient):
    """nbclient that keeps at most MAX_CELL_OUTPUT characters of a cell's outputs.

    The kernel buffers prints between flushes, so one message can carry hundreds of MB:
    the cap applies to what is stored, message by message.
    """

    def output(self, outs, msg, display_id, cell_index):
        if outs and outs[-1].get("name") == "truncated":
            return None
        out = super().output(outs, msg, display_id, cell_index)
        size = sum(len(str(o.get("text", ""))) + len(str(o.get("data", ""))) for o in outs)
        if size > MAX_CELL_OUTPUT:
            last = outs[-1]
            if "text" in last:
                last["text"] = last["text"][:max(0, len(last["text"]) - (size - MAX_CELL_OUTPUT))]
            else:
                outs.pop()
            marker = nbformat.v4.new_output("stream", name="stdout",
                                            text="\n[output truncated by the grader]\n")
            marker["name"] = "truncated"
            outs.append(marker)
        return out


class Zygote:
    """This worker's pre-imported kernel process (see ``grader.zygote``); one per process."""

    _instance = None

    def __init__(self):
        env = kernel_env()
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("zygote.py"))],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                     cwd=tempfile.gettempdir(), text=True, bufsize=1)

    @classmethod
    def get(cls):
        if cls._instance is None or cls._instance.proc.poll() is not None:
            cls._instance = cls()
        return cls._instance

    @classmethod
    def pid(cls):
        return cls._instance.proc.pid if cls._instance is not None else None

    def spawn(self, request):
        self.proc.stdin.write(json.dumps(request) + "\n")
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the zygote process died")
        return int(line)


class ForkedProcess:
    """Popen-like handle on a kernel forked by the zygote (not our child: poll by pid)."""

    stdin = stdout = stderr = None

    def __init__(self, pid):
        self.pid = pid

    def poll(self):
        import psutil

        try:
            alive = psutil.Process(self.pid).status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            alive = False
        return None if alive else 0

    def wait(self, timeout=None):
        deadline = time.monotonic() + (timeout if timeout is not None else 1e9)
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.poll()

    def send_signal(self, signum):
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            pass

    def kill(self):
        self.send_signal(signal.SIGKILL)

    def terminate(self):
        self.send_signal(signal.SIGTERM)


class ForkProvisioner(LocalProvisioner):
    """Launches by asking the zygote to fork instead of starting a new interpreter."""

    async def launch_kernel(self, cmd, **kwargs):
        km = self.parent
        zygote = Zygote.get()
        # ipykernel exits when this parent goes away: no orphan kernels if we are killed
        env = dict(kwargs.get("env") or {}, JPY_PARENT_PID=str(zygote.proc.pid))
        self.process = ForkedProcess(zygote.spawn({
            "sandbox_args": km.sandbox_args, "env": env, "kernel_args": KERNEL_ARGS,
            "connection_file": km.connection_file, "helper_fifos": km.helper_fifos}))
        self.pid = self.pgid = self.process.pid
        self.cwd = kwargs.get("cwd")
        return self.connection_info

    async def wait(self):
        # LocalProvisioner polls every 100 ms; a killed fork is gone within a few
        while self.process is not None and self.process.poll() is None:
            await asyncio.sleep(0.005)
        self.process = None
        return 0


class QuickClient(AsyncKernelClient):
    """jupyter_client's client, but it does not idle 0.2 s flushing IOPub after start-up
    (nbclient matches every message to its request anyway)."""

    async def _async_wait_for_ready(self, timeout=None):
        deadline = time.monotonic() + (timeout or 60)
        while True:
            self.kernel_info()
            try:
                msg = await self.shell_channel.get_msg(timeout=0.5)
            except Empty:
                msg = None
            if msg is not None and msg["msg_type"] == "kernel_info_reply":
                try:   # the request's IOPub status proves IOPub is connected
                    await self.iopub_channel.get_msg(timeout=0.5)
                except Empty:
                    continue
                self._handle_kernel_info_reply(msg)
                break
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")
        while True:
            try:
                await self.iopub_channel.get_msg(timeout=0.01)
            except Empty:
                break

    wait_for_ready = _async_wait_for_ready

    def _create_connected_socket(self, channel, identity=None):
        # the client connects before the new kernel has bound its ports; ZeroMQ then
        # retries every 100 ms by default, which was half of a kernel's start-up
        self.context.setsockopt(zmq.RECONNECT_IVL, 5)
        return super()._create_connected_socket(channel, identity)


class SandboxedKernelManager(AsyncKernelManager):
    """Starts the kernel confined (``grader.sandbox``): forked from the zygote when
    ``warm`` is set, else as a new process through the sandbox launcher."""

    sandbox_args: list = []
    warm: bool = True
    helper_fifos: list = []    # a forked kernel serves the checks from its first moment
    client_class = "grader.execute.QuickClient"
    client_factory = QuickClient

    async def _async_wait(self, pollinterval=0.005):
        # after a kill, jupyter_client polls every 100 ms by default
        return await super()._async_wait(pollinterval=pollinterval)

    async def _async_pre_start_kernel(self, **kw):
        if self.warm and self.provisioner is None:
            self.kernel_id = self.kernel_id or str(uuid.uuid4())
            self.provisioner = ForkProvisioner(kernel_id=self.kernel_id,
                                               kernel_spec=self.kernel_spec, parent=self)
        return await super()._async_pre_start_kernel(**kw)

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        # run as a script: the kernel starts in its own folder, where grader is not importable
        return [sys.executable, sandbox.__file__, *self.sandbox_args, "--", *cmd]


class Limits:
    """Per-notebook limits, and what the kernel must not see."""

    def __init__(self, timeout=60.0, memory_mb=2048, nproc=128, hide=(), warm=True):
        self.timeout, self.memory_mb, self.nproc = float(timeout), int(memory_mb), int(nproc)
        self.warm = warm
        self.hide = [str(Path(p).resolve()) for p in (course.ROOT, *hide)]


# figures become inline PNG outputs, so feedback pages show the learner's plots; no
# input history (a SQLite file and a thread per kernel, for nobody to read)
KERNEL_ARGS = ["--IPKernelApp.log_level=ERROR", "--IPKernelApp.matplotlib=inline",
               "--HistoryManager.enabled=False"]


def kernel_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONPATH", "JPY_"))}
    env.update({
        "GRU_AUTOGRADING": "1",       # notebooks shrink their heavy experiments
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    })
    return env


class KernelSession:
    """One learner notebook in one fresh kernel. Use as a context manager."""

    def __init__(self, support_dir, limits):
        self.limits = limits if isinstance(limits, Limits) else Limits(timeout=limits)
        self.timeout = self.limits.timeout
        self.deadline = None
        self.workdir = Path(tempfile.mkdtemp(prefix="gru-grade-"))
        self.uid = 100000 + os.getpid() if sandbox.can_confine() else None
        if support_dir is not None:
            for item in Path(support_dir).iterdir():
                if item.is_file() and item.suffix != ".ipynb":
                    shutil.copy(item, self.workdir / item.name)
        self.exchange = self.workdir / ".grader"
        self.exchange.mkdir()
        if self.uid is not None:
            for path in (self.workdir, self.exchange, *self.workdir.iterdir()):
                os.chown(path, self.uid, self.uid)
        self.nb = nbformat.v4.new_notebook()
        self.nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                          "language": "python"}
        self.client = CappedClient(self.nb, timeout=self.timeout, kernel_name="python3",
                                   allow_errors=True, interrupt_on_timeout=False,
                                   record_timing=False, iopub_timeout=5,
                                   shutdown_kernel="immediate",
                                   timeout_func=lambda cell: max(self.remaining(), 0.05),
                                   extra_arguments=KERNEL_ARGS,
                                   kernel_manager_class=SandboxedKernelManager)
        self.client.km = self.client.create_kernel_manager()
        args = ["--workdir", str(self.workdir), "--memory-mb", str(self.limits.memory_mb),
                "--nproc", str(self.limits.nproc)]
        if self.uid is not None:
            args += ["--uid", str(self.uid)]
            args += [a for p in self.limits.hide for a in ("--hide", p)]
            args += [a for p in {sys.prefix, sys.base_prefix} for a in ("--expose", p)]
        self.client.km.sandbox_args = args
        self.client.km.warm = self.limits.warm
        self.handles = {}
        self.helper_loaded = False
        self.n_calls = 0
        if self.limits.warm:
            self.client.km.helper_fifos = self._make_fifos()

    def __enter__(self):
        self.deadline = time.monotonic() + self.timeout
        env = kernel_env()
        env.update({"HOME": str(self.workdir), "MPLCONFIGDIR": str(self.workdir / ".mpl"),
                    "IPYTHONDIR": str(self.workdir / ".ipython"),
                    "JUPYTER_RUNTIME_DIR": str(self.workdir / ".runtime")})
        self._ctx = self.client.setup_kernel(cwd=str(self.workdir), env=env)
        try:
            self._ctx.__enter__()
            if self.limits.warm:
                self._open_fifos(*self.client.km.helper_fifos)
        except BaseException:
            self._kill_kernel_group()
            shutil.rmtree(self.workdir, ignore_errors=True)
            raise
        return self

    def __exit__(self, *exc):
        for fd in (getattr(self, "req_fd", None), getattr(self, "rep_fd", None)):
            if fd is not None:
                os.close(fd)
        try:
            self._ctx.__exit__(None, None, None)
        except Exception:  # noqa: BLE001 (a dead kernel may fail to shut down cleanly)
            pass
        finally:
            self._kill_kernel_group()
            shutil.rmtree(self.workdir, ignore_errors=True)
        return False

    def _kill_kernel_group(self):
        """The kernel and everything it started: its user id's processes, our descendants."""
        km = self.client.km
        try:
            if km is not None and km.has_kernel:
                km.shutdown_kernel(now=True)
        except Exception:  # noqa: BLE001
            pass
        kill_strays(self.uid)

    def remaining(self):
        return self.deadline - time.monotonic()

    def run_cell(self, cell):
        """Execute one code cell (in place: outputs land on ``cell``)."""
        left = self.remaining()
        if left <= 0:
            raise GradingStopped("timeout", f"time limit of {self.timeout:g} s reached")
        self.nb.cells.append(cell)
        try:
            self.client.execute_cell(cell, len(self.nb.cells) - 1)
        except CellTimeoutError:
            raise GradingStopped("timeout", f"time limit of {self.timeout:g} s reached") from None
        except DeadKernelError:
            raise GradingStopped("kernel_died", "the kernel died (the code exited or crashed)") from None
        return cell

    def _make_fifos(self):
        req, rep = self.exchange / "requests", self.exchange / "replies"
        for fifo in (req, rep):
            os.mkfifo(fifo, 0o600)
            if self.uid is not None:
                os.chown(fifo, self.uid, self.uid)
        return [str(req), str(rep)]

    def _open_fifos(self, req, rep):
        # O_RDWR never blocks on a FIFO, whether or not the kernel opened its end yet
        self.req_fd = os.open(req, os.O_RDWR)
        self.rep_fd = os.open(rep, os.O_RDWR | os.O_NONBLOCK)
        self.helper_loaded = True

    def _start_helper(self):
        """A kernel not forked by the zygote: send the helper in as a cell, then connect."""
        req, rep = self._make_fifos()
        self.run_cell(nbformat.v4.new_code_cell(
            HELPER_SOURCE + f"\n__gru_grader__.serve({req!r}, {rep!r})"))
        self._open_fifos(req, rep)

    def _request(self, request):
        if not self.helper_loaded:
            self._start_helper()
        os.write(self.req_fd, (json.dumps(request) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            left = self.remaining()
            if left <= 0:
                raise GradingStopped("timeout", f"time limit of {self.timeout:g} s reached")
            ready, _, _ = select.select([self.rep_fd], [], [], min(left, 0.25))
            if ready:
                try:
                    buf += os.read(self.rep_fd, 64)
                except BlockingIOError:
                    pass
            elif not self._kernel_alive():
                raise GradingStopped("kernel_died", "the kernel died (the code exited or crashed)")

    def _kernel_alive(self):
        process = getattr(self.client.km.provisioner, "process", None)
        return process is not None and process.poll() is None

    def _exchange_paths(self):
        self.n_calls += 1
        return self.exchange / f"in-{self.n_calls}.pkl", self.exchange / f"out-{self.n_calls}.json"

    def _read(self, out_path):
        if not out_path.exists():
            raise LearnerError("the notebook", "GradingError",
                               "the grader could not call into the kernel (no reply)")
        try:
            return protocol.read_payload(out_path)
        except (ValueError, protocol.ProtocolError) as exc:
            raise LearnerError("the notebook", "GradingError", f"unreadable reply: {exc}") from None

    def lookup(self, names):
        """Map each learner name the kernel defines to a proxy (functions) or its value."""
        _, out_path = self._exchange_paths()
        self._request({"op": "lookup", "names": list(names), "out": str(out_path)})
        found = self._read(out_path)
        bound = {}
        for name, info in found.items():
            if name not in names:
                continue
            if info.get("kind") == "callable":
                bound[name] = LearnerFunction(self, name)
            else:
                bound[name] = protocol.decode(info["value"], self.handles)
        return bound

    def call(self, name, args, kwargs):
        in_path, out_path = self._exchange_paths()
        protocol.dump_args(in_path, args, kwargs, self.handles)
        if self.uid is not None:
            os.chown(in_path, self.uid, self.uid)
        self._request({"op": "call", "name": name, "in": str(in_path), "out": str(out_path)})
        payload = self._read(out_path)
        protocol.reemit_warnings(payload.get("warnings", []))
        if "error" in payload:
            err = payload["error"]
            raise LearnerError(name, err.get("ename", "Error"), err.get("evalue", ""),
                               err.get("traceback", ""))
        after = protocol.decode(payload["args_after"])
        where = protocol.changed_input([list(args), kwargs], after, "")
        if where:
            label = _argument_label(name, where)
            raise protocol.ArgumentsModified(
                f"{name} changed its input {label} in place; a function must leave its inputs "
                "unmodified (build new arrays instead of using +=, or copy first)")
        return protocol.decode(payload["result"], self.handles)


def _argument_label(name, where):
    """'[0][2]["W_Fz"]' (args list, position 2, key) -> 'argument 3["W_Fz"]'."""
    import re

    m = re.match(r"\[(\d)\]\[(\d+|'[^']*')\](.*)", where)
    if not m:
        return "(an argument)"
    kind, pos, rest = m.groups()
    head = f"argument {int(pos) + 1}" if kind == "0" else f"keyword {pos.strip(chr(39))}"
    return head + rest


class LearnerFunction:
    """Stands for a function defined in the learner's kernel; calling it calls it there."""

    def __init__(self, session, name):
        self._session, self.__name__ = session, name

    def __call__(self, *args, **kwargs):
        return self._session.call(self.__name__, args, kwargs)

    def __repr__(self):
        return f"<learner function {self.__name__}>"



def kill_strays(uid=None):
    """Kill what learner code left running: every process of the kernel's own user id and,
    as we are a subreaper, every descendant of this process (orphans included)."""
    import psutil

    keep = Zygote.pid()
    for _ in range(3):
        victims = [p for p in psutil.Process().children(recursive=True) if p.pid != keep]
        if uid is not None:
            victims += [p for p in psutil.process_iter(["uids"])
                        if p.info["uids"] and p.info["uids"].real == uid]
        if not victims:
            return
        for proc in victims:
            try:
                proc.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(victims, timeout=2)
