"""Errors the audit ledger raises. ``audit`` stands alone, so it has its own tree::

    AuditError                    root; anything the ledger raises on purpose
    ├── InvalidEventError         the event cannot be encoded (bad field, non-JCS value)
    ├── LedgerUnavailableError    the event was NOT recorded (store down, writer stopped);
    │                             the caller must refuse the action it wanted to record
    ├── ProofUnavailableError     no proof can be made (seq beyond the signed size, …)
    ├── KeyStoreError             the signing key directory is missing or unusable
    └── WormConflictError         a write-once checkpoint file exists with other content

Callers in ``runner`` translate these at their seam (``LedgerUnavailableError`` becomes
``AuditUnavailableError``, HTTP 503).
"""

from __future__ import annotations


class AuditError(Exception):
    """Root of every error the audit ledger raises on purpose."""


class InvalidEventError(AuditError, ValueError):
    """The event has a missing or malformed field, or a value JCS cannot encode."""


class LedgerUnavailableError(AuditError):
    """The ledger could not record the event; the recorded action must not happen."""


class ProofUnavailableError(AuditError):
    """The requested proof cannot be produced (no such seq or no covering checkpoint)."""


class KeyStoreError(AuditError):
    """The signing key directory cannot be read or written."""


class WormConflictError(AuditError):
    """A write-once checkpoint file already exists with different content."""
