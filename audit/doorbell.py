"""How producers tell a writer that waits on the database that the next batch is queued.

While a batch commits, the writer thread waits on the database socket. With pipelined
appends it can send the next batch behind it, but only if it learns that one is ready
before the commit ends. A ``Doorbell`` is a non-blocking self-pipe the writer waits on
beside the socket: it arms the bell with a count, and the producer whose event brings the
queue to that count rings it, once (one system call per batch, not per event).
"""

from __future__ import annotations

import contextlib
import os


class Doorbell:
    """A self-pipe rung when the queue reaches the count it was armed with."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self._at = 0  # 0: not armed

    def fileno(self) -> int:
        """The end to wait on (readable once rung)."""
        return self._read

    def arm(self, count: int) -> None:
        """Ring when ``count`` (at least 1) events are queued."""
        self._at = max(count, 1)

    def disarm(self) -> None:
        """Stop ringing and swallow any ring not yet heard."""
        self._at = 0
        with contextlib.suppress(BlockingIOError):
            while os.read(self._read, 512):
                pass

    def queued(self, count: int) -> None:
        """A producer queued an event; ``count`` are queued now. Rings if that is enough."""
        at = self._at
        if at and count >= at:
            self._at = 0  # two producers may both ring: the writer swallows the second
            # A full pipe is full of rings: it is rung already.
            with contextlib.suppress(BlockingIOError):
                os.write(self._write, b"!")

    def close(self) -> None:
        for fd in (self._read, self._write):
            os.close(fd)
