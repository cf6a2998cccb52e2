"""Which controller replica owns a running session: leases with fencing tokens.

Every running session has one owner replica holding a lease that expires unless it is
renewed. A takeover (by another replica, after the lease expired or was handed over)
increases the lease's fencing token; the store refuses a session write carrying an older
token, so a replica that lost its lease, even one that has not noticed yet, changes
nothing. The SQL adapter is ``runner.store.leases``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from runner.errors import ConflictError


class FencedError(ConflictError):
    """A write carried a lease this replica no longer holds: another replica owns the session."""

    code = "fenced"


class NotOwnerError(ConflictError):
    """The session runs on another replica: act there (the API forwards the request)."""

    code = "not_owner"

    def __init__(self, session_id: str, owner: str, url: str | None) -> None:
        super().__init__(
            f"session {session_id} is owned by replica {owner}",
            details={"replica": owner, "url": url},
        )
        self.owner = owner
        self.url = url


@dataclass(frozen=True)
class Lease:
    """One session's owner and the token of its current tenure."""

    session_id: str
    owner: str
    token: int
    expires_at: datetime


class LeaseStore(Protocol):
    """Where leases are kept. Every time is the database's clock, shared by all replicas."""

    def acquire(self, session_id: str, replica: str) -> Lease | None:
        """The lease for ``replica`` if it is free, expired or already its own; else None."""
        ...

    def renew(self, replica: str, session_ids: Sequence[str] | None = None) -> list[Lease]:
        """Extend the unexpired leases of ``replica`` (all, or those named) in one statement;
        returns those held."""
        ...

    def release(self, replica: str, session_ids: Sequence[str] | None = None) -> int:
        """Expire the replica's leases (all, or those named) now, for another to take over."""
        ...

    def drop(self, session_id: str) -> None:
        """Forget a session's lease (it ended)."""
        ...

    def get(self, session_id: str) -> Lease | None: ...

    def expired(self) -> list[Lease]:
        """Leases whose owner stopped renewing them, oldest first."""
        ...

    def heartbeat(self, replica: str, url: str) -> None:
        """Say ``replica`` is alive and answers at ``url``."""
        ...

    def replicas(self) -> dict[str, str]:
        """Live replicas: id → URL."""
        ...

    def forget(self, replica: str) -> None: ...
