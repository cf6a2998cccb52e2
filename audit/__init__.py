"""Warden's audit ledger: hash-chained, signed, verifiable offline. Never imports ``runner``."""
