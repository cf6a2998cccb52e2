"""``WS /v1/sessions/{id}/terminal``: the live terminal, and tickets to open it.

The socket first gets one binary frame that redraws the current screen, then every byte
the session's TTY writes, as binary frames. Text frames from the client are JSON:
``{"type": "input", "text": "…"}`` (operator: delivered exactly as ``/send`` delivers,
same checks, audited as input) and ``{"type": "resize", "cols": N, "rows": N}``
(operator). The server answers each with a JSON text frame (``sent``, ``resized`` or
``error`` with a code and message); a viewer's input is refused, never typed.

Authentication: an ``Authorization: Bearer`` header, or ``?ticket=`` from
``POST /v1/sessions/{id}/terminal/ticket`` (single use, short-lived). This route is a
plain Starlette route: the app-level ``authenticate`` dependency is for HTTP requests,
so the socket authenticates here, before it is accepted, and refuses otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import APIRouter
from starlette.websockets import WebSocket, WebSocketDisconnect

from runner.api.context import get_services
from runner.api.deps import ManagerDep, ServicesDep, ViewerDep
from runner.api.schemas import TerminalTicket
from runner.api.security import LOCAL_ACTOR
from runner.auth.roles import OPERATOR, VIEWER, has_any_role
from runner.core import Actor
from runner.errors import AuthenticationError, AuthorizationError, NotFoundError, WardenError
from runner.services import Services
from runner.sessions.live import LiveSession, Tap

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])

#: WebSocket close codes (RFC 6455 private range 4000-4999, as HTTP statuses + 4000).
_UNAUTHORIZED, _FORBIDDEN, _NOT_FOUND, _CONFLICT = 4401, 4403, 4404, 4409
_MIN_SIZE, _MAX_COLS, _MAX_ROWS = 10, 500, 200


@router.post("/{session_id}/terminal/ticket", response_model=TerminalTicket)
async def terminal_ticket(
    session_id: str, manager: ManagerDep, services: ServicesDep, actor: ViewerDep
) -> TerminalTicket:
    """A single-use ticket (valid a few seconds) to open the terminal WebSocket."""
    await manager.get(session_id, actor)
    ticket = services.tickets.issue(actor, session_id)
    return TerminalTicket(
        ticket=ticket,
        expires_in=services.tickets.ttl,
        url=f"/v1/sessions/{session_id}/terminal?ticket={ticket}",
    )


async def _actor(socket: WebSocket, services: Services, session_id: str) -> Actor:
    if not services.auth.enforced:
        return LOCAL_ACTOR
    ticket = socket.query_params.get("ticket")
    header = socket.headers.get("authorization")
    if header:
        return await services.auth.authenticate(header)
    if ticket:
        return services.tickets.redeem(ticket, session_id)
    raise AuthenticationError("log in: send a bearer token or a terminal ticket")


async def terminal(socket: WebSocket) -> None:
    """The terminal WebSocket (see the module docstring)."""
    services = get_services(socket)  # type: ignore[arg-type]
    session_id = socket.path_params["session_id"]
    try:
        actor = await _actor(socket, services, session_id)
        if not has_any_role(actor.roles, {VIEWER}):
            await socket.close(_FORBIDDEN, "the viewer role is needed to watch a terminal")
            return
        await services.manager.get(session_id, actor)
        live = services.manager.live_view(session_id)
    except WardenError as exc:
        if isinstance(exc, AuthenticationError | AuthorizationError):
            await services.recorder.emit(
                "auth.failed",
                actor=Actor(str(exc.details.get("subject") or "anonymous")),
                session=None,
                data={"path": socket.url.path, "message": exc.message, "transport": "websocket"},
            )
        await socket.close(_close_code(exc), exc.message[:120])
        return
    await socket.accept()
    await services.recorder.emit(
        "terminal.attached", actor=actor, session=session_id, data={"role": _role(actor)}
    )
    with live.tap() as (tap, snapshot):
        await socket.send_bytes(snapshot)
        pump = asyncio.create_task(_forward(socket, live, tap))
        try:
            await _serve_client(socket, services, session_id, actor)
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pump


def _close_code(exc: WardenError) -> int:
    if isinstance(exc, AuthenticationError):
        return _UNAUTHORIZED
    if isinstance(exc, AuthorizationError):
        return _FORBIDDEN
    return _NOT_FOUND if isinstance(exc, NotFoundError) else _CONFLICT


def _role(actor: Actor) -> str:
    return OPERATOR if has_any_role(actor.roles, {OPERATOR}) else VIEWER


async def _forward(socket: WebSocket, live: LiveSession, tap: Tap) -> None:
    while True:
        if tap.behind:
            await socket.send_bytes(live.resnap(tap))  # fell behind: redraw, then go on
        try:
            async with asyncio.timeout(1.0):
                chunk = await tap.queue.get()
        except TimeoutError:
            continue
        await socket.send_bytes(chunk)


async def _serve_client(
    socket: WebSocket, services: Services, session_id: str, actor: Actor
) -> None:
    while True:
        try:
            raw = await socket.receive_text()
        except (WebSocketDisconnect, KeyError, RuntimeError):
            return  # disconnected, or a binary frame (KeyError): both end the session here
        reply = await _handle(services, session_id, actor, raw)
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await socket.send_text(json.dumps(reply))


async def _handle(services: Services, session_id: str, actor: Actor, raw: str) -> dict[str, Any]:
    try:
        message = json.loads(raw)
    except ValueError:
        return _error("invalid_input", "frames must be JSON objects: {'type': 'input', …}")
    kind = message.get("type") if isinstance(message, dict) else None
    if kind not in ("input", "resize"):
        return _error("invalid_input", "type must be 'input' or 'resize'")
    if not has_any_role(actor.roles, {OPERATOR}):
        return _error("forbidden", f"{actor.subject} may watch but not type: operator role needed")
    try:
        if kind == "input":
            text = message.get("text")
            if not isinstance(text, str) or not text:
                return _error("invalid_input", "input needs a non-empty 'text'")
            await services.manager.send(session_id, text, actor)
            return {"type": "sent"}
        cols, rows = message.get("cols"), message.get("rows")
        if not _fits(cols, _MAX_COLS) or not _fits(rows, _MAX_ROWS):
            return _error("invalid_input", f"cols/rows must be integers, {_MIN_SIZE} to 500/200")
        await services.manager.resize(session_id, int(cols), int(rows), actor)
        return {"type": "resized", "cols": cols, "rows": rows}
    except WardenError as exc:
        return _error(exc.code, exc.message)


def _fits(value: object, upper: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and _MIN_SIZE <= value <= upper


def _error(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}
