"""Which permission prompt each session has announced, so an open prompt is announced once.

``permission.asked`` goes to the ledger, the bus, webhooks and notification channels
(with approval links). While a prompt stays open its screen may be reported again (the
cursor moved, the dialog was repainted); that is the same prompt, and announcing it again
would notify people again and grow the ledger for nothing. A prompt is the same while its
hash (tool, target, title, question, options: ``prompt_hash``, the one approval links
are bound to) and the hook request it is bound to stay the same. A new hook request
with an identical prompt (the agent asks for the same command again) is a new prompt,
and so is any prompt after the session was in another state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runner.terminal.permission import prompt_hash


class AskedPrompts:
    """The open, announced prompt of each session."""

    def __init__(self) -> None:
        self._open: dict[str, tuple[str, str | None]] = {}

    def first_sight(self, session_id: str, prompt: Mapping[str, Any], request: str | None) -> bool:
        """True when this prompt is not the one already announced (then it is, from now)."""
        key = (prompt_hash(prompt), request)
        if self._open.get(session_id) == key:
            return False
        self._open[session_id] = key
        return True

    def closed(self, session_id: str) -> None:
        """The session left its prompt: whatever it shows next is announced."""
        self._open.pop(session_id, None)

    forget = closed
