"""What the session layer needs from the outside, as protocols (adapters implement them)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from runner.sessions.model import SessionRecord


class GatewayHandle(Protocol):
    """A running per-session model gateway."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    @property
    def usage(self) -> Any: ...


class GatewayFactory(Protocol):
    """Makes a session's gateway; ``workspace`` is the host path the agent works in."""

    @property
    def serves_egress(self) -> bool:
        """Its gateways serve the egress proxy of a policy that allows egress."""
        ...

    def __call__(
        self, *, record: SessionRecord, socket_path: Path, token: str, workspace: Path
    ) -> GatewayHandle: ...
