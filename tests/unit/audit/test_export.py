"""Exports: full, range, time and session slices round-trip through offline verification."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from audit import EventFilter, Ledger, verify_export

# Runs the verifier with `runner` made unimportable: the export verifies with audit/ alone.
ALONE = (
    "import runpy, sys; sys.modules['runner'] = None; "
    "sys.argv = ['audit', 'verify', sys.argv[1]]; runpy.run_module('audit', run_name='__main__')"
)


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    """A SQLite ledger with 60 events over 3 sessions, checkpointed every 10 events."""
    opened = Ledger.open(tmp_path / "audit.db", tmp_path / "keys", worm_dir=tmp_path / "worm")
    for i in range(60):
        opened.append("input.sent", actor="user:alice", session=f"s{i % 3}", data={"i": i})
        if i % 10 == 9:
            opened.checkpoint_now()
    return opened


def run_verify(directory: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "audit", "verify", str(directory), *extra],
        capture_output=True,
        text=True,
        check=False,
    )


def test_full_export_verifies_offline_in_a_subprocess(ledger: Ledger, tmp_path: Path) -> None:
    """`python -m audit verify` accepts a full export (exit 0), also without `runner`."""
    manifest = ledger.export(tmp_path / "out")
    ledger.close()
    assert manifest["mode"] == "full"
    assert manifest["events"]["count"] == 60
    done = run_verify(tmp_path / "out")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK: 60 events" in done.stdout
    alone = subprocess.run(
        [sys.executable, "-c", ALONE, str(tmp_path / "out")], capture_output=True, text=True
    )
    assert alone.returncode == 0, alone.stderr
    assert "OK: 60 events" in alone.stdout


def test_tampered_export_line_is_named(ledger: Ledger, tmp_path: Path) -> None:
    """Changing one event in events.jsonl makes verify exit 1 naming that seq."""
    ledger.export(tmp_path / "out")
    ledger.close()
    path = tmp_path / "out" / "events.jsonl"
    lines = path.read_text().splitlines()
    line = json.loads(lines[17])
    line["canonical"] = line["canonical"].replace("alice", "alicf")
    lines[17] = json.dumps(line)
    path.write_text("\n".join(lines) + "\n")
    done = run_verify(tmp_path / "out")
    assert done.returncode == 1
    assert "seq 17" in done.stdout


def test_truncated_export_is_caught_by_checkpoints_or_worm(ledger: Ledger, tmp_path: Path) -> None:
    """Dropping the tail fails; dropping checkpoints too still fails against the WORM copies."""
    ledger.export(tmp_path / "out")
    ledger.close()
    events = tmp_path / "out" / "events.jsonl"
    events.write_text("\n".join(events.read_text().splitlines()[:45]) + "\n")
    result = verify_export(tmp_path / "out")
    assert (result.ok, result.first_bad_seq) == (False, 45)
    checkpoints = tmp_path / "out" / "checkpoints.jsonl"
    kept = [ln for ln in checkpoints.read_text().splitlines() if json.loads(ln)["size"] <= 40]
    checkpoints.write_text("\n".join(kept) + "\n")
    assert verify_export(tmp_path / "out").first_bad_seq is None  # only the manifest disagrees
    result = verify_export(tmp_path / "out", worm_dir=tmp_path / "worm")
    assert (result.ok, result.first_bad_seq) == (False, 45), result.describe()


def test_seq_range_export_verifies_with_heads_and_proofs(ledger: Ledger, tmp_path: Path) -> None:
    """A seq range exports only its events, tied to signed heads or inclusion proofs."""
    manifest = ledger.export(tmp_path / "out", EventFilter(from_seq=13, to_seq=47))
    ledger.close()
    assert manifest["mode"] == "range"
    lines = [json.loads(ln) for ln in (tmp_path / "out" / "events.jsonl").read_text().splitlines()]
    assert [ln["seq"] for ln in lines] == list(range(13, 48))
    assert any("proof" in ln for ln in lines)  # 40..47 lie after the last head inside the range
    assert run_verify(tmp_path / "out").returncode == 0


def test_range_export_missing_a_middle_event_is_named(ledger: Ledger, tmp_path: Path) -> None:
    """Deleting an event inside a range export names its seq."""
    ledger.export(tmp_path / "out", EventFilter(from_seq=5, to_seq=25))
    ledger.close()
    path = tmp_path / "out" / "events.jsonl"
    lines = path.read_text().splitlines()
    del lines[10]
    path.write_text("\n".join(lines) + "\n")
    result = verify_export(tmp_path / "out")
    assert (result.ok, result.first_bad_seq) == (False, 15), result.describe()


def test_time_range_export_covers_the_seq_span(ledger: Ledger, tmp_path: Path) -> None:
    """A time window exports the contiguous seq span from its first to its last event."""
    entries = ledger.query(limit=100).entries
    since, until = entries[20].event.ts, entries[30].event.ts
    manifest = ledger.export(tmp_path / "out", EventFilter(since=since, until=until))
    ledger.close()
    assert manifest["events"]["first_seq"] == min(
        e.event.seq for e in entries if e.event.ts >= since
    )
    assert manifest["events"]["last_seq"] == max(
        e.event.seq for e in entries if e.event.ts <= until
    )
    assert verify_export(tmp_path / "out").ok


def test_session_export_carries_inclusion_proofs(ledger: Ledger, tmp_path: Path) -> None:
    """A session subset verifies by one inclusion proof per event; a forged proof is named."""
    manifest = ledger.export(tmp_path / "out", EventFilter(session="s1"))
    ledger.close()
    assert manifest["mode"] == "subset" and manifest["events"]["count"] == 20
    assert verify_export(tmp_path / "out").ok
    path = tmp_path / "out" / "events.jsonl"
    lines = [json.loads(ln) for ln in path.read_text().splitlines()]
    lines[3]["proof"]["path"][0] = "00" * 32
    path.write_text("".join(json.dumps(ln) + "\n" for ln in lines))
    result = verify_export(tmp_path / "out")
    assert (result.ok, result.first_bad_seq) == (False, lines[3]["seq"])


def test_csv_export_neutralises_formulas(ledger: Ledger, tmp_path: Path) -> None:
    """CSV has one row per event; a value starting with '=' is prefixed so it stays text."""
    ledger.append("input.sent", actor="=HYPERLINK(1)", session="s9", data={"text": "=1+1"})
    count = ledger.export_csv(tmp_path / "out.csv", EventFilter(session="s9"))
    ledger.close()
    rows = list(csv.DictReader((tmp_path / "out.csv").open(encoding="utf-8")))
    assert count == len(rows) == 1
    assert rows[0]["actor"] == "'=HYPERLINK(1)"
    assert json.loads(rows[0]["data"]) == {"text": "=1+1"}
    assert rows[0]["seq"] == "60"
