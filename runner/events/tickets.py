"""Short-lived, single-use tickets that let a browser open a terminal WebSocket.

Browsers cannot set an ``Authorization`` header on a WebSocket, and a long-lived token in
a query string ends up in proxy and server logs. A ticket is asked for with the bearer
token over a normal request, names one session and one actor, lives ``ttl`` seconds,
and is gone on first use, so a leaked URL is worth nothing.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from runner.core import Actor
from runner.errors import AuthenticationError


@dataclass(frozen=True)
class _Ticket:
    actor: Actor
    session: str
    expires: float


class TerminalTickets:
    """Tickets held in memory (by hash): a controller restart voids them, as it should."""

    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._tickets: dict[str, _Ticket] = {}

    def issue(self, actor: Actor, session_id: str) -> str:
        self._sweep()
        ticket = "wst_" + secrets.token_urlsafe(32)
        self._tickets[_digest(ticket)] = _Ticket(actor, session_id, time.monotonic() + self.ttl)
        return ticket

    def redeem(self, ticket: str, session_id: str) -> Actor:
        """The actor the ticket was issued to; it cannot be used again.

        Raises:
            AuthenticationError: unknown, used, expired, or for another session.
        """
        found = self._tickets.pop(_digest(ticket), None)
        if found is None or found.expires < time.monotonic():
            raise AuthenticationError("the terminal ticket is unknown, used or expired")
        if found.session != session_id:
            raise AuthenticationError("the terminal ticket is for another session")
        return found.actor

    def _sweep(self) -> None:
        now = time.monotonic()
        for key in [k for k, t in self._tickets.items() if t.expires < now]:
            del self._tickets[key]


def _digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()
