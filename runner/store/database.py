"""Engine creation and schema migration (Alembic) for SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from runner.errors import WardenError

_MIGRATIONS = Path(__file__).parent / "migrations"


def normalise_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` URLs (SQLAlchemy would pick psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def with_application_name(url: str, name: str) -> str:
    """``url`` naming its connections ``name`` in PostgreSQL (``pg_stat_activity``).

    Each replica's connections can then be told apart: an operator (or a test) sees, and
    can end, exactly one replica's. A name the URL already gives is kept; SQLite has none.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql" or "application_name" in parsed.query:
        return url
    kept = name.encode()[:63].decode(errors="ignore")  # PostgreSQL keeps 63 bytes of it
    named = parsed.update_query_dict({"application_name": kept})
    return named.render_as_string(hide_password=False)


def create_database_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL and foreign keys, their parent dir made."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@dataclass(frozen=True)
class DatabaseStatus:
    """What a read-only look at the database found (``warden doctor``)."""

    url: str  # password hidden
    exists: bool
    revision: str | None
    head: str

    def describe(self) -> str:
        if not self.exists:
            return f"{self.url}: not created yet (the first `warden serve` or run creates it)"
        if self.revision == self.head:
            return f"{self.url}: schema up to date ({self.head})"
        at = self.revision or "empty"
        return f"{self.url}: schema at {at}, the code at {self.head} (migrated at the next start)"


def database_status(url: str) -> DatabaseStatus:
    """Look at the database without changing it: no file is created, nothing migrated.

    Raises:
        WardenError: it cannot be opened, with the driver's own message.
    """
    parsed = make_url(normalise_url(url))
    shown = make_url(url).render_as_string(hide_password=True)
    head = _head_revision()
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(str(parsed.database))
        if not path.exists():
            return DatabaseStatus(shown, False, None, head)
        # Read-only: opening must not create the file or change it.
        parsed = parsed.set(database=f"file:{path}?mode=ro", query={"uri": "true"})
    engine = create_engine(parsed.render_as_string(hide_password=False), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            revision = MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        raise WardenError(f"{shown}: {_driver_message(exc)}") from exc
    finally:
        engine.dispose()
    return DatabaseStatus(shown, True, revision, head)


def _head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return str(ScriptDirectory.from_config(config).get_current_head())


def _driver_message(exc: SQLAlchemyError) -> str:
    """The database driver's own words, on one line (not SQLAlchemy's wrapper)."""
    original = getattr(exc, "orig", None) or exc
    lines: list[str] = []
    for line in (raw.strip() for raw in str(original).splitlines()):
        # libpq repeats one failure per address tried: say each thing once.
        if line and not any(line in kept for kept in lines):
            lines.append(line)
    return " ".join(lines)[:500] or type(original).__name__
