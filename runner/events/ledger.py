"""The audit ledger as the controller uses it: open it from settings, append events.

The ledger (``audit/``) knows nothing of Warden; this adapter maps an ``Actor`` to the
ledger's actor/tenant fields and its errors to Warden's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from audit import errors as audit_errors
from audit.ledger import Ledger
from audit.stores.base import EventFilter
from runner.core import Actor
from runner.errors import AuditUnavailableError, InvalidInputError, NotFoundError


def open_ledger(
    database_url: str, key_dir: Path, worm_dir: Path | None = None, *, shared: bool = False
) -> Ledger:
    """Open the ledger in Warden's database (its ``audit_*`` tables).

    ``shared``: controller replicas append to it; one elected sequencer chains for all.

    Raises:
        AuditUnavailableError: the ledger cannot be opened (then nothing may run).
    """
    try:
        return Ledger.open(database_url, key_dir, worm_dir=worm_dir, shared=shared)
    except audit_errors.AuditError as exc:
        raise AuditUnavailableError(f"the audit ledger cannot be opened: {exc}") from exc


class LedgerAppender:
    """Appends one event per call and returns its (seq, ts) once it is durable."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    async def __call__(
        self, type: str, actor: Actor, session: str | None, data: Mapping[str, Any]
    ) -> tuple[int, str]:
        event = await self._ledger.append_async(
            type, actor=actor.subject, tenant=actor.tenant, session=session, data=dict(data)
        )
        if event.seq is None:  # the ledger always places what it returns
            raise AuditUnavailableError("the audit ledger returned an event without a seq")
        return event.seq, event.ts


def translate(exc: Exception) -> Exception:
    """The Warden error for an ``audit`` error raised by a read (query, proof, export)."""
    if isinstance(exc, audit_errors.ProofUnavailableError):
        return NotFoundError(str(exc))
    if isinstance(exc, audit_errors.InvalidEventError):
        return InvalidInputError(str(exc))
    return AuditUnavailableError(f"the audit ledger failed: {exc}")


def last_turn_cursor(ledger: Ledger, session_id: str) -> int:
    """The transcript cursor of the newest ``transcript.turn`` recorded for a session."""
    cursor, after = 0, None
    while True:
        page = ledger.query(
            EventFilter(session=session_id, type="transcript.turn"), after_seq=after, limit=500
        )
        for entry in page.entries:
            cursor = max(cursor, int(entry.event.data.get("cursor", 0)))
        if page.next_cursor is None:
            return cursor
        after = page.next_cursor
