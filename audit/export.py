"""Writing an export: a directory an auditor verifies offline (``python -m audit verify DIR``).

Layout (see docs/audit.md for every field)::

    events.jsonl       one event per line: seq, canonical (the exact bytes as UTF-8 text),
                       leaf_hash, prev_hash, chain_hash (hex), and "proof" when needed
    checkpoints.jsonl  signed checkpoints by size; "consistency" proves each extends the
                       previous line's checkpoint (slices only)
    keys/<kid>.pem     the public keys that signed them
    manifest.json      mode (full | range | subset), filter, counts, ranges, start_prev,
                       and the SHA-256 of every file above
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from audit.chain import Record
from audit.checkpoint import Checkpoint
from audit.errors import InvalidEventError
from audit.event import decode_event, now_ts
from audit.merkle import MerkleTree
from audit.signing import PublicKeys
from audit.stores.base import EventFilter, Store

FORMAT = "warden-audit-export"
_PAGE = 5000


def export_dir(store: Store, out: Path, flt: EventFilter, keys: PublicKeys) -> dict[str, Any]:
    """Write the selected events and what verifies them into ``out``; return the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    signed = store.checkpoints()
    # An export covers the log up to its newest signed checkpoint (the ledger signs one
    # just before exporting), so every exported event can be tied to a signature.
    size = signed[-1].size if signed else 0
    mode, lo, hi = _selection(store, flt, size)
    if mode == "subset":
        flt = replace(flt, to_seq=min(size - 1, flt.to_seq if flt.to_seq is not None else size))
    if mode == "full":
        chosen, tree = signed, None
    else:
        chosen = _relevant(signed, lo, hi, mode)
        last = chosen[-1].size if chosen else 0
        tree = MerkleTree(store.leaf_hashes(0, last))
    records = store.records(lo, hi + 1) if mode != "subset" else _subset(store, flt)
    stats = _write_events(out / "events.jsonl", records, tree, chosen, mode)
    _write_checkpoints(out / "checkpoints.jsonl", chosen, tree)
    used = {cp.key_id for cp in chosen}
    PublicKeys({k: v for k, v in keys.keys.items() if k in used}).write(out / "keys")
    manifest = {
        "format": FORMAT,
        "version": 1,
        "created": now_ts(),
        "mode": mode,
        "filter": {k: v for k, v in vars(flt).items() if v is not None},
        "signed_size": size,
        "events": stats,
        "start_prev": stats.pop("start_prev"),
        "end_seq": hi if mode == "range" else None,
        "checkpoints": {"count": len(chosen), "sizes": [chosen[0].size, chosen[-1].size]}
        if chosen
        else {"count": 0, "sizes": None},
        "key_ids": sorted(used),
        "files": _file_hashes(out),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _selection(store: Store, flt: EventFilter, size: int) -> tuple[str, int, int]:
    """(mode, first seq, last seq) — time bounds become the seq range they span."""
    if not flt.is_contiguous:
        return "subset", 0, size - 1
    lo = max(flt.from_seq or 0, 0)
    hi = min(flt.to_seq if flt.to_seq is not None else size - 1, size - 1)
    if flt.since is not None or flt.until is not None:
        window = EventFilter(since=flt.since, until=flt.until, from_seq=lo, to_seq=hi)
        first = store.query(window, None, 1)
        lo = first[0].seq if first else hi + 1
        hi = _last_in_window(store, window, lo, hi)
    if lo == 0 and hi == size - 1:
        return "full", 0, hi
    return "range", lo, hi


def _last_in_window(store: Store, window: EventFilter, lo: int, hi: int) -> int:
    last = lo - 1
    cursor: int | None = lo - 1
    while True:
        page = store.query(window, cursor, _PAGE)
        if not page:
            return min(last, hi)
        last = page[-1].seq
        cursor = last


def _relevant(signed: list[Checkpoint], lo: int, hi: int, mode: str) -> list[Checkpoint]:
    """Checkpoints a slice needs: heads inside the range, and the newest (for proofs)."""
    if not signed:
        return []
    inside = [cp for cp in signed if lo < cp.size <= hi + 1] if mode == "range" else []
    if not inside or inside[-1].size != signed[-1].size:
        inside.append(signed[-1])
    return inside


def _subset(store: Store, flt: EventFilter) -> Iterator[Record]:
    cursor: int | None = None
    while True:
        page = store.query(flt, cursor, _PAGE)
        yield from (r for r in page if _selected(flt, r))
        if len(page) < _PAGE:
            return
        cursor = page[-1].seq


def _selected(flt: EventFilter, record: Record) -> bool:
    """The store selected on its columns; keep the event if its signed bytes agree.

    Bytes that are no event at all are kept: verifying the export then names them.
    """
    try:
        return flt.matches(decode_event(record.canonical), record.seq)
    except InvalidEventError:
        return True


def _write_events(
    path: Path,
    records: Iterator[Record],
    tree: MerkleTree | None,
    chosen: list[Checkpoint],
    mode: str,
) -> dict[str, Any]:
    heads = {cp.size for cp in chosen}
    newest = chosen[-1].size if chosen else 0
    stats: dict[str, Any] = {"count": 0, "first_seq": None, "last_seq": None, "start_prev": None}
    pending: list[dict[str, Any]] = []  # range mode: lines not yet tied to a signed head
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            if stats["first_seq"] is None:
                stats["first_seq"], stats["start_prev"] = record.seq, record.prev_hash.hex()
            stats["last_seq"] = record.seq
            stats["count"] += 1
            line = _line(record)
            if tree is None:
                handle.write(json.dumps(line) + "\n")
                continue
            pending.append(line)
            if mode == "range" and record.seq + 1 in heads:
                _flush(handle, pending, None, newest)
            elif mode == "subset":
                _flush(handle, pending, tree, newest)
        _flush(handle, pending, tree, newest)
    return stats


def _flush(handle: Any, lines: list[dict[str, Any]], tree: MerkleTree | None, size: int) -> None:
    for line in lines:
        if tree is not None and line["seq"] < size:
            path = tree.inclusion_proof(line["seq"], size)
            line["proof"] = {"size": size, "path": [p.hex() for p in path]}
        handle.write(json.dumps(line) + "\n")
    lines.clear()


def _line(record: Record) -> dict[str, Any]:
    return {
        "seq": record.seq,
        # surrogateescape keeps even non-UTF-8 (tampered) bytes exact, so verify can name them.
        "canonical": record.canonical.decode("utf-8", "surrogateescape"),
        "leaf_hash": record.leaf_hash.hex(),
        "prev_hash": record.prev_hash.hex(),
        "chain_hash": record.chain_hash.hex(),
    }


def _write_checkpoints(path: Path, chosen: list[Checkpoint], tree: MerkleTree | None) -> None:
    with path.open("w", encoding="utf-8") as handle:
        previous: Checkpoint | None = None
        for cp in chosen:
            line = cp.to_json()
            if tree is not None and previous is not None and previous.size != cp.size:
                proof = tree.consistency_proof(previous.size, cp.size)
                line["consistency"] = [p.hex() for p in proof]
            handle.write(json.dumps(line) + "\n")
            previous = cp


def _file_hashes(out: Path) -> dict[str, dict[str, Any]]:
    files = [out / "events.jsonl", out / "checkpoints.jsonl", *sorted((out / "keys").glob("*.pem"))]
    result = {}
    for path in files:
        data = path.read_bytes()
        name = path.relative_to(out).as_posix()
        result[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    return result


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def export_csv(store: Store, path: Path, flt: EventFilter) -> int:
    """Write the selected events as CSV for spreadsheets; returns the number of rows."""
    columns = ["seq", "ts", "actor", "tenant", "session", "type", "data", "event_id", "chain_hash"]
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for record in _subset(store, flt):
            event = decode_event(record.canonical, record.seq)
            data = json.dumps(event.data, ensure_ascii=False, sort_keys=True)
            row = [
                record.seq,
                event.ts,
                event.actor,
                event.tenant or "",
                event.session or "",
                event.type,
                data,
                event.id,
                record.chain_hash.hex(),
            ]
            writer.writerow([_cell(value) for value in row])
            count += 1
    return count


def _cell(value: object) -> object:
    # Spreadsheets execute cells starting with these characters as formulas; an agent
    # controls much of the text we log, so neutralise them (OWASP CSV injection advice).
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
