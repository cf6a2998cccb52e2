"""The states a Claude Code terminal can be in, and what the classifier says about one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from runner.core import SessionState

#: The classifier speaks in the session's states; the one definition is ``runner.core``.
State = SessionState


_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class ScreenState:
    """A state plus its details (for prompts: tool, command or path, options, selected)."""

    state: State
    details: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    def to_json(self) -> dict[str, Any]:
        """A plain JSON-able dict ``{"state": name, "details": {...}}``."""
        return {"state": self.state.value, "details": _plain(self.details)}


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
