"""``/v1/audit``: query the ledger, prove inclusion, list checkpoints, export."""

from __future__ import annotations

import asyncio
import io
import json
import re
import tarfile
import uuid
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi import Path as PathParam
from pydantic import Field

from audit.errors import AuditError
from audit.stores.base import EventFilter
from audit.verify_export import verify_export
from runner.api.deps import AuditorDep, EventsDep, LedgerDep, SettingsDep
from runner.api.schemas import MAX_INT, IsoDateTime, Schema, Seq
from runner.core import Actor
from runner.errors import NotFoundError
from runner.events.ledger import translate

router = APIRouter(prefix="/v1/audit", tags=["audit"])
_EXPORT_ID = re.compile(r"[0-9a-f]{12}")


class AuditEvent(Schema):
    seq: int
    id: str
    ts: str
    actor: str
    tenant: str | None
    session: str | None
    type: str
    data: dict[str, Any]
    chain_hash: str


class AuditPage(Schema):
    events: list[AuditEvent]
    next_cursor: int | None


class ExportRequest(Schema):
    from_seq: Seq | None = None
    to_seq: Seq | None = None
    since: IsoDateTime | None = None
    until: IsoDateTime | None = None
    session: str | None = Field(default=None, min_length=1, max_length=64)


class ExportResult(Schema):
    id: str
    path: str
    manifest: dict[str, Any]


def _tenant(actor: Actor) -> str | None:
    # Auditors and admins see their own tenant's events; only a global admin sees all.
    return None if actor.sees_all_tenants else actor.tenant


def _ts(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if value is not None else None


async def _run(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except AuditError as exc:
        raise translate(exc) from exc


@router.get("", response_model=AuditPage)
async def list_events(
    ledger: LedgerDep,
    actor: AuditorDep,
    session: str | None = None,
    subject: Annotated[str | None, Query(alias="actor")] = None,
    type: str | None = None,
    since: Annotated[IsoDateTime | None, Query()] = None,
    until: Annotated[IsoDateTime | None, Query()] = None,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_INT, description="Cursor: events after this seq.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    """Events in seq order, filtered; follow ``nextCursor`` with ``after``."""
    flt = EventFilter(
        session=session,
        actor=subject,
        type=type,
        tenant=_tenant(actor),
        since=_ts(since),
        until=_ts(until),
    )
    page = await _run(ledger.query, flt, after_seq=after, limit=limit)
    events = [
        AuditEvent(
            seq=e.record.seq,
            id=e.event.id,
            ts=e.event.ts,
            actor=e.event.actor,
            tenant=e.event.tenant,
            session=e.event.session,
            type=e.event.type,
            data=e.event.data,
            chain_hash=e.record.chain_hash.hex(),
        )
        for e in page.entries
    ]
    return AuditPage(events=events, next_cursor=page.next_cursor)


@router.get("/checkpoints")
async def checkpoints(ledger: LedgerDep, actor: AuditorDep) -> dict[str, Any]:
    """Signed checkpoints (size, Merkle root, chain head, time, key id, signature)."""
    found = await _run(ledger.checkpoints)
    return {"checkpoints": [c.to_json() for c in found]}


@router.get("/{seq}/proof")
async def proof(
    seq: Annotated[int, PathParam(ge=0, le=MAX_INT)], ledger: LedgerDep, actor: AuditorDep
) -> dict[str, Any]:
    """RFC 6962 inclusion proof of event ``seq`` against the latest checkpoint covering it."""
    page = await _run(
        ledger.query, EventFilter(from_seq=seq, to_seq=seq, tenant=_tenant(actor)), limit=1
    )
    if not page.entries:
        raise NotFoundError(f"no audit event {seq}")
    bundle = await _run(ledger.proof, seq)
    result: dict[str, Any] = bundle.to_json()
    return result


@router.post("/exports", response_model=ExportResult, status_code=201)
async def export(
    body: ExportRequest,
    ledger: LedgerDep,
    events: EventsDep,
    actor: AuditorDep,
    settings: SettingsDep,
) -> ExportResult:
    """Write an export directory (events, checkpoints, keys, manifest) on the controller host."""
    export_id = uuid.uuid4().hex[:12]
    out = settings.data_dir / "exports" / export_id
    flt = EventFilter(
        session=body.session,
        tenant=_tenant(actor),
        since=_ts(body.since),
        until=_ts(body.until),
        from_seq=body.from_seq,
        to_seq=body.to_seq,
    )
    manifest = await _run(ledger.export, out, flt)
    await events.emit(
        "audit.exported",
        actor=actor,
        session=body.session,
        data={"export": export_id, "events": manifest.get("events")},
    )
    return ExportResult(id=export_id, path=str(out), manifest=manifest)


def _archive(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                tar.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)
    return buffer.getvalue()


@router.get("/exports/{export_id}/archive", response_class=Response)
async def export_archive(export_id: str, actor: AuditorDep, settings: SettingsDep) -> Response:
    """An export directory as a ``.tar.gz``, for verifying it off the controller host."""
    # The id names a directory under exports/: only our own hex ids, never a path.
    folder = settings.data_dir / "exports" / export_id
    if not _EXPORT_ID.fullmatch(export_id) or not (folder / "manifest.json").is_file():
        raise NotFoundError(f"no audit export {export_id}")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    tenant = _tenant(actor)
    if tenant is not None and manifest.get("filter", {}).get("tenant") != tenant:
        raise NotFoundError(f"no audit export {export_id}")  # another tenant's: not yours
    data = await asyncio.to_thread(_archive, folder)
    headers = {"Content-Disposition": f'attachment; filename="audit-{export_id}.tar.gz"'}
    return Response(data, media_type="application/gzip", headers=headers)


class Verification(Schema):
    ok: bool
    events: int
    checkpoints: int
    first_bad_seq: int | None
    reason: str | None
    summary: str


@router.get("/exports/{export_id}/verification", response_model=Verification)
async def export_verification(
    export_id: str, ledger: LedgerDep, actor: AuditorDep, settings: SettingsDep
) -> Verification:
    """Check an export as ``warden audit verify`` would (chain, Merkle roots, signatures),
    trusting the controller's own signing keys, not the keys the export carries."""
    folder = settings.data_dir / "exports" / export_id
    if not _EXPORT_ID.fullmatch(export_id) or not (folder / "manifest.json").is_file():
        raise NotFoundError(f"no audit export {export_id}")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    tenant = _tenant(actor)
    if tenant is not None and manifest.get("filter", {}).get("tenant") != tenant:
        raise NotFoundError(f"no audit export {export_id}")
    # The export's keys/ could have been swapped along with its events; the key directory
    # the ledger signs with is what a checkpoint must be signed by.
    result = await asyncio.to_thread(verify_export, folder, trusted_keys=ledger.keys.public)
    return Verification(
        ok=result.ok,
        events=result.events,
        checkpoints=result.checkpoints,
        first_bad_seq=result.first_bad_seq,
        reason=result.reason,
        summary=result.describe(),
    )
