"""When the audit ledger last signed a checkpoint, read with the controller's own engine."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, text


def latest_checkpoint_at(engine: Engine) -> datetime | None:
    """The time of the newest signed checkpoint (None before the first)."""
    # The ledger's own table (audit/stores), in the same database; only read here.
    with engine.connect() as conn:
        ts = conn.execute(text("SELECT max(ts) FROM audit_checkpoints")).scalar()
    if not ts:
        return None
    moment = datetime.fromisoformat(str(ts))  # RFC 3339, "Z" for UTC
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
