"""What the session layer needs from the outside, as protocols (adapters implement them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from runner.sessions.model import SessionRecord


@dataclass(frozen=True)
class Actor:
    """Who did something: a person or token subject, or the system itself."""

    subject: str
    tenant: str = "default"
    roles: frozenset[str] = frozenset()

    @classmethod
    def system(cls) -> Actor:
        return cls("system")

    @property
    def sees_all_tenants(self) -> bool:
        """Only a global admin crosses tenants; a tenant's own admin stays inside it."""
        return "global_admin" in self.roles


class EventSink(Protocol):
    """Receives every session event (audit ledger, bus). Raising refuses the action."""

    async def emit(
        self, type: str, *, actor: Actor, session: str | None, data: Mapping[str, Any]
    ) -> None: ...


class GatewayHandle(Protocol):
    """A running per-session model gateway."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    @property
    def usage(self) -> Any: ...


class GatewayFactory(Protocol):
    """Makes a session's gateway; ``workspace`` is the host path the agent works in."""

    def __call__(
        self, *, record: SessionRecord, socket_path: Path, token: str, workspace: Path
    ) -> GatewayHandle: ...
