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
from runner.core import Actor
from runner.errors import AuditUnavailableError, InvalidInputError, NotFoundError


def open_ledger(database_url: str, key_dir: Path, worm_dir: Path | None = None) -> Ledger:
    """Open the ledger in Warden's database (its ``audit_*`` tables).

    Raises:
        AuditUnavailableError: the ledger cannot be opened (then nothing may run).
    """
    try:
        return Ledger.open(database_url, key_dir, worm_dir=worm_dir)
    except audit_errors.AuditError as exc:
        raise AuditUnavailableError(f"the audit ledger cannot be opened: {exc}") from exc


class LedgerAppender:
    """Appends one event per call and returns once it is durable."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    async def __call__(
        self, type: str, actor: Actor, session: str | None, data: Mapping[str, Any]
    ) -> None:
        await self._ledger.append_async(
            type, actor=actor.subject, tenant=actor.tenant, session=session, data=dict(data)
        )


def translate(exc: Exception) -> Exception:
    """The Warden error for an ``audit`` error raised by a read (query, proof, export)."""
    if isinstance(exc, audit_errors.ProofUnavailableError):
        return NotFoundError(str(exc))
    if isinstance(exc, audit_errors.InvalidEventError):
        return InvalidInputError(str(exc))
    return AuditUnavailableError(f"the audit ledger failed: {exc}")
