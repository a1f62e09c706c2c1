"""The grader's end of the two pipes to a kernel's helper thread.

Frames are an 8-byte length and a body. The grader's ends are non-blocking: every write
and read waits at most until the notebook's deadline, a reply is bounded in size, and a
dead kernel is noticed while waiting. Nothing here touches the file system.
"""
import os
import select
import time

MAX_REPLY = 256 * 2 ** 20


class ChannelTimeout(Exception):
    pass


class ChannelClosed(Exception):
    pass


class ChannelError(Exception):
    """The kernel sent something that is not a frame we asked for."""


class Channel:
    def __init__(self, request_fd, reply_fd):
        self.request_fd, self.reply_fd = request_fd, reply_fd
        os.set_blocking(request_fd, False)
        os.set_blocking(reply_fd, False)

    def close(self):
        for fd in (self.request_fd, self.reply_fd):
            try:
                os.close(fd)
            except OSError:
                pass

    def drain(self, limit=MAX_REPLY):
        """Drop what the kernel wrote unasked (learner code can write to its end too)."""
        dropped = 0
        while dropped < limit:
            try:
                chunk = os.read(self.reply_fd, 1 << 16)
            except BlockingIOError:
                return
            if not chunk:
                return
            dropped += len(chunk)

    def send(self, body, deadline, alive):
        view = memoryview(len(body).to_bytes(8, "big") + body)
        while view:
            self._wait(deadline, alive, write=True)
            try:
                view = view[os.write(self.request_fd, view):]
            except BlockingIOError:
                continue
            except BrokenPipeError:
                raise ChannelClosed("the kernel closed its end") from None

    def receive(self, deadline, alive, limit=MAX_REPLY):
        size = int.from_bytes(self._read(8, deadline, alive), "big")
        if size > limit:
            raise ChannelError(f"the kernel sent {size} bytes, over the {limit} limit")
        return self._read(size, deadline, alive)

    def _read(self, n, deadline, alive):
        parts, got = [], 0
        while got < n:
            self._wait(deadline, alive, write=False)
            try:
                chunk = os.read(self.reply_fd, min(n - got, 1 << 20))
            except BlockingIOError:
                continue
            if not chunk:
                raise ChannelClosed("the kernel closed its end")
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)

    def _wait(self, deadline, alive, write):
        fd = self.request_fd if write else self.reply_fd
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChannelTimeout("time limit reached")
            ready = select.select([], [fd], [], min(left, 0.25)) if write else \
                select.select([fd], [], [], min(left, 0.25))
            if ready[0] or ready[1]:
                return
            if not alive():
                raise ChannelClosed("the kernel died")
