"""The warm pool: pre-started sandboxes, keyed by policy and image, each for one session.

A pooled sandbox is made like a session's (the policy's container profile, the judged
image, a fresh session id, a state directory with an empty workspace) and Claude Code
is started in it, but no gateway serves it yet: it cannot reach the model or the hook
endpoint, so it can do nothing until a session claims it. A claim removes it from the
pool before anything else happens (so two sessions can never get the same one), the
session's workspace is copied in and its gateway started; a replacement is started in
the background. A sandbox that waited longer than ``max_age`` is removed and replaced,
and none is ever returned to the pool: a sandbox serves exactly one session.

Whether a session may come from the pool is its policy's decision (``container.pool``);
the manager also takes one only for a request the pooled sandbox was made for (copy
workspace, no extra environment, the default permission mode and model).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from runner.sessions.launcher import Launcher, PooledSandbox
from runner.sessions.live import Observed
from runner.sessions.runtime import SessionPaths

log = logging.getLogger(__name__)

#: How often the pool looks for sandboxes past their age and slots to refill.
_TICK_SECONDS = 5.0
#: How long Claude Code may take to show its input box in a new pooled sandbox.
_READY_SECONDS = 120.0


@dataclass(frozen=True)
class PoolKey:
    """Which sandboxes can serve a session: its policy and the image id it was judged on."""

    policy: str
    image_id: str


#: Starts one sandbox for a key (the manager knows how to make a session's template).
Starter = Callable[[str], Awaitable[PooledSandbox]]


class WarmPool:
    """Keeps ``size`` ready sandboxes per key; hands each to one session only."""

    def __init__(
        self,
        *,
        launcher: Launcher,
        paths: Callable[[str], SessionPaths],
        size: int,
        max_age_seconds: float,
    ) -> None:
        self._launcher = launcher
        self._paths = paths
        self._size = size
        self._max_age = max_age_seconds
        self._ready: dict[PoolKey, list[PooledSandbox]] = {}
        self._starters: dict[PoolKey, Starter] = {}
        self._filling: dict[PoolKey, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self._closed = False

    def keep(self, key: PoolKey, starter: Starter) -> None:
        """Keep ``size`` sandboxes for ``key``, each started by ``starter(session_id)``."""
        self._starters[key] = starter
        self._ready.setdefault(key, [])
        self._filling.setdefault(key, 0)

    def start(self) -> None:
        """Fill every key, then keep the pool full and fresh in the background."""
        for key in self._starters:
            self._refill(key)
        self._ticker = asyncio.create_task(self._tick(), name="warm-pool")

    def available(self, key: PoolKey) -> int:
        """How many ready sandboxes ``key`` has now."""
        return len(self._ready.get(key, []))

    def claim(self, key: PoolKey) -> PooledSandbox | None:
        """Take a ready sandbox for ``key`` out of the pool (None: start cold).

        No await between finding and removing it: on one event loop, no other claim can
        run in between, so a sandbox is handed out once.
        """
        waiting = self._ready.get(key, [])
        for sandbox in waiting:
            if sandbox.is_ready and time.monotonic() - sandbox.started < self._max_age:
                waiting.remove(sandbox)
                self._refill(key)
                return sandbox
        return None

    def drop(self, sandbox: PooledSandbox) -> None:
        """Remove a claimed sandbox that will not be used (in the background)."""
        task = asyncio.create_task(self._discard(sandbox), name="warm-pool-drop")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Stop refilling and remove every sandbox no session took."""
        self._closed = True
        tasks = [*self._tasks, *([self._ticker] if self._ticker else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for key in list(self._ready):
            while self._ready[key]:
                await self._discard(self._ready[key].pop())

    def _refill(self, key: PoolKey) -> None:
        missing = self._size - len(self._ready[key]) - self._filling[key]
        for _ in range(max(missing, 0)):
            if self._closed:
                return
            self._filling[key] += 1
            task = asyncio.create_task(self._add(key), name=f"warm-pool-{key.policy}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _add(self, key: PoolKey) -> None:
        try:
            sandbox = await self._starters[key](str(uuid.uuid4()))
        except Exception as exc:
            self._filling[key] -= 1
            log.warning("warm pool (%s): a sandbox did not start: %s", key.policy, exc)
            await asyncio.sleep(_TICK_SECONDS)  # the next tick tries again
            return
        try:
            is_ready = await sandbox.live.wait_for(lambda _o, _p: sandbox.is_ready, _READY_SECONDS)
        except BaseException:
            self._filling[key] -= 1
            await self._discard(sandbox)
            raise
        self._filling[key] -= 1
        if self._closed or not is_ready:
            if not is_ready:
                log.warning("warm pool (%s): Claude Code never became ready", key.policy)
            await self._discard(sandbox)
            return
        self._ready[key].append(sandbox)
        log.info("warm pool (%s): sandbox %s ready", key.policy, sandbox.container_id[:12])

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(min(_TICK_SECONDS, self._max_age / 4))
            for key, waiting in list(self._ready.items()):
                now = time.monotonic()
                expired = [s for s in waiting if now - s.started >= self._max_age]
                for sandbox in expired:
                    waiting.remove(sandbox)  # out first: no claim can take it meanwhile
                    await self._discard(sandbox)
                self._refill(key)

    async def _discard(self, sandbox: PooledSandbox) -> None:
        try:
            await self._launcher.remove_pooled(sandbox, self._paths(sandbox.session_id))
        except Exception:
            log.exception("warm pool: could not remove sandbox %s", sandbox.container_id[:12])


async def ignore_state(_observed: Observed) -> None:
    """A pooled sandbox's state changes go nowhere until a session claims it."""
