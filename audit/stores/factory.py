"""Opening the store a database URL names (the adapters are imported only when chosen)."""

from __future__ import annotations

from audit.stores.base import Store


def open_store(url: str, *, schema: str | None = None, install: bool = True) -> Store:
    """A store for a SQLite path/URL or a PostgreSQL URL (psycopg is imported only then).

    ``sqlite:///abs/path`` and plain paths open SQLite; ``postgresql://`` (also with a
    ``+driver`` suffix, as SQLAlchemy writes it) opens PostgreSQL.
    """
    scheme = url.split("://", 1)[0].split("+", 1)[0] if "://" in url else ""
    if scheme in ("postgresql", "postgres"):
        from audit.stores.postgres import PostgresStore

        dsn = "postgresql://" + url.split("://", 1)[1]
        return PostgresStore(dsn, schema=schema or "public", install=install)
    if scheme in ("", "sqlite"):
        from audit.stores.sqlite import SqliteStore

        path = url.split("://", 1)[1] if scheme else url
        if scheme and path.startswith("/"):
            path = path[1:]  # sqlite:///rel -> rel, sqlite:////abs -> /abs
        return SqliteStore(path, install=install)
    raise ValueError(f"unsupported ledger database URL scheme {scheme!r}")
