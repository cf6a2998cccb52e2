"""The lease-renewal round stops when it is cancelled, whatever moment the cancel lands."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from runner.sessions.ownership import Lease
from runner.sessions.tenures import Tenures
from runner.store.database import create_database_engine, migrate
from runner.store.leases import SqlLeaseStore


class _CancelOnReturn(SqlLeaseStore):
    """The real store, whose renewal schedules the renewing task's cancel as it returns.

    The cancel is queued from the worker thread to run ``delay`` loop iterations later,
    while the renewal's answer travels from the thread to the renewing task: the moments
    a controller shutdown (``Services.close``) can hit a renewal that has just answered.
    """

    task: asyncio.Task[object]
    loop: asyncio.AbstractEventLoop
    delay: int | None = None  # once: the renewals after it leave the task alone

    def renew(self, replica: str, session_ids: Sequence[str] | None = None) -> list[Lease]:
        delay, self.delay = self.delay, None
        renewed = super().renew(replica, session_ids)
        if delay is not None:
            self.loop.call_soon_threadsafe(self._later, delay)
        return renewed

    def _later(self, iterations: int) -> None:
        if iterations == 0:
            self.task.cancel()
        else:
            self.loop.call_soon(self._later, iterations - 1)


def test_a_cancel_that_lands_as_the_renewal_answers_is_not_lost(tmp_path: Path) -> None:
    """Python 3.11's ``wait_for`` returned the result and dropped such a cancel: the lease
    loop then slept on, and the controller's shutdown waited for it for ever."""
    engine = create_database_engine(f"sqlite:///{tmp_path / 'leases.db'}")
    migrate(engine)
    leases = _CancelOnReturn(engine, duration=30)
    tenures = Tenures(leases, "replica-a", duration=30)

    stop = asyncio.Event()

    async def renew_for_ever() -> None:
        while not stop.is_set():
            await tenures.renew(within=5)
            await asyncio.sleep(0.01)

    async def swallowed() -> list[int]:
        leases.loop = asyncio.get_running_loop()
        assert await tenures.claim("session-1") is not None  # a round renews only what is held
        lost = []
        for delay in range(8):
            leases.delay = delay
            leases.task = asyncio.create_task(renew_for_ever())
            done, _ = await asyncio.wait({leases.task}, timeout=2)
            if not done:  # still renewing: note the delay, let the loop end by itself
                lost.append(delay)
                stop.set()
                await asyncio.wait({leases.task})
                stop.clear()
        return lost

    try:
        assert asyncio.run(swallowed()) == [], "cancels swallowed at these loop delays"
    finally:
        engine.dispose()
