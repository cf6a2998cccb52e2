"""``/v1/memory``: a key-value memory shared by a tenant's sessions and orchestrators."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import Field

from runner.api.deps import EventsDep, MemoryDep, OperatorDep, ViewerDep
from runner.api.schemas import Schema, Seq
from runner.errors import NotFoundError
from runner.sessions.memory import KEY_PATTERN, MemoryEntry, check_key, check_value

router = APIRouter(prefix="/v1/memory", tags=["memory"])


#: A key as the path carries it.
MemoryKey = Annotated[str, Path(pattern=KEY_PATTERN)]


class PutMemory(Schema):
    value: Any = Field(description="Any JSON value (at most 64 KiB encoded).")
    if_version: Seq | None = Field(
        default=None,
        description="Write only if the entry is at this version (0: absent).",
    )


class MemoryOut(Schema):
    key: str
    value: Any
    version: int
    updated_by: str
    updated_at: datetime


class MemoryList(Schema):
    entries: list[MemoryOut]


def _out(entry: MemoryEntry) -> MemoryOut:
    return MemoryOut(
        key=entry.key,
        value=entry.value,
        version=entry.version,
        updated_by=entry.updated_by,
        updated_at=entry.updated_at,
    )


@router.get("", response_model=MemoryList)
async def list_memory(
    store: MemoryDep,
    actor: ViewerDep,
    prefix: Annotated[str, Query(max_length=200)] = "",
) -> MemoryList:
    """The tenant's entries (optionally those whose key starts with ``prefix``)."""
    found = await asyncio.to_thread(store.find, actor.tenant, prefix)
    return MemoryList(entries=[_out(e) for e in found])


@router.get("/{key}", response_model=MemoryOut)
async def get_entry(key: MemoryKey, store: MemoryDep, actor: ViewerDep) -> MemoryOut:
    entry = await asyncio.to_thread(store.get, actor.tenant, check_key(key))
    if entry is None:
        raise NotFoundError(f"no memory entry {key!r}")
    return _out(entry)


@router.put("/{key}", response_model=MemoryOut)
async def put_entry(
    key: MemoryKey, body: PutMemory, store: MemoryDep, events: EventsDep, actor: OperatorDep
) -> MemoryOut:
    """Write an entry; with ``ifVersion``, 409 unless it is still at that version."""
    value = check_value(body.value)
    key = check_key(key)
    # Recorded before the write (if the ledger cannot record it, nothing is written).
    # The ledger gets a digest, not the value: memory may hold notes the audit trail
    # should not copy, while the digest still proves what was written.
    digest = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()
    await events.emit(
        "memory.write",
        actor=actor,
        session=None,
        data={"key": key, "sha256": digest, "ifVersion": body.if_version},
    )
    entry = await asyncio.to_thread(
        store.put, actor.tenant, key, value, actor.subject, body.if_version
    )
    return _out(entry)


@router.delete("/{key}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_entry(
    key: MemoryKey, store: MemoryDep, events: EventsDep, actor: OperatorDep
) -> Response:
    key = check_key(key)
    await events.emit("memory.delete", actor=actor, session=None, data={"key": key})
    if not await asyncio.to_thread(store.delete, actor.tenant, key):
        raise NotFoundError(f"no memory entry {key!r}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
