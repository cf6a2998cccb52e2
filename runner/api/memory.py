"""``/v1/memory``: a key-value memory shared by a tenant's sessions and orchestrators."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BeforeValidator, ConfigDict, Field

from runner.api.deps import EventsDep, MemoryDep, OperatorDep, ViewerDep
from runner.api.schemas import Schema, Seq, json_integer, no_explicit_null
from runner.core import Actor, EventSink, utcnow
from runner.errors import InvalidInputError, NotFoundError
from runner.sessions.memory import (
    KEY_PATTERN,
    MAX_KEY_CHARS,
    MAX_TTL_SECONDS,
    MemoryEntry,
    MemoryStore,
    check_key,
    check_value,
)

router = APIRouter(prefix="/v1/memory", tags=["memory"])


#: A key as the path carries it (``{key:path}``: Aegis's keys are ``namespace/key``).
MemoryKey = Annotated[str, Path(pattern=KEY_PATTERN, max_length=MAX_KEY_CHARS)]


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


#: A lifetime (bounds before the integer check, so the schema states them).
TtlSeconds = Annotated[int, Field(ge=1, le=MAX_TTL_SECONDS), BeforeValidator(json_integer)]
TtlMs = Annotated[int, Field(ge=1, le=MAX_TTL_SECONDS * 1000), BeforeValidator(json_integer)]


def _at_most_one_lifetime(schema: dict[str, Any]) -> None:
    # Omitted rather than null (as the validators say), and never both.
    for name in ("ttlSeconds", "ttlMs"):
        prop = schema["properties"][name]
        kept = [o for o in prop.pop("anyOf", []) if o.get("type") != "null"]
        prop.update(kept[0] if kept else {})
        prop.pop("default", None)
    schema["not"] = {"required": ["ttlSeconds", "ttlMs"]}


class SetMemory(Schema):
    """Aegis's ``POST /v1/memory`` body (``ttlMs`` is the form Aegis's reference shows)."""

    model_config = ConfigDict(json_schema_extra=_at_most_one_lifetime)

    key: str = Field(
        pattern=KEY_PATTERN, max_length=MAX_KEY_CHARS, description="e.g. ``project/context``."
    )
    value: Any = Field(description="Any JSON value (Aegis sends text; at most 64 KiB encoded).")
    ttl_seconds: Annotated[TtlSeconds | None, BeforeValidator(no_explicit_null)] = Field(
        default=None, description="Seconds until the entry reads as absent (at most 30 days)."
    )
    ttl_ms: Annotated[TtlMs | None, BeforeValidator(no_explicit_null)] = Field(
        default=None, description="The same in milliseconds."
    )


class AegisEntry(Schema):
    """A memory entry in Aegis's own field names (snake_case, times in Unix ms)."""

    model_config = ConfigDict(alias_generator=None)

    key: str
    value: Any
    namespace: str
    created_at: int
    updated_at: int
    expires_at: int | None = None
    version: int


class SetMemoryOut(Schema):
    ok: bool = True
    entry: AegisEntry


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _aegis(entry: MemoryEntry) -> AegisEntry:
    return AegisEntry(
        key=entry.key,
        value=entry.value,
        namespace=entry.namespace,
        created_at=_ms(entry.created_at or entry.updated_at),
        updated_at=_ms(entry.updated_at),
        expires_at=_ms(entry.expires_at) if entry.expires_at is not None else None,
        version=entry.version,
    )


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


async def _write(
    store: MemoryStore,
    events: EventSink,
    actor: Actor,
    key: str,
    value: Any,
    *,
    if_version: int | None = None,
    ttl: timedelta | None = None,
) -> MemoryEntry:
    value = check_value(value)
    key = check_key(key)
    # Recorded before the write (if the ledger cannot record it, nothing is written).
    # The ledger gets a digest, not the value: memory may hold notes the audit trail
    # should not copy, while the digest still proves what was written.
    digest = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()
    data: dict[str, Any] = {"key": key, "sha256": digest, "ifVersion": if_version}
    if ttl is not None:
        data["ttlSeconds"] = ttl.total_seconds()
    await events.emit("memory.write", actor=actor, session=None, data=data)
    expires = utcnow() + ttl if ttl is not None else None
    return await asyncio.to_thread(
        store.put, actor.tenant, key, value, actor.subject, if_version, expires
    )


@router.post("", response_model=SetMemoryOut)
async def set_entry(
    body: SetMemory, store: MemoryDep, events: EventsDep, actor: OperatorDep
) -> SetMemoryOut:
    """Aegis's write: ``{key, value, ttlSeconds?}``; answers ``{ok, entry}`` as Aegis does."""
    if body.ttl_seconds is not None and body.ttl_ms is not None:
        raise InvalidInputError("give ttlSeconds or ttlMs, not both")
    ttl = None
    if body.ttl_seconds is not None:
        ttl = timedelta(seconds=body.ttl_seconds)
    elif body.ttl_ms is not None:
        ttl = timedelta(milliseconds=body.ttl_ms)
    entry = await _write(store, events, actor, body.key, body.value, ttl=ttl)
    return SetMemoryOut(entry=_aegis(entry))


@router.get("/{key:path}", response_model=MemoryOut)
async def get_entry(key: MemoryKey, store: MemoryDep, actor: ViewerDep) -> MemoryOut:
    entry = await asyncio.to_thread(store.get, actor.tenant, check_key(key))
    if entry is None:
        raise NotFoundError(f"no memory entry {key!r}")
    return _out(entry)


@router.put("/{key:path}", response_model=MemoryOut)
async def put_entry(
    key: MemoryKey, body: PutMemory, store: MemoryDep, events: EventsDep, actor: OperatorDep
) -> MemoryOut:
    """Write an entry; with ``ifVersion``, 409 unless it is still at that version."""
    return _out(await _write(store, events, actor, key, body.value, if_version=body.if_version))


@router.delete("/{key:path}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_entry(
    key: MemoryKey, store: MemoryDep, events: EventsDep, actor: OperatorDep
) -> Response:
    key = check_key(key)
    await events.emit("memory.delete", actor=actor, session=None, data={"key": key})
    if not await asyncio.to_thread(store.delete, actor.tenant, key):
        raise NotFoundError(f"no memory entry {key!r}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
