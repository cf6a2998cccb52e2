"""What the session layer needs from the outside, as protocols (adapters implement them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class Actor:
    """Who did something: a person or token subject, or the system itself."""

    subject: str
    tenant: str = "default"
    roles: frozenset[str] = frozenset()

    @classmethod
    def system(cls) -> Actor:
        return cls("system")


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
    def __call__(
        self, *, session_id: str, socket_path: Path, token: str, policy: str
    ) -> GatewayHandle: ...
