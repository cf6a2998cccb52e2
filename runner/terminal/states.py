"""The states a Claude Code terminal can be in, and what the classifier says about one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class State(StrEnum):
    """What the agent in the terminal is doing, as its screen shows it."""

    STARTING = "starting"  # the CLI is booting: no input box yet
    IDLE = "idle"  # the input box waits for a prompt
    WORKING = "working"  # a turn runs (spinner, "esc to interrupt")
    PERMISSION_PROMPT = "permission_prompt"  # Claude Code asks to run a tool
    ASKING = "asking"  # the model asks the user a question (AskUserQuestion)
    STALLED = "stalled"  # working, but no screen change for too long (decided by time, not screen)
    EXITED = "exited"  # the CLI has quit: a shell prompt or an empty screen remains
    ERROR = "error"  # the CLI shows a fatal error and no input box
    UNKNOWN = "unknown"  # none of the above


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
