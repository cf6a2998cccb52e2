"""An in-process event bus: every recorded event fans out to live subscribers (SSE, webhooks).

The bus is only the fast path. Every event it carries was first appended to the audit
ledger, which gave it its ``seq``; a subscriber that falls behind (its queue is full)
is told so and catches up from the ledger instead of slowing the publisher.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Event:
    type: str
    session: str | None
    actor: str
    tenant: str
    data: Mapping[str, Any]
    at: datetime
    #: The ledger's sequence number (None only when no ledger records events).
    seq: int | None = None


class Listener:
    """One subscriber's bounded queue; ``lost`` turns true when an event did not fit."""

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue(size)
        self.lost = False
        self._waker = asyncio.Event()

    def offer(self, event: Event) -> None:
        """Queue the event (waking the listener is the bus's business: ``wake``)."""
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            # Never block or grow: the subscriber re-reads what it missed from the ledger.
            self.lost = True

    def wake(self) -> None:
        self._waker.set()

    def take(self) -> list[Event]:
        """Everything queued now (possibly nothing), oldest first."""
        taken: list[Event] = []
        while not self.queue.empty():
            taken.append(self.queue.get_nowait())
        self._waker.clear()
        return taken

    async def wait(self, seconds: float) -> None:
        """Until something was offered, or ``seconds`` passed."""
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
        # arrives as the event is set, and the task would then never stop.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._waker.wait()


class EventBus:
    """Fan-out to subscribers; a slow subscriber loses events, never blocks others."""

    def __init__(self, queue_size: int = 1000) -> None:
        self._queues: set[asyncio.Queue[Event]] = set()
        self._listeners: set[Listener] = set()
        self._queue_size = queue_size
        self._to_wake: deque[Listener] = deque()
        self._waking = False
        self._observers: list[Callable[[Event], None]] = []

    def observe(self, observer: Callable[[Event], None]) -> None:
        """Call ``observer`` with every event as it is published (metrics, spans).

        Synchronous and in ledger order, before any subscriber sees the event; an
        observer must be quick and must not raise (``TelemetryObserver`` logs instead).
        """
        self._observers.append(observer)

    def publish(self, event: Event) -> None:
        for observer in self._observers:
            observer(event)
        for queue in list(self._queues):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(event)
        for listener in list(self._listeners):
            listener.offer(event)
            self._to_wake.append(listener)
        self._trickle()

    def _trickle(self) -> None:
        """Wake the listeners one per event-loop turn, not all at once.

        A hundred SSE clients woken together would run back to back while a session's
        next screen chunk waits behind them; woken one per turn, the loop looks at
        other work (the terminal pump) between any two of them.
        """
        if self._waking:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            while self._to_wake:
                self._to_wake.popleft().wake()
            return
        self._waking = True
        loop.call_soon(self._wake_next, loop)

    def _wake_next(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._to_wake:
            self._to_wake.popleft().wake()
        if self._to_wake:
            loop.call_soon(self._wake_next, loop)
        else:
            self._waking = False

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Event]]:
        """A queue that drops its oldest event when full (for observers that may lose some)."""
        queue: asyncio.Queue[Event] = asyncio.Queue(self._queue_size)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)

    @contextlib.contextmanager
    def listen(self, size: int | None = None) -> Iterator[Listener]:
        """A bounded listener that reports loss instead of hiding it (SSE, outbox)."""
        listener = Listener(size or self._queue_size)
        self._listeners.add(listener)
        try:
            yield listener
        finally:
            self._listeners.discard(listener)
