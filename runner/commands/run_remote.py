"""``RemoteTarget``: a ``warden run`` session on a Warden server, through ``runner.client``.

It lives with the CLI rather than in ``runner.ci`` because the client sits above the
API layer (it returns the API's schemas); ``runner.ci`` only sees the ``RunTarget`` it
implements.
"""

from __future__ import annotations

import asyncio
import io
import tarfile
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import TypeVar

from runner import errors
from runner.api.schemas import SessionOut
from runner.ci.events import EventView
from runner.ci.local import is_run_artifact
from runner.ci.target import RunSpec, SessionView
from runner.client import (
    AsyncWardenClient,
    WardenApiError,
    WardenArgumentError,
    WardenClientError,
)

T = TypeVar("T")

#: The API's error codes (``{"error": {"code": …}}``) back to the errors that made them,
#: so a run over a server exits with the code an embedded run would.
_ERRORS: dict[str, type[errors.WardenError]] = {
    "invalid_input": errors.InvalidInputError,
    "not_found": errors.NotFoundError,
    "conflict": errors.ConflictError,
    "unauthenticated": errors.AuthenticationError,
    "forbidden": errors.AuthorizationError,
    "audit_unavailable": errors.AuditUnavailableError,
    "sandbox_error": errors.SandboxError,
    "sandbox_not_found": errors.SandboxNotFoundError,
    "image_not_found": errors.ImageNotFoundError,
}
_PAGE = 1000


def warden_error(exc: WardenApiError) -> errors.WardenError:
    """The Warden error an API error stands for."""
    message = f"{exc.message} (HTTP {exc.status})"
    if exc.code == "policy_denied":
        return errors.PolicyDeniedError(
            message, rule=str(exc.details.get("rule")), details=exc.details
        )
    if exc.code == "validation_error" or exc.status == 422:
        return errors.InvalidInputError(message, details=exc.details)
    return _ERRORS.get(exc.code, errors.WardenError)(message, details=exc.details)


async def _asked(pending: Awaitable[T]) -> T:
    try:
        return await pending
    except WardenApiError as exc:
        raise warden_error(exc) from exc
    except WardenArgumentError as exc:
        raise errors.InvalidInputError(str(exc)) from exc
    except WardenClientError as exc:  # unreachable: an infrastructure error
        raise errors.WardenError(str(exc)) from exc


async def _fetched(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


def view_from(session: SessionOut) -> SessionView:
    return SessionView(
        id=session.id,
        state=session.state,
        details=dict(session.details),
        error=session.error,
        usage=dict(session.usage),
        model=session.model,
    )


class RemoteTarget:
    """Sessions on the server the client talks to (the client carries the token)."""

    def __init__(self, client: AsyncWardenClient) -> None:
        self._client = client

    async def create(self, spec: RunSpec) -> str:
        body = {
            "workDir": str(spec.work_dir),
            "prompt": spec.prompt,
            "policy": spec.policy,
            "image": spec.image,
            "model": spec.model,
            "env": dict(spec.env),
            "unattended": True,
        }
        return (await _asked(self._client.create_session(body))).id

    async def session(self, session_id: str) -> SessionView:
        return view_from(await _asked(self._client.get_session(session_id)))

    async def events(self, session_id: str, after: int | None) -> list[EventView]:
        found: list[EventView] = []
        cursor = after
        while True:
            page = await _asked(
                self._client.audit_events(session=session_id, after=cursor, limit=_PAGE)
            )
            found += [EventView(e.seq, e.type, e.actor, dict(e.data)) for e in page.events]
            cursor = page.next_cursor
            if cursor is None:
                return found

    async def delete(self, session_id: str) -> SessionView:
        return view_from(await _asked(self._client.delete_session(session_id)))

    async def download(self, session_id: str, out: Path) -> list[Path]:
        listing = await _asked(self._client.artifacts(session_id))
        copied: list[Path] = []
        for artifact in listing.artifacts:
            name = artifact.name
            if not is_run_artifact(name) or "/" in name:
                continue
            data = await _asked(_fetched(self._client.artifact(session_id, name)))
            await asyncio.to_thread((out / name).write_bytes, data)
            copied.append(out / name)
        return copied

    async def export_audit(self, session_id: str, out: Path) -> None:
        made = await _asked(self._client.create_export(session=session_id))
        archive = await _asked(_fetched(self._client.export_archive(made.id)))
        await asyncio.to_thread(_unpack, archive, out)


def _unpack(archive: bytes, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        # The "data" filter refuses absolute paths, links out of ``out`` and devices.
        tar.extractall(out, filter="data")
