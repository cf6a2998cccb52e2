"""Uploaded archives waiting to become a session's workspace.

``POST /v1/workspaces`` streams the request body to a file under the data dir (never
into memory), stopping at the server's byte cap (413), then checks every entry
(``archive.scan_archive``: 422 for a hostile or broken archive). An upload belongs to
its uploader's tenant, expires after a while, and is used at most once: the session
that names it takes the file into its own directory and the upload is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from runner.core import Actor, EventSink, utcnow
from runner.errors import (
    NotFoundError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    WardenError,
)
from runner.workspace.archive import CONTENT_TYPES, ArchiveKind, scan_archive
from runner.workspace.limits import format_size

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Upload:
    """One uploaded archive, checked and waiting to be used."""

    id: str
    tenant: str
    owner: str
    kind: ArchiveKind
    size: int  # bytes uploaded
    entries: int
    declared_bytes: int  # what the entries say they expand to
    created_at: datetime
    expires_at: datetime


class UploadStore(Protocol):
    """Where uploads are recorded (``runner.store.uploads``)."""

    def add(self, upload: Upload) -> None: ...

    def get(self, upload_id: str) -> Upload | None: ...

    def remove(self, upload_id: str) -> bool:
        """Delete the row; True only for the one caller that removed it."""
        ...

    def expired(self, now: datetime) -> list[Upload]: ...


class Uploads:
    """Receives, hands out and expires uploads (see the module docstring)."""

    def __init__(
        self,
        store: UploadStore,
        directory: Path,
        *,
        max_bytes: int,
        ttl_seconds: int,
        events: EventSink,
    ) -> None:
        self._store = store
        self._dir = directory
        self._max_bytes = max_bytes
        self._ttl = ttl_seconds
        self._events = events

    def path(self, upload_id: str) -> Path:
        return self._dir / f"{upload_id}.upload"

    async def receive(
        self,
        chunks: AsyncIterator[bytes],
        *,
        content_type: str | None,
        length: int | None,
        actor: Actor,
    ) -> Upload:
        """Store the body, check it, and record the upload.

        Raises:
            UnsupportedMediaTypeError: not a tar, tar.gz or zip content type (415).
            PayloadTooLargeError: over the server's upload cap (413).
            InvalidInputError: the archive is broken or has a refused entry (422).
        """
        try:
            kind = _kind(content_type)
            if length is not None and length > self._max_bytes:
                raise self._too_large()
            upload_id = str(uuid.uuid4())
            path = self.path(upload_id)
            size = await self._save(chunks, path)
            try:
                summary = await asyncio.to_thread(scan_archive, path, kind)
            except BaseException:
                await asyncio.to_thread(path.unlink, missing_ok=True)
                raise
        except WardenError as exc:
            await self._refused(exc, actor, content_type)
            raise
        now = utcnow()
        upload = Upload(
            upload_id, actor.tenant, actor.subject, kind, size, summary.entries,
            summary.declared_bytes, now, now + timedelta(seconds=self._ttl),
        )  # fmt: skip
        try:
            await self._events.emit(
                "workspace.uploaded", actor=actor, session=None, data=describe(upload)
            )
            await asyncio.to_thread(self._store.add, upload)
        except BaseException:
            await asyncio.to_thread(path.unlink, missing_ok=True)
            raise
        return upload

    async def _save(self, chunks: AsyncIterator[bytes], path: Path) -> int:
        size = 0
        out = await asyncio.to_thread(_create, path)
        try:
            with out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > self._max_bytes:
                        raise self._too_large()
                    await asyncio.to_thread(out.write, chunk)
        except BaseException:
            await asyncio.to_thread(path.unlink, missing_ok=True)
            raise
        return size

    def _too_large(self) -> PayloadTooLargeError:
        return PayloadTooLargeError(
            f"the upload is larger than this server accepts ({format_size(self._max_bytes)});"
            " send a smaller archive (leave out build output and dependencies), or ask the"
            " operator to raise WARDEN_UPLOAD_MAX_BYTES",
            details={"limit": self._max_bytes},
        )

    async def _refused(self, exc: WardenError, actor: Actor, content_type: str | None) -> None:
        data = {"code": exc.code, "reason": exc.message, "contentType": content_type or ""}
        await self._events.emit("workspace.refused", actor=actor, session=None, data=data)

    async def get(self, upload_id: str, actor: Actor) -> Upload:
        """The actor's tenant's upload (404 for another tenant's, or an expired one)."""
        upload = await asyncio.to_thread(self._store.get, upload_id)
        if upload is None or upload.tenant != actor.tenant or upload.expires_at <= utcnow():
            raise NotFoundError(
                f"no upload {upload_id} (uploads expire after {self._ttl} s and can be used"
                " once; upload the archive again)",
                details={"upload": upload_id},
            )
        return upload

    async def take(self, upload_id: str, actor: Actor, dest: Path) -> Upload:
        """Use the upload: its file moves to ``dest`` and the upload is gone.

        Raises:
            NotFoundError: no such upload in the actor's tenant, or already used.
        """
        upload = await self.get(upload_id, actor)
        if not await asyncio.to_thread(self._store.remove, upload_id):
            raise NotFoundError(
                f"upload {upload_id} was already used", details={"upload": upload_id}
            )
        await asyncio.to_thread(_move, self.path(upload_id), dest)
        return upload

    async def discard(self, upload_id: str, actor: Actor) -> None:
        """Delete an unused upload of the actor's tenant."""
        await self.get(upload_id, actor)
        await self._events.emit(
            "workspace.discarded", actor=actor, session=None, data={"id": upload_id}
        )
        if await asyncio.to_thread(self._store.remove, upload_id):
            await asyncio.to_thread(self.path(upload_id).unlink, missing_ok=True)

    async def sweep(self) -> int:
        """Remove expired uploads and files no upload owns any more; how many went."""
        expired = await asyncio.to_thread(self._store.expired, utcnow())
        for upload in expired:
            await self._events.emit(
                "workspace.expired", actor=Actor.system(), session=None, data={"id": upload.id}
            )
            if await asyncio.to_thread(self._store.remove, upload.id):
                await asyncio.to_thread(self.path(upload.id).unlink, missing_ok=True)
        return len(expired) + await asyncio.to_thread(self._orphans)

    def _orphans(self) -> int:
        """Files left by a crash mid-upload (no row), once older than the expiry."""
        removed = 0
        cutoff = time.time() - self._ttl
        for path in self._dir.glob("*.upload") if self._dir.is_dir() else ():
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < cutoff and self._store.get(path.stem) is None:
                    path.unlink()
                    removed += 1
        return removed

    async def sweep_forever(self, interval: float = 60.0) -> None:
        """Sweep every ``interval`` seconds until cancelled."""
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("sweeping expired uploads failed; trying again later")
            await asyncio.sleep(interval)


def _create(path: Path) -> BinaryIO:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    return os.fdopen(fd, "wb")


def _move(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    src.replace(dest)


def describe(upload: Upload) -> dict[str, Any]:
    """The upload as the API and the ledger show it."""
    return {
        "id": upload.id,
        "kind": str(upload.kind),
        "size": upload.size,
        "entries": upload.entries,
        "declaredBytes": upload.declared_bytes,
        "expiresAt": upload.expires_at.isoformat(),
    }


def _kind(content_type: str | None) -> ArchiveKind:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    kind = CONTENT_TYPES.get(media)
    if kind is None:
        raise UnsupportedMediaTypeError(
            f"Content-Type {media or '(none)'!r} is not an archive this endpoint takes; send"
            " the archive as the raw body with Content-Type application/x-tar,"
            " application/gzip (a .tar.gz) or application/zip",
            details={"accepted": sorted(CONTENT_TYPES)},
        )
    return kind
