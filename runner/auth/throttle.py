"""Rate limits on callers: authentication failures per address and per token, mutations
per caller, and the coalesced audit of what they refuse.

Failures are limited before credentials are checked: once an address (or a token) has
spent its failure budget, its requests get 429 without being validated, so guessing
cannot go on at the rate the server answers, and a flood costs no signature checks. The
first refusal of a source in a window is audited at once (``auth.throttled``), the rest
only counted; when the window ends one ``auth.flood`` event says how many were refused.
So the ledger records the attack, and grows by two events per source and window.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging

from runner.auth.ratelimit import Buckets, FloodLog, FloodWindow
from runner.core import Actor, EventSink
from runner.errors import RateLimitedError

log = logging.getLogger(__name__)

#: Methods that change nothing; only the others count against the mutation limit.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def credential_key(authorization: str | None) -> str | None:
    """A token's bucket key: a hash, so no credential is kept in memory or logged."""
    if not authorization:
        return None
    return "token:" + hashlib.sha256(authorization.encode()).hexdigest()[:32]


class Throttle:
    """The limits ``runner.api.security.authenticate`` applies (module docstring)."""

    def __init__(
        self, *, failures: Buckets, mutations: Buckets, floods: FloodLog, events: EventSink
    ) -> None:
        self.failures = failures
        self.mutations = mutations
        self.floods = floods
        self._events = events

    async def check_failures(self, client: str, authorization: str | None) -> None:
        """Refuse (429) a caller whose address or token has no failure budget left."""
        for key in (f"client:{client}", credential_key(authorization)):
            if key is None:
                continue
            wait = self.failures.wait(key)
            if wait > 0:
                await self._refused(client, "auth_failures")
                raise RateLimitedError(
                    "too many failed authentication attempts from this address or with this"
                    f" token; wait {wait:.0f} s and check the credentials",
                    limit="auth_failures",
                    retry_after=wait,
                    details={
                        "burst": self.failures.burst,
                        "perMinute": self.failures.per_minute,
                    },
                )

    def failed(self, client: str, authorization: str | None) -> None:
        """Spend one failure from the address's and the token's budgets."""
        for key in (f"client:{client}", credential_key(authorization)):
            if key is not None:
                self.failures.take(key)

    async def check_mutation(self, actor: Actor, method: str, client: str) -> None:
        """Refuse (429) a caller over its budget of mutating requests."""
        if method.upper() in READ_METHODS:
            return
        wait = self.mutations.take(f"actor:{actor.tenant}/{actor.subject}")
        if wait > 0:
            await self._refused(client, "mutations", actor)
            raise RateLimitedError(
                f"{actor.subject} sent more changing requests than allowed"
                f" ({self.mutations.per_minute:g} a minute, bursts of {self.mutations.burst});"
                f" retry in {wait:.0f} s",
                limit="mutations",
                retry_after=wait,
                details={"burst": self.mutations.burst, "perMinute": self.mutations.per_minute},
            )

    async def _refused(self, client: str, limit: str, actor: Actor | None = None) -> None:
        source = f"{limit}:{client}" if actor is None else f"{limit}:{actor.subject}"
        opened, closed = self.floods.refused(source)
        await self._summarise(closed)
        if opened:
            await self._events.emit(
                "auth.throttled",
                actor=actor or Actor("anonymous"),
                session=None,
                data={
                    "limit": limit,
                    "client": client,
                    "windowSeconds": self.floods.window_seconds,
                },
            )

    async def flush(self, *, everything: bool = False) -> None:
        """Audit the windows that have ended (all of them at shutdown)."""
        await self._summarise(self.floods.closed(everything=everything))

    async def _summarise(self, windows: list[FloodWindow]) -> None:
        for window in windows:
            if window.refused <= 1:
                continue  # its auth.throttled event already said everything
            limit, _, client = window.source.partition(":")
            await self._events.emit(
                "auth.flood",
                actor=Actor("anonymous") if limit == "auth_failures" else Actor(client),
                session=None,
                data={
                    "limit": limit,
                    "source": client,
                    "refused": window.refused,
                    "windowSeconds": self.floods.window_seconds,
                },
            )

    async def run(self) -> None:
        """Summarise ended windows as they end (a background task of the services)."""
        while True:
            await asyncio.sleep(min(self.floods.window_seconds, 10.0))
            try:
                await self.flush()
            except Exception:
                log.exception("could not audit the refused floods; retrying")
