"""One learner notebook in one fresh, confined kernel, under one time budget.

nbclient does the Jupyter messaging; this module adds the budget, output caps and the
calls the checks make into the kernel (``lookup``/``call``, over the kernel's own pipes,
see ``grader/channel.py`` and ``grader/kernel_helper.py``).
"""
import json
import time
from dataclasses import dataclass, field

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from . import defaults, protocol
from .channel import ChannelClosed, ChannelError, ChannelTimeout
from .launch import ConfinedKernelManager, KernelStartFailed
from .launcher import KernelLimits
from .protocol import GradingStopped, LearnerError

MAX_CELL_OUTPUT = 200_000      # characters of text kept per cell, for the graded notebook
# where a kernel that draws nothing would have shown a figure (grader/figure_notes.py), the
# graded notebook gets this note; whatever the kernel sent with it is dropped
FIGURE_MIME = "application/vnd.gru.figure+json"
FIGURE_NOTE = {
    "text/plain": "[figure not drawn while grading: figures are drawn when you run the notebook]",
    "text/html": ("<blockquote class='gru-note gru-figure-note'><em>Figure not drawn "
                  "while grading: figures are drawn when you run the notebook.</em>"
                  "</blockquote>"),
}
# a code cell after the notebook's last test, which grading without figures does not run
NOT_RUN_NOTE = {
    "text/plain": ("[not run while grading: no test comes after this cell, so it cannot change "
                   "the score; it runs, with its figures, when you run the notebook]"),
    "text/html": ("<blockquote class='gru-note gru-not-run-note'><em>Not run while "
                  "grading: no test comes after this cell, so it cannot change the score. It "
                  "runs, with its figures, when you run the notebook.</em></blockquote>"),
}


@dataclass(frozen=True)
class Limits:
    """Per-notebook limits. The time budget is kept here (``KernelSession``); what the
    kernel itself is held to travels to it as one value, ``kernel``."""
    timeout: float = defaults.TIMEOUT_S
    memory_mb: int = defaults.MEMORY_MB
    nproc: int = 128
    confined: bool = field(default=True)
    figures: bool = False   # draw figures (inline PNGs); otherwise a note where each would be
    reveal_quiz: bool = False   # feedback shows why each quiz choice is wrong (released keys)

    @property
    def kernel(self):
        """The ``KernelLimits`` the launcher forks the kernel under."""
        return KernelLimits(memory_mb=self.memory_mb, nproc=self.nproc, confined=self.confined,
                            figures=self.figures)


class CappedClient(NotebookClient):
    """nbclient that keeps at most MAX_CELL_OUTPUT characters of a cell's outputs, and puts
    the grader's note where a kernel that draws nothing would have shown a figure.

    The kernel buffers prints between flushes, so one message can carry hundreds of MB:
    the cap applies to what is stored, message by message.
    """

    def process_message(self, msg, cell, cell_index):
        content = msg.get("content")
        if isinstance(content, dict) and isinstance(content.get("data"), dict) \
                and FIGURE_MIME in content["data"]:   # the grader's note, not the kernel's data
            msg = {**msg, "content": {**content, "data": dict(FIGURE_NOTE), "metadata": {}}}
        return super().process_message(msg, cell, cell_index)

    _update_budget = 5 * MAX_CELL_OUTPUT

    def _update_display_id(self, display_id, msg):
        # an update rewrites earlier outputs in place, past ``output`` and its cap: its size
        # times the outputs it rewrites comes out of one budget per notebook
        content = msg.get("content") if isinstance(msg.get("content"), dict) else {}
        copies = sum(len(v) for v in self._display_id_map.get(display_id, {}).values())
        cost = len(str(content.get("data", ""))) * max(copies, 1)
        self._update_budget -= cost
        if self._update_budget < 0:
            msg = {**msg, "content": {**content, "metadata": {}, "data": {
                "text/plain": "[display update dropped by the grader: output limit]"}}}
        super()._update_display_id(display_id, msg)

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


def _timeout(limits):
    return GradingStopped("timeout", f"time limit of {limits.timeout:g} s reached")


def _died():
    return GradingStopped("kernel_died", "the kernel died (the code exited or crashed)")


class KernelSession:
    """One learner notebook in one fresh kernel. Use as a context manager."""

    def __init__(self, assignment, limits):
        self.limits = limits
        self.deadline = None
        self.nb = nbformat.v4.new_notebook()
        self.nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                          "language": "python"}
        self.client = CappedClient(self.nb, timeout=limits.timeout, kernel_name="python3",
                                   allow_errors=True, interrupt_on_timeout=False,
                                   record_timing=False, iopub_timeout=5,
                                   shutdown_kernel="immediate",
                                   timeout_func=lambda cell: max(self.remaining(), 0.05))
        # made here rather than by nbclient, which would make it without the assignment and
        # the limits; set after the client is made, so the client still owns (and ends) it
        self.km = self.client.km = ConfinedKernelManager(
            assignment=assignment, limits=limits.kernel, kernel_name="python3",
            config=self.client.config)
        self.handles = {}
        self.seq = 0
        self.learner_started = False   # True once a learner cell was sent to the kernel

    def __enter__(self):
        self.deadline = time.monotonic() + 3600   # start-up: not the learner's time
        self._ctx = self.client.setup_kernel()
        try:
            self._ctx.__enter__()
        except BaseException:
            self._end()
            raise
        # the budget starts once the kernel is ready: a launcher still importing torch
        # for its first kernel must not eat the first student's time
        self.deadline = time.monotonic() + self.limits.timeout
        return self

    def __exit__(self, *exc):
        try:
            self._ctx.__exit__(None, None, None)
        except Exception:  # noqa: BLE001 (a dead kernel may fail to shut down cleanly)
            pass
        finally:
            self._end()
        return False

    def _end(self):
        km = self.km
        if km.channel is not None:
            km.channel.close()
        process = getattr(km.provisioner, "process", None)
        if process is not None:
            process.end()

    def remaining(self):
        return self.deadline - time.monotonic()

    def run_cell(self, cell):
        """Execute one code cell (in place: outputs land on ``cell``)."""
        if self.remaining() <= 0:
            raise _timeout(self.limits)
        if not self.learner_started and not self._alive():
            raise KernelStartFailed("the kernel died before the learner's first cell ran")
        self.nb.cells.append(cell)
        self.learner_started = True
        try:
            self.client.execute_cell(cell, len(self.nb.cells) - 1)
        except CellTimeoutError:
            raise _timeout(self.limits) from None
        except DeadKernelError:
            raise _died() from None
        return cell

    def _alive(self):
        process = getattr(self.km.provisioner, "process", None)
        return process is not None and process.poll() is None

    def _request(self, request, name):
        """One call into the kernel's helper; the reply is hostile data."""
        channel = self.km.channel
        self.seq += 1
        request["seq"] = self.seq
        deadline = self.deadline
        try:
            channel.drain()
            channel.send(protocol.dump_request(request, self.handles), deadline, self._alive)
            raw = channel.receive(deadline, self._alive)
        except ChannelTimeout:
            raise _timeout(self.limits) from None
        except ChannelClosed:
            if not self._alive():
                raise _died() from None
            raise LearnerError(name, "GradingError",
                               "the grader could not call into the kernel: code in the notebook "
                               "closed the channel it uses") from None
        except ChannelError as exc:
            raise LearnerError(name, "GradingError", f"unreadable reply: {exc}") from None
        try:
            reply = json.loads(raw)
        except (ValueError, RecursionError):   # hostile JSON, nested 100,000 deep included
            reply = None
        if not isinstance(reply, dict) or reply.get("seq") != self.seq \
                or not isinstance(reply.get("reply"), dict):
            raise LearnerError(name, "GradingError", "unreadable reply from the kernel")
        return reply["reply"]

    def lookup(self, names):
        """Map each learner name the kernel defines to a proxy (functions) or its value."""
        found = self._request({"op": "lookup", "names": list(names)}, "the notebook")
        bound = {}
        for name in names:   # only names the grader asked for, looked up on our side
            info = found.get(name)
            if not isinstance(info, dict):
                continue
            try:
                if info.get("kind") == "callable":
                    bound[name] = LearnerFunction(self, name)
                else:
                    bound[name] = protocol.decode(info["value"], self.handles)
            except Exception:  # noqa: BLE001 (what the kernel sent is the learner's doing)
                continue
        return bound

    def call(self, name, args, kwargs):
        payload = self._request({"op": "call", "name": name, "args": (args, kwargs)}, name)
        warned = payload.get("warnings")
        # first and outside the try: a test that turns warnings into errors sees them raised
        protocol.reemit_warnings(warned if isinstance(warned, list) else [])
        try:
            if "error" in payload:
                err = payload["error"]
                raise LearnerError(name, str(err.get("ename", "Error"))[:200],
                                   str(err.get("evalue", ""))[:2000],
                                   str(err.get("traceback", ""))[:6000])
            after = protocol.decode(payload["args_after"])
            result = protocol.decode(payload["result"], self.handles)
        except LearnerError:
            raise
        except Exception as exc:  # noqa: BLE001 (what the kernel sent is the learner's doing)
            raise LearnerError(name, "GradingError",
                               f"unreadable reply: {type(exc).__name__}") from None
        try:
            changed = protocol.changed_input(args, kwargs, after)
        except Exception:  # noqa: BLE001 (inputs sent back in a shape no input had)
            changed = protocol.ChangedInput(0)
        if changed is not None:
            raise protocol.ArgumentsModified(
                f"{name} changed its input {changed} in place; a "
                "function must leave its inputs unmodified (build new arrays instead of "
                "using +=, or copy first)")
        return result


class LearnerFunction:
    """Stands for a function defined in the learner's kernel; calling it calls it there."""

    def __init__(self, session, name):
        self._session, self.__name__ = session, name

    def __call__(self, *args, **kwargs):
        return self._session.call(self.__name__, args, kwargs)

    def __repr__(self):
        return f"<learner function {self.__name__}>"


__all__ = ["KernelSession", "Limits", "LearnerFunction", "KernelStartFailed", "MAX_CELL_OUTPUT",
           "FIGURE_MIME", "FIGURE_NOTE", "NOT_RUN_NOTE"]
