"""Verifying an export directory offline (needs only ``audit``, rfc8785 and cryptography)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from audit.chain import Record
from audit.checkpoint import Checkpoint, WormDirectory
from audit.errors import AuditError, InvalidEventError
from audit.event import decode_event
from audit.signing import PublicKeys
from audit.stores.base import EventFilter
from audit.verify import InclusionProof, VerifyFailure, VerifyResult, verify_log
from audit.verify_slice import verify_slice


def verify_export(
    directory: Path,
    *,
    trusted_keys: PublicKeys | None = None,
    key_ids: Sequence[str] = (),
    worm_dir: Path | None = None,
    check_canonical: bool = True,
) -> VerifyResult:
    """Verify an export; returns the first bad seq and why (never raises for bad content).

    Args:
        trusted_keys: keys to trust instead of the export's own ``keys/``.
        key_ids: if given, only checkpoints signed by these key ids count (pin them to the
            ids your organisation published; the export's own keys prove nothing alone).
        worm_dir: write-once checkpoint copies; the export must agree with them and not
            be shorter than the newest one (full exports only).
    """
    try:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        keys = trusted_keys or PublicKeys.from_dir(directory / "keys")
        if key_ids:
            keys = PublicKeys({k: v for k, v in keys.keys.items() if k in set(key_ids)})
        checkpoints, consistency = _read_checkpoints(directory / "checkpoints.jsonl")
    except (OSError, ValueError, KeyError, AuditError) as exc:
        return VerifyResult(False, 0, 0, None, f"unreadable export: {exc}")
    mode = manifest.get("mode")
    proofs: dict[int, InclusionProof] = {}
    progress = {"last_seq": -1}
    records = _read_events(directory / "events.jsonl", proofs, progress)
    if mode == "subset":
        records = _selected(records, _manifest_filter(manifest))
    try:
        if mode == "full":
            if worm_dir is not None:
                checkpoints += WormDirectory(worm_dir).read_all()
            result = verify_log(records, checkpoints, keys, check_canonical=check_canonical)
        elif mode in ("range", "subset"):
            start_prev = bytes.fromhex(manifest["start_prev"]) if mode == "range" else None
            end_seq = manifest.get("end_seq") if mode == "range" else None
            result = verify_slice(
                records,
                checkpoints,
                keys,
                start_prev=start_prev,
                end_seq=end_seq,
                proofs=proofs,
                consistency=consistency,
                check_canonical=check_canonical,
            )
        else:
            return VerifyResult(False, 0, 0, None, f"unknown export mode {mode!r}")
    except (ValueError, KeyError, TypeError) as exc:
        after = progress["last_seq"]
        return VerifyResult(False, 0, 0, after + 1, f"malformed line after seq {after}: {exc}")
    if result.ok:
        return _check_files(directory, manifest, result)
    return result


def _manifest_filter(manifest: dict[str, Any]) -> EventFilter:
    given = manifest.get("filter") or {}
    return EventFilter(**{f.name: given[f.name] for f in fields(EventFilter) if f.name in given})


def _selected(records: Iterator[Record], flt: EventFilter) -> Iterator[Record]:
    """A subset's events must be what its filter selects, by their own bytes."""
    for record in records:
        try:
            event = decode_event(record.canonical, record.seq)
        except InvalidEventError:
            yield record  # not an event at all: the checks that follow name it
            continue
        field = flt.mismatch(event, record.seq)
        if field is not None:
            raise VerifyFailure(
                record.seq, f"the event's {field} is outside the export's filter (mis-selected)"
            )
        yield record


def _read_checkpoints(path: Path) -> tuple[list[Checkpoint], dict[int, list[bytes]]]:
    checkpoints, consistency = [], {}
    for line in path.read_text(encoding="utf-8").splitlines():
        data = json.loads(line)
        cp = Checkpoint.from_json(data)
        checkpoints.append(cp)
        if "consistency" in data:
            consistency[cp.size] = [bytes.fromhex(h) for h in data["consistency"]]
    return checkpoints, consistency


def _read_events(
    path: Path, proofs: dict[int, InclusionProof], progress: dict[str, int]
) -> Iterator[Record]:
    """Records line by line; a line's proof is registered before its record is yielded."""
    fromhex, loads = bytes.fromhex, json.loads
    with path.open("rb") as handle:
        for raw in handle:
            data = loads(raw)
            seq = data["seq"]
            if type(seq) is not int:
                raise ValueError(f"seq {seq!r} is not an integer")
            proof = data.get("proof")
            if proof is not None:
                path_hashes = tuple(fromhex(h) for h in proof["path"])
                proofs[seq] = InclusionProof(seq, int(proof["size"]), path_hashes)
            progress["last_seq"] = seq
            yield Record(
                seq,
                data["canonical"].encode("utf-8", "surrogateescape"),
                fromhex(data["leaf_hash"]),
                fromhex(data["prev_hash"]),
                fromhex(data["chain_hash"]),
            )


def _check_files(directory: Path, manifest: dict[str, Any], result: VerifyResult) -> VerifyResult:
    """The content verified; also hold the files to the manifest's hashes and counts."""
    for name, expected in manifest.get("files", {}).items():
        target = directory / name
        actual = hashlib.sha256(target.read_bytes()).hexdigest() if target.exists() else None
        if actual != expected.get("sha256"):
            return VerifyResult(
                False,
                result.events,
                result.checkpoints,
                None,
                f"{name} does not match the manifest's SHA-256",
                result.signed_size,
            )
    count = manifest.get("events", {}).get("count")
    if count != result.events:
        return VerifyResult(
            False,
            result.events,
            result.checkpoints,
            None,
            f"manifest says {count} events, the file has {result.events}",
            result.signed_size,
        )
    return result
