"""Batches sent down a store's pipeline and not answered yet, and when to send the next.

While the oldest batch commits, the writer waits on the database socket and on a
``Doorbell`` at once. The next batch is due once it holds as many events as the last one
sent (or ``max_batch``): sent as soon as anything is queued, every batch but the first
would hold one event, and each pays a commit of its own. ``depth`` bounds how many are
in flight; answers come oldest first, in the order the batches were sent and chained.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from audit.batch import Batch
from audit.chain import Record
from audit.doorbell import Doorbell
from audit.stores.base import Pipeline


class InFlight:
    """The writer's side of a ``Pipeline``: what was sent, oldest first."""

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        depth: int,
        max_batch: int,
        transient: tuple[type[BaseException], ...],
    ) -> None:
        self._pipeline = pipeline
        self._depth = depth
        self._max_batch = max_batch
        self._transient = transient
        self._doorbell = Doorbell()
        self._sent: deque[Batch] = deque()

    def __len__(self) -> int:
        return len(self._sent)

    def queued(self, count: int) -> None:
        """A producer queued an event, ``count`` are queued now (any thread)."""
        self._doorbell.queued(count)

    def send(self, batch: Batch) -> None:
        """Send ``batch`` behind those in flight (raises the driver's errors)."""
        self._pipeline.send(batch.pendings)
        self._sent.append(batch)

    def wait(self, queued: Callable[[], int]) -> bool:
        """Until the oldest is answered (True), or the next batch is due (False)."""
        if len(self._sent) >= self._depth:
            return self._pipeline.wait(None)
        due = min(len(self._sent[-1].tickets), self._max_batch)
        self._doorbell.arm(due)
        try:
            if queued() >= due:  # it filled before the bell was armed
                return False
            return self._pipeline.wait(self._doorbell.fileno())
        finally:
            self._doorbell.disarm()

    def take(self) -> tuple[Batch, list[Record] | Exception]:
        """The oldest batch with its records, or with the error that batch alone failed with.

        Raises:
            The store's transient errors: the connection went, and with it every batch
            in flight (``drop`` them and place them again).
        """
        batch = self._sent[0]
        try:
            records = self._pipeline.receive()
        except self._transient:
            raise
        except Exception as exc:  # that statement failed and was rolled back, alone
            self._sent.popleft()
            return batch, exc
        self._sent.popleft()
        return batch, records

    def drop(self) -> list[Batch]:
        """Forget the connection and return the batches that were in flight, in order."""
        self._pipeline.reset()
        batches = list(self._sent)
        self._sent.clear()
        return batches

    def close(self) -> None:
        self._pipeline.close()
        self._doorbell.close()
