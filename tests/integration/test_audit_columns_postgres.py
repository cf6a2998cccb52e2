"""On real PostgreSQL the stored columns cannot differ from the canonical bytes, or verify says."""

# ruff: noqa: S608  -- SQL here names fixed columns of the test's own database, never input

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from audit import EventFilter, Ledger
from audit.stores.pg_schema import install_schema

pytestmark = pytest.mark.postgres

EDITS = [
    ("actor", "'alice@corp'"),
    ("type", "'permission.decided'"),
    ("session", "'other'"),
    ("tenant", "'acme'"),
    ("ts", "'2020-01-01T00:00:00.000000Z'"),
    ("event_id", "'0123456789abcdef0123456789abcdef'"),
]


@pytest.fixture
def ledger(fresh_postgres_url: str, tmp_path: Path) -> Iterator[Ledger]:
    """A ledger in a fresh database holding 20 events (escapes, non-ASCII, null tenants)."""
    opened = Ledger.open(fresh_postgres_url, tmp_path / "keys")
    for i in range(20):
        opened.append(
            "tool.decision",
            actor=f"user:u{i % 3}",
            session=f"s{i % 2}",
            tenant="t1" if i % 2 else None,
            data={"i": i, "text": 'a "quote", a \\ and é\n'},
        )
    opened.checkpoint_now()
    try:
        yield opened
    finally:
        opened.close()


def superuser_edit(url: str, *statements: str) -> None:
    """Run ``statements`` as the superuser with every trigger switched off (replica mode)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        for statement in statements:
            conn.execute(statement)


@pytest.mark.parametrize(("column", "value"), EDITS)
def test_a_column_edit_with_triggers_off_hits_the_check(
    fresh_postgres_url: str, ledger: Ledger, column: str, value: str
) -> None:
    """With the append-only triggers disabled, UPDATE … SET <column> still fails the CHECK."""
    with pytest.raises(psycopg.errors.CheckViolation, match="audit_events_columns_agree"):
        superuser_edit(
            fresh_postgres_url, f"UPDATE audit_events SET {column} = {value} WHERE seq = 7"
        )
    assert ledger.verify_db().ok


@pytest.mark.parametrize(("column", "value"), EDITS)
def test_with_the_check_dropped_verify_names_seq_and_column(
    fresh_postgres_url: str, ledger: Ledger, column: str, value: str
) -> None:
    """An owner who drops the CHECK too can edit a column; the live verify names it."""
    superuser_edit(
        fresh_postgres_url,
        "ALTER TABLE audit_events DROP CONSTRAINT audit_events_columns_agree",
        f"UPDATE audit_events SET {column} = {value} WHERE seq = 11",
    )
    result = ledger.verify_db(check_canonical=False)
    assert (result.ok, result.first_bad_seq) == (False, 11), result.describe()
    assert f"stored column {column} is" in (result.reason or "")


def test_queries_keep_to_the_signed_bytes(
    fresh_postgres_url: str, ledger: Ledger, tmp_path: Path
) -> None:
    """An event whose tenant column was moved to acme is not in acme's query or export."""
    superuser_edit(
        fresh_postgres_url,
        "ALTER TABLE audit_events DROP CONSTRAINT audit_events_columns_agree",
        "UPDATE audit_events SET tenant = 'acme' WHERE seq = 3",
    )
    assert ledger.query(EventFilter(tenant="acme"), limit=50).entries == []
    assert ledger.export_csv(tmp_path / "acme.csv", EventFilter(tenant="acme")) == 0


def _constraint(url: str) -> tuple[bool, ...] | None:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT convalidated FROM pg_constraint WHERE conname = 'audit_events_columns_agree'"
        ).fetchone()


def _downgrade(url: str) -> None:
    """Put the database back to the schema before the CHECK existed."""
    superuser_edit(
        url,
        "ALTER TABLE audit_events DROP CONSTRAINT audit_events_columns_agree",
        "DROP FUNCTION audit_columns_agree(bytea, text, text, text, text, text, text)",
    )


def test_installing_upgrades_an_existing_database(fresh_postgres_url: str, ledger: Ledger) -> None:
    """A ledger from before the CHECK gets it on the next install, validated over its rows."""
    _downgrade(fresh_postgres_url)
    assert _constraint(fresh_postgres_url) is None
    ledger.append("t", actor="system")  # the older schema still takes events
    with psycopg.connect(fresh_postgres_url) as conn, conn.transaction():
        install_schema(conn)
    assert _constraint(fresh_postgres_url) == (True,)
    with pytest.raises(psycopg.errors.CheckViolation):
        superuser_edit(fresh_postgres_url, "UPDATE audit_events SET actor = 'x' WHERE seq = 0")
    ledger.append("t", actor="system")
    assert ledger.verify_db().ok


def test_an_upgrade_over_edited_rows_keeps_them_for_verify(
    fresh_postgres_url: str, ledger: Ledger
) -> None:
    """Rows edited before the upgrade stay (append-only); new edits are refused; verify names it."""
    _downgrade(fresh_postgres_url)
    superuser_edit(fresh_postgres_url, "UPDATE audit_events SET actor = 'alice@corp' WHERE seq = 5")
    with psycopg.connect(fresh_postgres_url) as conn:
        notices: list[str] = []
        conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
        with conn.transaction():
            install_schema(conn)
    assert any("disagree with their canonical bytes" in n for n in notices), notices
    assert _constraint(fresh_postgres_url) == (False,)  # NOT VALID: enforced for new rows only
    with pytest.raises(psycopg.errors.CheckViolation):
        superuser_edit(fresh_postgres_url, "UPDATE audit_events SET actor = 'x' WHERE seq = 6")
    ledger.append("t", actor="system")
    result = ledger.verify_db()
    assert (result.ok, result.first_bad_seq) == (False, 5), result.describe()
    assert "stored column actor is 'alice@corp'" in (result.reason or "")
