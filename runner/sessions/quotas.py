"""Session quotas: how many may run (in all, per tenant, per user), how fast a tenant may
start them, and whether the host has the memory for one more.

Checked by ``SessionManager.create`` under its create lock, after a reusable session was
looked for (reusing starts nothing) and before anything is made, so a batch over a limit
starts exactly the allowed number. Over a limit: ``RateLimitedError`` (429) naming it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runner.core import FINAL_STATES, Actor, SessionState
from runner.errors import RateLimitedError
from runner.sessions.model import SessionStore

#: Bytes the host could still give (None: not known here, e.g. sessions run elsewhere).
AvailableMemory = Callable[[], int | None]

#: A running session's end cannot be predicted; clients are told to look again after this.
_RUNNING_RETRY_SECONDS = 30.0
#: What holds a place: every state but the final ones and ``queued`` (waiting for one).
_LIVE_STATES = [s for s in SessionState if s not in FINAL_STATES | {SessionState.QUEUED}]


@dataclass(frozen=True)
class QuotaLimits:
    """0 means no limit."""

    sessions: int = 0
    per_tenant: int = 0
    per_user: int = 0
    starts_per_minute: int = 0
    memory_reserve_bytes: int = 0


def host_available_memory(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """The kernel's estimate of memory available to new work (``MemAvailable``)."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class Quotas:
    """Admits or refuses one more session (see the module docstring)."""

    def __init__(
        self,
        limits: QuotaLimits,
        store: SessionStore,
        *,
        available_memory: AvailableMemory | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits
        self._store = store
        self._available = available_memory
        self._clock = clock
        self._starts: dict[str, deque[float]] = {}

    def admit(self, actor: Actor) -> None:
        """Refuse a start over the running or per-minute quotas (blocking: reads the store).

        Raises:
            RateLimitedError: ``limit`` names the quota (429 with Retry-After).
        """
        self._check_rate(actor)
        live = self._store.find(states=_LIVE_STATES)
        tenant = [r for r in live if r.tenant == actor.tenant]
        mine = [r for r in tenant if r.owner == actor.subject]
        for name, limit, count, whose in (
            ("sessions", self.limits.sessions, len(live), "on this server"),
            ("sessions_per_tenant", self.limits.per_tenant, len(tenant), f"in {actor.tenant}"),
            ("sessions_per_user", self.limits.per_user, len(mine), f"of {actor.subject}"),
        ):
            if limit and count >= limit:
                raise RateLimitedError(
                    f"{count} sessions are running {whose}, the most allowed ({limit});"
                    " delete a finished one or wait for one to end",
                    limit=name,
                    retry_after=_RUNNING_RETRY_SECONDS,
                    details={"max": limit, "running": count},
                )

    def _check_rate(self, actor: Actor) -> None:
        limit = self.limits.starts_per_minute
        if not limit:
            return
        now = self._clock()
        starts = self._starts.setdefault(actor.tenant, deque())
        while starts and now - starts[0] >= 60:
            starts.popleft()
        if len(starts) >= limit:
            raise RateLimitedError(
                f"{actor.tenant} started {limit} sessions in the last minute, the most allowed",
                limit="session_starts_per_minute",
                retry_after=60 - (now - starts[0]),
                details={"max": limit},
            )

    def started(self, actor: Actor) -> None:
        """Count a start against the tenant's per-minute quota."""
        if self.limits.starts_per_minute:
            self._starts.setdefault(actor.tenant, deque()).append(self._clock())

    def admit_memory(self, memory_bytes: int) -> None:
        """Refuse a session whose memory limit would eat into the host's reserve.

        Raises:
            RateLimitedError: limit ``host_memory`` (429: memory frees as sessions end).
        """
        reserve = self.limits.memory_reserve_bytes
        available = self._available() if self._available and reserve else None
        if available is None:
            return
        if available - memory_bytes < reserve:
            mib = 1024**2
            raise RateLimitedError(
                f"the host has {available // mib} MiB available; this session may use"
                f" {memory_bytes // mib} MiB and {reserve // mib} MiB are kept for the host"
                " (WARDEN_MEMORY_RESERVE_BYTES): wait for sessions to end, or choose a policy"
                " with a smaller container.memory",
                limit="host_memory",
                retry_after=_RUNNING_RETRY_SECONDS,
                details={
                    "availableBytes": available,
                    "sessionBytes": memory_bytes,
                    "reserveBytes": reserve,
                },
            )
