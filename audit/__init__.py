"""Warden's audit ledger: hash-chained, signed, verifiable offline. Never imports ``runner``.

The public surface (see docs/audit.md)::

    Ledger.open(url, key_dir) -> Ledger          append / append_async / query / proof /
                                                 consistency / checkpoints / export /
                                                 export_csv / verify_db / close
    EventFilter, Event, Checkpoint, VerifyResult, verify_export(dir)
"""

from audit.checkpoint import Checkpoint
from audit.errors import (
    AuditError,
    InvalidEventError,
    KeyStoreError,
    LedgerUnavailableError,
    ProofUnavailableError,
    WormConflictError,
)
from audit.event import Event
from audit.ledger import Entry, Ledger, Page, verify_store
from audit.sequencer import SequencerConfig
from audit.stores.base import EventFilter
from audit.verify import VerifyResult
from audit.verify_export import verify_export

__all__ = [
    "AuditError",
    "Checkpoint",
    "Entry",
    "Event",
    "EventFilter",
    "InvalidEventError",
    "KeyStoreError",
    "Ledger",
    "LedgerUnavailableError",
    "Page",
    "ProofUnavailableError",
    "SequencerConfig",
    "VerifyResult",
    "WormConflictError",
    "verify_export",
    "verify_store",
]
