"""Ledger storage adapters: SQLite (embedded default) and PostgreSQL."""

from audit.stores.base import EventFilter, Pending, Store
from audit.stores.factory import open_store

__all__ = ["EventFilter", "Pending", "Store", "open_store"]
