"""Keeping this replica's leases, and taking over the sessions of replicas that died.

Every ``renew_seconds``: renew all of this replica's leases in one statement and stop
acting at once on any it lost; say it is alive (with the URL other replicas forward to);
then take over sessions whose lease expired (their replica died or was cut off), at most
a fair share per round, in random order, so the work spreads across the live replicas.

Beside that loop a guard lets go of each session the moment this replica may no longer
trust its lease (``Tenures``: the last renewal sent, plus the lease, less a margin). It
waits on no database: when the database hangs rather than fails (a partition that drops
packets), the renewal round can stall for as long as the network does, and a replica
that relied on that round would still be attached when another replica takes over.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from typing import Protocol

from runner.sessions.tenures import Tenures

log = logging.getLogger(__name__)


class Adopter(Protocol):
    """What failover asks of the session manager."""

    async def take_over(self, session_id: str) -> bool: ...

    async def relinquish(self, session_id: str) -> None: ...


class Failover:
    """The renewal and takeover loop of one replica."""

    def __init__(
        self, tenures: Tenures, adopter: Adopter, *, url: str, renew_seconds: float
    ) -> None:
        self._tenures = tenures
        self._adopter = adopter
        self._url = url
        self._every = renew_seconds
        self._letting_go: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Renewal rounds and the guard, until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._rounds(), name="lease-rounds")
            group.create_task(self.guard(), name="lease-guard")

    async def guard(self) -> None:
        """Let go of every session at its trust deadline, whatever the database does."""
        while True:
            deadline = self._tenures.next_deadline()
            wait = self._every if deadline is None else deadline - time.monotonic()
            # A lease claimed meanwhile is trusted for far longer than one renewal interval.
            await asyncio.sleep(min(self._every, max(0.0, wait)))
            for session_id in self._tenures.overdue():
                # Its own task: detaching may wait on the same unreachable database, and
                # must not hold back the next session's deadline.
                task = asyncio.create_task(self._adopter.relinquish(session_id))
                self._letting_go.add(task)
                task.add_done_callback(self._letting_go.discard)

    async def _rounds(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # the next round tries again; a lost lease was let go above
                log.exception("lease round failed")
            await asyncio.sleep(self._every)

    async def tick(self) -> list[str]:
        """One round; returns the sessions taken over."""
        for session_id in await self._tenures.renew(within=self._every):
            await self._adopter.relinquish(session_id)
        leases = self._tenures.leases
        await asyncio.to_thread(leases.heartbeat, self._tenures.replica, self._url)
        expired = await asyncio.to_thread(leases.expired)
        if not expired:
            return []
        alive = max(1, len(await asyncio.to_thread(leases.replicas)))
        share = math.ceil(len(expired) / alive)
        candidates = [lease.session_id for lease in expired]
        random.shuffle(candidates)
        taken: list[str] = []
        for session_id in candidates:
            if len(taken) >= share:
                break
            if await self._adopter.take_over(session_id):
                log.info("took over session %s", session_id)
                taken.append(session_id)
        return taken

    async def hand_over(self) -> None:
        """A graceful shutdown: expire this replica's leases now and leave the list."""
        released = await self._tenures.hand_over()
        await asyncio.to_thread(self._tenures.leases.forget, self._tenures.replica)
        if released:
            log.info("handed %d session(s) over to the other replicas", released)
