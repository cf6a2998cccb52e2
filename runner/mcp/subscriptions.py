"""Which subscribed resources a session's change touches: the subscription registry.

A subscriber names resources by URI (``warden://sessions``, ``warden://sessions/{id}``,
``…/pane``, ``…/transcript``); Warden learns of changes as catalogue events
(``docs/events.md``). This module only maps one to the other; who may subscribe to what
is decided by the caller's ``Warden`` (``runner.mcp.notify``), and which events reach
a subscriber at all by the feed it follows (its tenant's only).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from runner.mcp.ports import RESYNC, Change

SESSIONS = "warden://sessions"

#: The catalogue events a subscriber is sent updates for (the feed is asked for these only).
CHANGE_TYPES = frozenset({"session.created", "session.state", "session.ended", "message"})

#: The ids the REST API hands out are short tokens; anything else is not a session URI.
_SESSION_URI = re.compile(r"^warden://sessions/([A-Za-z0-9._-]{1,100})(?:/(pane|transcript))?$")

#: Which parts of a session each event type changes ("" is the session itself).
_TOUCHES: dict[str, tuple[str, ...]] = {
    "session.created": ("",),
    "session.state": ("", "pane"),
    "session.ended": ("", "pane"),
    "message": ("transcript",),
}
#: The event types that change the session list (a new session, another state, an end).
_LISTED = frozenset({"session.created", "session.state", "session.ended"})


class NotSubscribable(ValueError):
    """A URI that names no resource Warden sends updates for."""


@dataclass(frozen=True)
class Target:
    """What a subscribable URI names: the session list (``session`` None) or one session."""

    session: str | None
    part: str = ""


def target(uri: str) -> Target:
    """The resource a URI names; ``NotSubscribable`` says what can be subscribed to."""
    if uri == SESSIONS:
        return Target(None)
    found = _SESSION_URI.match(uri)
    if found is None:
        raise NotSubscribable(
            f"{uri} sends no updates; subscribe to {SESSIONS} or "
            f"{SESSIONS}/{{id}}[/pane|/transcript]"
        )
    return Target(found.group(1), found.group(2) or "")


def uris_for(change: Change) -> list[str]:
    """Every resource URI the change may have changed."""
    parts = _TOUCHES.get(change.type, ())
    base = f"{SESSIONS}/{change.session}"
    found = [f"{base}/{part}" if part else base for part in parts]
    if change.type in _LISTED:
        found.append(SESSIONS)
    return found


class Registry:
    """One subscriber's subscribed URIs (a connection, or one listen stream)."""

    def __init__(self, uris: Iterable[str] = ()) -> None:
        self._uris: set[str] = set()
        for uri in uris:
            self.add(uri)

    def add(self, uri: str) -> Target:
        """Subscribe to ``uri`` (again is harmless); raises ``NotSubscribable``."""
        found = target(uri)
        self._uris.add(uri)
        return found

    def discard(self, uri: str) -> bool:
        """Unsubscribe; whether it was subscribed."""
        if uri in self._uris:
            self._uris.remove(uri)
            return True
        return False

    @property
    def uris(self) -> frozenset[str]:
        return frozenset(self._uris)

    def __bool__(self) -> bool:
        return bool(self._uris)

    def affected(self, changes: Iterable[Change]) -> list[str]:
        """The subscribed URIs these changes touched, each once, in first-touched order."""
        found: dict[str, None] = {}
        for change in changes:
            if change == RESYNC:
                return sorted(self._uris)
            for uri in uris_for(change):
                if uri in self._uris:
                    found.setdefault(uri)
        return list(found)
