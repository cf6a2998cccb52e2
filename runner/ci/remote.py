"""``RemoteTarget``: a run's session on a Warden server, through the REST API."""

from __future__ import annotations

import asyncio
import io
import tarfile
from pathlib import Path
from typing import Any

import httpx

from runner import errors
from runner.ci.events import EventView
from runner.ci.local import is_run_artifact
from runner.ci.target import RunSpec, SessionView
from runner.core import SessionState

#: The API's error codes (``{"error": {"code": …}}``) back to the errors that made them.
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


def api_error(response: httpx.Response) -> errors.WardenError:
    """The Warden error an API error response stands for."""
    try:
        body = response.json()["error"]
        code, message = str(body["code"]), str(body["message"])
        details: dict[str, Any] = dict(body.get("details") or {})
    except (ValueError, KeyError, TypeError):
        code, message, details = "http_error", response.text[:500], {}
    message = f"{message} (HTTP {response.status_code})"
    if code == "policy_denied":
        return errors.PolicyDeniedError(message, rule=str(details.get("rule")), details=details)
    if code == "validation_error" or response.status_code == 422:
        return errors.InvalidInputError(message, details=details)
    return _ERRORS.get(code, errors.WardenError)(message, details=details)


def view_from(body: dict[str, Any]) -> SessionView:
    return SessionView(
        id=str(body["id"]),
        state=SessionState(body["state"]),
        details=dict(body.get("details") or {}),
        error=body.get("error"),
        usage=dict(body.get("usage") or {}),
        model=body.get("model"),
    )


class RemoteTarget:
    """Sessions on the server at ``client.base_url`` (the client carries the token)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._http = client

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise errors.WardenError(
                f"cannot reach Warden at {self._http.base_url}: {type(exc).__name__}: {exc}"
            ) from exc
        if response.status_code >= 400:
            raise api_error(response)
        return response

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
        response = await self._call("POST", "/v1/sessions", json=body)
        return str(response.json()["id"])

    async def session(self, session_id: str) -> SessionView:
        return view_from((await self._call("GET", f"/v1/sessions/{session_id}")).json())

    async def events(self, session_id: str, after: int | None) -> list[EventView]:
        found: list[EventView] = []
        cursor = after
        while True:
            params: dict[str, Any] = {"session": session_id, "limit": _PAGE}
            if cursor is not None:
                params["after"] = cursor
            page = (await self._call("GET", "/v1/audit", params=params)).json()
            found += [
                EventView(int(e["seq"]), str(e["type"]), str(e["actor"]), dict(e["data"]))
                for e in page["events"]
            ]
            cursor = page.get("nextCursor")
            if cursor is None:
                return found

    async def delete(self, session_id: str) -> SessionView:
        return view_from((await self._call("DELETE", f"/v1/sessions/{session_id}")).json())

    async def download(self, session_id: str, out: Path) -> list[Path]:
        listing = (await self._call("GET", f"/v1/sessions/{session_id}/artifacts")).json()
        copied: list[Path] = []
        for artifact in listing["artifacts"]:
            name = str(artifact["name"])
            if not is_run_artifact(name) or "/" in name:
                continue
            response = await self._call("GET", f"/v1/sessions/{session_id}/artifacts/{name}")
            await asyncio.to_thread((out / name).write_bytes, response.content)
            copied.append(out / name)
        return copied

    async def export_audit(self, session_id: str, out: Path) -> None:
        made = (await self._call("POST", "/v1/audit/exports", json={"session": session_id})).json()
        archive = await self._call("GET", f"/v1/audit/exports/{made['id']}/archive")
        await asyncio.to_thread(_unpack, archive.content, out)


def _unpack(archive: bytes, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        # The "data" filter refuses absolute paths, links out of ``out`` and devices.
        tar.extractall(out, filter="data")
