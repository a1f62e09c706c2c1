"""Worker side of kernel launching: the launcher process, and the jupyter_client pieces
(provisioner, process handle, manager, client) that start kernels through it.

Each kernel gets two fresh pipes for the checks' calls: the worker keeps one end of each
and hands the other ends to the launcher with the request (SCM_RIGHTS), which passes them
to the forked kernel. A pidfd comes back, so the worker follows exactly that process (no
pid that could be reused) without being able to signal it.
"""
import asyncio
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from queue import Empty

import zmq
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner

from . import confine, course
from .channel import Channel
from .launcher import KernelLimits

LAUNCHER = Path(__file__).with_name("launcher.py")


class LauncherDied(RuntimeError):
    pass


class Launcher:
    """A launcher process (``grader/launcher.py``) of this worker, for one kind of kernel:
    confined or not, drawing figures or not. ``Launcher.get`` keeps one of each kind."""

    def __init__(self, confined=True, figures=False):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock, self.confined, self.figures = ours, confined, figures
        kind = json.dumps({"confined": confined, "figures": figures})
        self.proc = subprocess.Popen(
            [sys.executable, "-I", str(LAUNCHER), str(theirs.fileno()), str(course.RELEASE),
             kind],
            pass_fds=[theirs.fileno()], env=confine.kernel_env(), cwd=tempfile.gettempdir(),
            stdin=subprocess.DEVNULL)
        theirs.close()

    @staticmethod
    def get(confined=True, figures=False):
        """This process's launcher for kernels of that kind (``figures``: they draw inline
        PNGs, ``autograde --figures``; otherwise nothing is drawn), started on first use
        and again if it died."""
        key = (confined, figures)
        old = _launchers.get(key)
        if old is None or old.proc.poll() is not None:
            _launchers[key] = Launcher(confined, figures)
        return _launchers[key]

    def ask(self, request, fds=(), timeout=120):
        self.sock.settimeout(timeout)   # the first answer waits for torch to import
        try:
            socket.send_fds(self.sock, [json.dumps(request).encode()], list(fds))
            data, got, _, _ = socket.recv_fds(self.sock, 1 << 16, 2)
        except OSError as exc:
            raise LauncherDied(f"the kernel launcher failed ({exc})") from None
        if not data:
            raise LauncherDied("the kernel launcher died")
        reply = json.loads(data)
        if "error" in reply:
            for fd in got:
                os.close(fd)
            raise RuntimeError(f"the kernel launcher refused: {reply['error']}")
        return reply, got

    def spawn(self, assignment, connection, limits, pipe_ends):
        """Fork a kernel for ``assignment`` under ``limits`` (a ``KernelLimits`` of this
        launcher's kind); its pid and a pidfd."""
        reply, fds = self.ask({"op": "spawn", "assignment": assignment, "connection": connection,
                               "limits": limits.as_json()}, pipe_ends)
        return reply["pid"], fds[0]

    def end(self, pid):
        self.ask({"op": "end", "pid": pid}, timeout=30)


# this process's launchers, one a kind: (confined, figures) -> Launcher
_launchers = {}


def close_launchers():
    """Stop this process's launchers (closing its socket ends a launcher and its kernels)
    and wait for them, so that nothing is left running (``python -m grader check``)."""
    for launcher in list(_launchers.values()):
        launcher.sock.close()
        try:
            launcher.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            launcher.proc.kill()
            launcher.proc.wait()
    _launchers.clear()


class KernelProcess:
    """Popen-like handle on a forked kernel: watched through its pidfd, ended by the
    launcher (which also kills whatever the kernel started)."""

    stdin = stdout = stderr = None

    def __init__(self, pid, pidfd, launcher):
        self.pid, self.pidfd, self.launcher = pid, pidfd, launcher
        self.ended = False

    def poll(self):
        if self.pidfd is None:
            return 0
        ready, _, _ = select.select([self.pidfd], [], [], 0)
        return 0 if ready else None

    def wait(self, timeout=None):
        if self.pidfd is not None:
            select.select([self.pidfd], [], [], timeout)
        return self.poll()

    def end(self):
        if not self.ended:
            self.ended = True
            try:
                self.launcher.end(self.pid)
            except (LauncherDied, RuntimeError):
                pass
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None

    def send_signal(self, signum):
        self.end()   # the only signal the grader sends a kernel is the last one

    kill = terminate = end


class ForkProvisioner(LocalProvisioner):
    """Launches by asking the launcher to fork, instead of starting a new interpreter."""

    async def launch_kernel(self, cmd, **kwargs):
        km = self.parent
        launcher = Launcher.get(km.limits.confined, km.limits.figures)
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        info = km.get_connection_info()
        info["key"] = info["key"].decode()
        try:
            pid, pidfd = launcher.spawn(km.assignment, info, km.limits, [req_r, rep_w])
        except BaseException:
            for fd in (req_w, rep_r):
                os.close(fd)
            raise
        finally:
            os.close(req_r)
            os.close(rep_w)
        km.channel = Channel(req_w, rep_r)
        self.process = KernelProcess(pid, pidfd, launcher)
        # no pgid: jupyter_client would killpg it and stop there (as an ordinary user that
        # succeeds), and the launcher's end (the kernel's descendants, its folder) never ran
        self.pid, self.pgid = pid, None
        self.cwd = kwargs.get("cwd")
        return self.connection_info

    async def kill(self, restart=False):
        if self.process is not None:
            self.process.end()

    terminate = kill

    async def send_signal(self, signum):
        await self.kill()

    async def wait(self):
        # LocalProvisioner polls every 100 ms; a killed fork is gone within a few
        while self.process is not None and self.process.poll() is None:
            await asyncio.sleep(0.005)
        if self.process is not None:   # it may have died by itself: its leftovers go too
            self.process.end()
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
                raise KernelStartFailed("the kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise KernelStartFailed(f"the kernel did not start within {timeout} seconds")
        while True:
            try:
                await self.iopub_channel.get_msg(timeout=0.01)
            except Empty:
                break

    wait_for_ready = _async_wait_for_ready

    def _create_connected_socket(self, channel, identity=None):
        # the client connects before the new kernel has bound its ports; ZeroMQ then
        # retries every 100 ms by default, a large share of a kernel's start-up
        self.context.setsockopt(zmq.RECONNECT_IVL, 5)
        return super()._create_connected_socket(channel, identity)


class KernelStartFailed(RuntimeError):
    """Before any learner code ran: the grader's fault, never the learner's."""


class ConfinedKernelManager(AsyncKernelManager):
    """Starts a kernel for ``assignment``, forked and confined by the launcher under
    ``limits`` (``KernelLimits``); ``channel`` is then the checks' pipe pair to it."""

    client_class = "grader.launch.QuickClient"
    client_factory = QuickClient

    def __init__(self, *, assignment, limits, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(limits, KernelLimits):
            raise TypeError(f"limits must be KernelLimits, not {type(limits).__name__}")
        self.assignment, self.limits = assignment, limits
        self.channel = None

    async def _async_wait(self, pollinterval=0.005):
        # after a kill, jupyter_client polls every 100 ms by default
        return await super()._async_wait(pollinterval=pollinterval)

    async def _async_pre_start_kernel(self, **kw):
        if self.provisioner is None:
            self.kernel_id = self.kernel_id or str(uuid.uuid4())
            self.provisioner = ForkProvisioner(kernel_id=self.kernel_id,
                                               kernel_spec=self.kernel_spec, parent=self)
        return await super()._async_pre_start_kernel(**kw)
