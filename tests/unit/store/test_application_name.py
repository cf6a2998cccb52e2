"""Each replica's PostgreSQL connections carry its name (``pg_stat_activity``)."""

from __future__ import annotations

from sqlalchemy import text

from runner.store.database import create_database_engine, with_application_name


def test_a_postgres_url_gets_the_name_unless_it_gives_one() -> None:
    """The name is added to a PostgreSQL URL; one the URL names is kept; SQLite is as is."""
    url = "postgresql://warden:pw@db:5432/warden"
    assert with_application_name(url, "warden:r1").endswith("?application_name=warden%3Ar1")
    named = f"{url}?application_name=mine"
    assert with_application_name(named, "warden:r1") == named
    assert with_application_name("sqlite:////tmp/w.db", "warden:r1") == "sqlite:////tmp/w.db"


def test_the_engine_connects_under_that_name(fresh_postgres_url: str) -> None:
    """PostgreSQL sees the replica's name on the engine's connections."""
    engine = create_database_engine(with_application_name(fresh_postgres_url, "warden:r7"))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW application_name")).scalar() == "warden:r7"
    finally:
        engine.dispose()
