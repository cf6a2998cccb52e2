"""`warden audit export|verify` against the SQLite ledger in the data dir."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit import Ledger
from audit.chain import leaf_hash
from runner.cli import app


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data dir whose warden.db holds 20 audit events over two sessions."""
    monkeypatch.setenv("WARDEN_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("WARDEN_DATABASE_URL", raising=False)
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'warden.db'}", tmp_path / "keys")
    for i in range(20):
        ledger.append("t", actor="system", session=f"s{i % 2}", data={"i": i})
    ledger.close()
    return tmp_path


def test_export_then_verify_directory(data_dir: Path) -> None:
    """Export a session with CSV, then verify the directory: exit 0."""
    runner = CliRunner()
    out = data_dir / "exp"
    done = runner.invoke(
        app,
        ["audit", "export", "--out", str(out), "--session", "s1", "--csv", str(data_dir / "a.csv")],
    )
    assert done.exit_code == 0, done.output
    assert len((data_dir / "a.csv").read_text().splitlines()) == 11
    done = runner.invoke(app, ["audit", "verify", str(out)])
    assert done.exit_code == 0, done.output
    assert "OK: 10 events" in done.output


def test_verify_db_names_an_edited_event(data_dir: Path) -> None:
    """`verify --db` passes, then fails with exit 1 naming the seq edited behind its back."""
    runner = CliRunner()
    assert runner.invoke(app, ["audit", "verify", "--db"]).exit_code == 0
    with sqlite3.connect(data_dir / "warden.db") as conn:
        conn.execute("DROP TRIGGER audit_events_no_update")
        forged = b'{"forged":true}'
        conn.execute(
            "UPDATE audit_events SET canonical = ?, leaf_hash = ? WHERE seq = 12",
            (forged, leaf_hash(forged)),
        )
    done = runner.invoke(app, ["audit", "verify", "--db"])
    assert done.exit_code == 1
    assert "seq 12" in done.output


def test_keygen_writes_a_key_directory_the_ledger_signs_with(tmp_path: Path) -> None:
    """`warden audit keygen DIR` makes a key a ledger then opens and signs with."""
    runner = CliRunner()
    keys = tmp_path / "keys"
    done = runner.invoke(app, ["audit", "keygen", str(keys)])
    assert done.exit_code == 0, done.output
    kid = (keys / "ACTIVE").read_text().strip()
    assert f"signing key {kid}" in done.output
    assert sorted(p.name for p in keys.iterdir()) == sorted(["ACTIVE", f"{kid}.key", f"{kid}.pem"])
    assert (keys / f"{kid}.key").stat().st_mode & 0o077 == 0
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'warden.db'}", keys)
    ledger.append("t", actor="system", session=None, data={})
    ledger.close()
    assert (keys / "ACTIVE").read_text().strip() == kid  # used, not replaced


def test_keygen_refuses_a_directory_that_holds_anything(tmp_path: Path) -> None:
    """An existing key is never overwritten or joined: its checkpoints need it."""
    (tmp_path / "old.pem").write_text("x")
    done = CliRunner().invoke(app, ["audit", "keygen", str(tmp_path)])
    assert done.exit_code == 2
    assert "is not empty" in done.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.pem"]


def test_verify_with_trusted_keys_of_ones_own(data_dir: Path, tmp_path: Path) -> None:
    """--keys DIR (as docs/audit.md says): the signer's key verifies; a stranger's does not."""
    runner = CliRunner()
    out = data_dir / "exp"
    assert runner.invoke(app, ["audit", "export", "--out", str(out)]).exit_code == 0
    mine = runner.invoke(app, ["audit", "verify", str(out), "--keys", str(data_dir / "keys")])
    assert mine.exit_code == 0, mine.output
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    Ledger.open(f"sqlite:///{stranger / 'other.db'}", stranger / "keys").close()
    theirs = runner.invoke(app, ["audit", "verify", str(out), "--keys", str(stranger / "keys")])
    assert theirs.exit_code == 1, theirs.output
