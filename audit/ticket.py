"""How a producer waits for the writer's answer about one queued event.

A ``Ticket`` is a bare lock, taken when the event is queued and released by the writer
once the outcome (the stored record, or the error) is set. That is the cheapest wake-up
CPython has: a ``concurrent.futures.Future`` builds a Condition per event and a waiter
lock per wait, and at thousands of events a second the single writer thread, which
resolves every one of them between two commits, spent more time there than on the
database round trip. asyncio producers still get a ``Future`` (``future=``), resolved
alongside; a Future whose waiter was cancelled is skipped, never an error in the writer.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future

from audit.chain import Record
from audit.stores.base import Pending


class Ticket:
    """One queued event and the slot its outcome is delivered to (exactly once)."""

    __slots__ = ("_done", "_future", "_outcome", "pending")

    def __init__(self, pending: Pending, future: Future[Record] | None = None) -> None:
        self.pending = pending
        self._outcome: Record | BaseException | None = None
        self._future = future
        self._done = threading.Lock()
        self._done.acquire()  # held until the outcome is known; any thread may release it

    def resolve(self, record: Record) -> None:
        """Deliver the stored record."""
        self._outcome = record
        if self._future is not None and self._future.set_running_or_notify_cancel():
            self._future.set_result(record)
        self._done.release()

    def fail(self, error: BaseException) -> None:
        """Deliver the error the producer must raise (it must not perform its action)."""
        self._outcome = error
        if self._future is not None and self._future.set_running_or_notify_cancel():
            self._future.set_exception(error)
        self._done.release()

    def wait(self, timeout: float) -> Record:
        """The stored record once the writer has answered.

        Raises:
            TimeoutError: no answer within ``timeout`` seconds.
            BaseException: the error the writer delivered.
        """
        if not self._done.acquire(timeout=timeout):
            raise TimeoutError
        self._done.release()  # answered for good: later waits return at once
        if isinstance(self._outcome, Record):
            return self._outcome
        raise self._outcome or RuntimeError("ticket released without an outcome")
