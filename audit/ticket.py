"""How a producer waits for the writer's answer about one queued event.

A ``Ticket`` is a bare lock, taken when the event is queued and released by the writer
once the outcome (the stored record, or the error) is set. That is the cheapest wake-up
CPython has: a ``concurrent.futures.Future`` builds a Condition per event and a waiter
lock per wait, and at thousands of events a second the single writer thread, which
resolves every one of them between two commits, spent more time there than on the
database round trip.

asyncio producers (the controller's only kind) get an ``asyncio.Future`` of their loop
instead. Waking a loop from another thread costs a write to its self-pipe, a system call
that also hands the GIL to another thread; one per event made the writer pay it dozens
of times per batch. ``notify`` wakes each loop once per batch and sets every result of
that loop there, in queue order; a future whose task was cancelled is skipped, never an
error in the writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterable

from audit.chain import Record
from audit.stores.base import Pending


class Ticket:
    """One queued event and the slot its outcome is delivered to (exactly once)."""

    __slots__ = ("_done", "_future", "_outcome", "pending")

    def __init__(self, pending: Pending, future: asyncio.Future[Record] | None = None) -> None:
        self.pending = pending
        self._outcome: Record | BaseException | None = None
        self._future = future
        self._done = threading.Lock()
        self._done.acquire()  # held until the outcome is known; any thread may release it

    @classmethod
    def for_loop(cls, pending: Pending) -> Ticket:
        """A ticket awaited by the running asyncio loop (call it on that loop's thread)."""
        return cls(pending, asyncio.get_running_loop().create_future())

    @property
    def future(self) -> asyncio.Future[Record]:
        """The asyncio future of a ``for_loop`` ticket."""
        if self._future is None:
            raise TypeError("this ticket is waited on by a thread, not a loop")
        return self._future

    def resolve(self, record: Record) -> None:
        """Deliver the stored record (asyncio waiters: once ``notify`` runs)."""
        self._outcome = record
        self._done.release()

    def fail(self, error: BaseException) -> None:
        """Deliver the error the producer must raise (it must not perform its action)."""
        self._outcome = error
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


def notify(tickets: Iterable[Ticket]) -> None:
    """Hand the answered ``tickets``' outcomes to their asyncio loops, one wake-up per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Ticket]] = {}
    for ticket in tickets:
        if ticket._future is not None:
            by_loop.setdefault(ticket._future.get_loop(), []).append(ticket)
    for loop, waiting in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(_settle, waiting)


def _settle(tickets: list[Ticket]) -> None:
    """On the loop's thread: set each future, skipping those whose waiter gave up."""
    for ticket in tickets:
        future, outcome = ticket._future, ticket._outcome
        if future is None or future.done():  # cancelled
            continue
        if isinstance(outcome, Record):
            future.set_result(outcome)
        else:
            future.set_exception(outcome or RuntimeError("ticket released without an outcome"))
