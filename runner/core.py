"""The types every layer shares: who acts, where events go, the clock, the value sets.

This module is the bottom of ``runner``'s layers (see docs/architecture.md): it
imports nothing from ``runner`` and no third-party library, and nothing else defines
these value sets. The API schemas, the store, the terminal classifier and the session
layer all use these types, so a state or mode is spelled in exactly one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol


def utcnow() -> datetime:
    """The controller's clock: an aware UTC timestamp."""
    return datetime.now(UTC)


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


class SessionState(StrEnum):
    """What a session is doing (DESIGN.md "States").

    The terminal classifier decides most of them from the screen; the session layer adds
    ``starting`` (before the first prompt is in), ``stalled`` (by time) and ``error``.
    """

    QUEUED = "queued"  # over a quota, waiting in line for a place (asked for, policy allows)
    STARTING = "starting"  # the CLI is booting, or the first prompt is not in yet
    IDLE = "idle"  # the input box waits for a prompt
    WORKING = "working"  # a turn runs (spinner, "esc to interrupt")
    PERMISSION_PROMPT = "permission_prompt"  # Claude Code asks to run a tool
    ASKING = "asking"  # the model asks the user a question (AskUserQuestion)
    STALLED = "stalled"  # working, but no screen change for too long (decided by time, not screen)
    EXITED = "exited"  # the CLI has quit: a shell prompt or an empty screen remains
    ERROR = "error"  # the CLI shows a fatal error and no input box, or the session failed
    UNKNOWN = "unknown"  # none of the above


#: States a session never leaves (a deleted session keeps its record as ``exited``).
FINAL_STATES = frozenset({SessionState.EXITED, SessionState.ERROR})
#: States in which the agent is busy: a turn runs, or it waits for a person.
BUSY_STATES = frozenset(
    {
        SessionState.WORKING,
        SessionState.STALLED,
        SessionState.PERMISSION_PROMPT,
        SessionState.ASKING,
    }
)
#: States in which the agent waits for a person's answer on screen.
WAITING_STATES = frozenset({SessionState.PERMISSION_PROMPT, SessionState.ASKING})


class WorkspaceMode(StrEnum):
    """How the user's directory reaches the sandbox's /workspace."""

    COPY = "copy"  # a copy the session owns; the user's directory is never touched
    RO = "ro"  # the directory itself, bind-mounted read-only
    RW = "rw"  # the directory itself, bind-mounted read-write


class PermissionMode(StrEnum):
    """Claude Code's ``--permission-mode`` values."""

    DEFAULT = "default"
    ACCEPT_EDITS = "acceptEdits"
    PLAN = "plan"
    BYPASS_PERMISSIONS = "bypassPermissions"
    DONT_ASK = "dontAsk"
    AUTO = "auto"
