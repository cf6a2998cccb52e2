"""Every stored column is verified: an edited actor, type, session, tenant, ts or id is named."""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
from pathlib import Path

import pytest

from audit import EventFilter, Ledger, verify_export
from audit.__main__ import main as audit_main
from audit.columns import COLUMNS, all_agree, disagreement, edges
from audit.event import Event
from audit.ledger import verify_store
from audit.signing import PublicKeys
from audit.stores.sqlite import SqliteStore
from audit.verify_walk import CHUNK

EDITS = [
    ("actor", "'alice@corp'"),
    ("type", "'permission.decided'"),
    ("session", "'other-session'"),
    ("session", "NULL"),
    ("tenant", "'acme'"),
    ("ts", "'2020-01-01T00:00:00.000000Z'"),
    ("event_id", "'0123456789abcdef0123456789abcdef'"),
    ("actor", "42"),  # SQLite keeps any type in any column
]


@pytest.fixture
def ledger_db(tmp_path: Path) -> Path:
    """A closed SQLite ledger of 30 events over two sessions and two tenants."""
    ledger = Ledger.open(tmp_path / "audit.db", tmp_path / "keys")
    for i in range(30):
        ledger.append(
            "tool.decision",
            actor=f"user:u{i % 3}",
            session=f"s{i % 2}",
            tenant="t1" if i % 2 else "t2",
            data={"i": i, "text": 'quote " and \\ and \n and é'},
        )
    ledger.close()
    return tmp_path / "audit.db"


def tampered_copy(db: Path, sql: str) -> Path:
    """A copy of the ledger with the append-only triggers dropped and ``sql`` run on it."""
    copy = db.with_name("copy.db")
    shutil.copy(db, copy)
    with sqlite3.connect(copy) as conn:
        conn.execute("DROP TRIGGER audit_events_no_update")
        conn.execute(sql)
    return copy


def verify(db: Path, *, check_canonical: bool = True) -> tuple[bool, int | None, str]:
    store = SqliteStore(db, install=False)
    try:
        keys = PublicKeys.from_dir(db.parent / "keys")
        result = verify_store(store, keys, check_canonical=check_canonical)
    finally:
        store.close()
    return result.ok, result.first_bad_seq, result.reason or ""


def test_an_untouched_ledger_verifies(ledger_db: Path) -> None:
    """The columns the ledger wrote agree with the bytes (escapes, nulls, non-ASCII)."""
    assert verify(ledger_db) == (True, None, "")


@pytest.mark.parametrize(("column", "value"), EDITS)
@pytest.mark.parametrize("check_canonical", [True, False])
def test_an_edited_column_fails_naming_seq_and_column(
    ledger_db: Path, column: str, value: str, check_canonical: bool
) -> None:
    """UPDATE … SET <column> on one row: verify fails at that seq and names the column."""
    copy = tampered_copy(ledger_db, f"UPDATE audit_events SET {column} = {value} WHERE seq = 17")  # noqa: S608
    ok, seq, reason = verify(copy, check_canonical=check_canonical)
    assert (ok, seq) == (False, 17), reason
    assert f"stored column {column} is" in reason


def test_the_first_edited_row_is_named(ledger_db: Path) -> None:
    """Two edited rows: the lower seq is reported."""
    copy = tampered_copy(ledger_db, "UPDATE audit_events SET tenant = 'acme' WHERE seq IN (9, 23)")
    assert verify(copy)[:2] == (False, 9)


def test_an_edit_deep_in_a_large_log_is_found_through_the_bulk_path(tmp_path: Path) -> None:
    """Past several bulk chunks, the chunk with the edit is walked again to name it."""
    ledger = Ledger.open(tmp_path / "audit.db", tmp_path / "keys")
    for i in range(2 * CHUNK + 100):
        ledger.append("t", actor="system", session="s", data={"i": i})
    ledger.close()
    target = CHUNK + 4321
    copy = tampered_copy(
        tmp_path / "audit.db",
        f"UPDATE audit_events SET type = 'x' WHERE seq = {target}",  # noqa: S608
    )
    ok, seq, reason = verify(copy, check_canonical=False)
    assert (ok, seq) == (False, target)
    assert "stored column type is 'x'" in reason


def test_queries_and_tenant_scoping_follow_the_signed_bytes(ledger_db: Path) -> None:
    """An event whose tenant column was edited to `acme` is not in acme's query or export."""
    copy = tampered_copy(ledger_db, "UPDATE audit_events SET tenant = 'acme' WHERE seq = 4")
    ledger = Ledger.open(copy, copy.parent / "keys")
    try:
        page = ledger.query(EventFilter(tenant="acme"), limit=100)
        assert page.entries == []
        mine = ledger.query(EventFilter(tenant="t2", session="s0"), limit=100)
        assert 4 not in [entry.record.seq for entry in mine.entries]  # its column moved away
        out = copy.parent / "export"
        manifest = ledger.export(out, EventFilter(tenant="acme"))
        assert manifest["events"]["count"] == 0
        rows = ledger.export_csv(copy.parent / "acme.csv", EventFilter(tenant="acme"))
        assert rows == 0
    finally:
        ledger.close()


def test_a_short_page_still_has_a_cursor(ledger_db: Path) -> None:
    """A page thinned by the check keeps the cursor, so paging reaches every later event."""
    copy = tampered_copy(ledger_db, "UPDATE audit_events SET session = 's1' WHERE seq = 2")
    ledger = Ledger.open(copy, copy.parent / "keys")
    try:
        first = ledger.query(EventFilter(session="s1"), limit=2)  # rows 1 and 2 (edited)
        assert [e.record.seq for e in first.entries] == [1]
        assert first.next_cursor == 2
        rest = ledger.query(EventFilter(session="s1"), after_seq=first.next_cursor, limit=100)
        assert [e.record.seq for e in rest.entries] == list(range(3, 30, 2))
    finally:
        ledger.close()


def test_a_subset_export_holding_another_sessions_event_fails(ledger_db: Path) -> None:
    """Offline: an export for session s1 with an s0 event in it names that event."""
    ledger = Ledger.open(ledger_db, ledger_db.parent / "keys")
    out = ledger_db.parent / "export"
    try:
        ledger.export(out, EventFilter(session="s1"))
    finally:
        ledger.close()
    assert verify_export(out).ok
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["filter"]["session"] = "s0"
    (out / "manifest.json").write_text(json.dumps(manifest))
    result = verify_export(out)
    assert (result.ok, result.first_bad_seq) == (False, 1)
    assert "session" in (result.reason or "")


def test_python_m_audit_verifies_a_database(
    ledger_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m audit verify --db PATH --keys DIR`: 0 when it holds, 1 naming seq and column."""
    keys = str(ledger_db.parent / "keys")
    assert audit_main(["verify", "--db", str(ledger_db), "--keys", keys]) == 0
    assert capsys.readouterr().out.startswith("OK: 30 events")
    copy = tampered_copy(ledger_db, "UPDATE audit_events SET actor = 'alice@corp' WHERE seq = 5")
    assert audit_main(["verify", "--db", str(copy), "--keys", keys]) == 1
    assert capsys.readouterr().out.startswith("FAILED at seq 5: stored column actor is")
    with pytest.raises(SystemExit):
        audit_main(["verify", "--db", str(copy)])  # the database's own keys prove nothing


def _random_text(rng: random.Random) -> str:
    alphabet = 'ab"\\\n\t\x01\x1f\x7f é☃😀\u2028/:'
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 10)))


def test_edges_match_the_canonical_bytes_exactly() -> None:
    """For generated events the columns agree, and changing any one column disagrees."""
    rng = random.Random(7)
    for _ in range(300):
        event = Event(
            type=_random_text(rng),
            actor=_random_text(rng),
            session=rng.choice([None, _random_text(rng)]),
            tenant=rng.choice([None, _random_text(rng)]),
            data={"x": _random_text(rng)},
        )
        canonical = event.canonical()
        columns = (event.ts, event.actor, event.tenant, event.session, event.type, event.id)
        assert all_agree([canonical], [columns])
        assert disagreement(canonical, columns) is None
        index = rng.randrange(len(COLUMNS))
        changed = list(columns)
        changed[index] = (changed[index] or "") + "x"
        assert not all_agree([canonical], [tuple(changed)])
        why = disagreement(canonical, tuple(changed))
        assert why is not None and f"stored column {COLUMNS[index]} is" in why


def test_edges_refuse_values_no_event_holds() -> None:
    """A non-string actor cannot be encoded as an event's actor."""
    with pytest.raises(TypeError):
        edges(("2025-01-01T00:00:00.000000Z", 5, None, None, "t", "0" * 32))
