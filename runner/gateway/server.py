"""The per-session gateway: one HTTP server on a unix socket mounted into the sandbox.

Claude Code reaches it (through the in-container loopback forwarder) for two things:
model calls, relayed upstream with the real key injected after the allowlist and the
token budget are checked; and the PreToolUse hook, answered by the policy (``decide``).
Every request must carry the session's opaque token.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import secrets
import socket
import time
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from runner.errors import InvalidInputError, WardenError
from runner.gateway.anthropic_errors import error_response
from runner.gateway.egress import EgressProxy
from runner.gateway.front import GatewayFront, abstract_listener
from runner.gateway.hooks import (
    NO_POLICY,
    DecideFn,
    EventFn,
    HookDecision,
    ToolCall,
    answer_pre_tool_use,
    hook_output,
    json_object,
)
from runner.gateway.relay import Exchange, Upstream, relay
from runner.gateway.serving import BackgroundServer, bind_unix
from runner.gateway.usage import Usage

log = logging.getLogger(__name__)

_MODEL_BODY_LIMIT = 64 * 1024 * 1024  # a long conversation with images stays well below
_HOOK_BODY_LIMIT = 4 * 1024 * 1024  # a PreToolUse input carries a whole file to write
_EVENT_BODY_LIMIT = 64 * 1024  # other hook events are notes, not payloads
#: Claude Code's hook events (other than PreToolUse, which has its own route), by the
#: name a route may use in any case or with dashes. Anything else is not an event the
#: sandbox may record: it must never name a type the controller owns.
HOOK_EVENTS = frozenset(
    {
        "posttooluse",
        "posttoolusefailure",
        "notification",
        "userpromptsubmit",
        "stop",
        "subagentstart",
        "subagentstop",
        "precompact",
        "sessionstart",
        "sessionend",
        "permissionrequest",
    }
)
# Model calls can stream for many minutes; connecting must not take long.
_UPSTREAM_TIMEOUT = httpx.Timeout(connect=10.0, read=600.0, write=60.0, pool=30.0)


class Gateway:
    """One session's gateway on ``socket_path``; ``start`` it in the controller's loop."""

    def __init__(
        self,
        *,
        session_id: str,
        socket_path: Path,
        token: str,
        upstream_url: str,
        upstream_key: str | None,
        allowed_models: frozenset[str] = frozenset(),
        max_tokens: int | None = None,
        decide: DecideFn | None = None,
        on_event: EventFn | None = None,
        http_client: httpx.AsyncClient | None = None,
        egress: EgressProxy | None = None,
    ) -> None:
        if not token:
            # An empty token would let any caller through the constant-time compare.
            raise InvalidInputError("the gateway needs a non-empty session token")
        self.session_id = session_id
        self.socket_path = socket_path
        self._token = token.encode()
        self._upstream = Upstream(upstream_url, upstream_key)
        self._allowed = allowed_models
        self._max_tokens = max_tokens
        self._decide = decide
        self._on_event = on_event
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(timeout=_UPSTREAM_TIMEOUT)
        self._usage = Usage()
        self._server: BackgroundServer | None = None
        # With no egress the socket is the app's alone: no proxy exists in the session.
        self._egress = egress
        self._front: GatewayFront | None = None
        # What the sandbox posts is the agent's word, and the ledger keeps all of it:
        # a flood must not fill the ledger (or drown the events that matter).
        self._hook_calls = RateLimit(per_second=20.0, burst=100)
        self._event_calls = RateLimit(per_second=2.0, burst=20)
        self._inode: int | None = None

    @property
    def usage(self) -> Usage:
        """Usage of this session so far (an immutable snapshot)."""
        return self._usage

    async def start(self) -> None:
        """Listen on the socket (replacing a stale one left by a previous run).

        Raises:
            WardenError: the socket path is taken by something else, or binding failed.
        """
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        if self.socket_path.is_socket():
            self.socket_path.unlink()
        elif self.socket_path.exists():
            raise WardenError(f"{self.socket_path} exists and is not a socket; not replacing it")
        listener = bind_unix(self.socket_path)
        if self._egress is None:
            server = BackgroundServer(self.app(), sock=listener)
            await server.start()
            self._server = server
        else:
            try:
                await self._start_front(listener)
            except BaseException:
                listener.close()
                raise
        self._inode = self.socket_path.stat().st_ino
        # 0666: the sandbox's user is not the controller's, and must connect. This is
        # safe because only this session's container mounts the socket's directory,
        # and every request must still present the session token.
        self.socket_path.chmod(0o666)

    async def _start_front(self, listener: socket.socket) -> None:
        assert self._egress is not None
        name = f"warden-gateway-{secrets.token_hex(16)}"
        try:
            inner = abstract_listener(name)
        except OSError as exc:
            raise WardenError(f"cannot listen for the gateway's app: {exc}") from exc
        server = BackgroundServer(self.app(), sock=inner)
        await server.start()
        self._server = server
        front = GatewayFront(listener, app_address="\0" + name, proxy=self._egress)
        await front.start()
        self._front = front

    async def close(self) -> None:
        """Stop serving, close the upstream client (if ours) and remove the socket."""
        if self._front is not None:
            await self._front.close()
            self._front = None
        if self._server is not None:
            await self._server.close()
            self._server = None
        if self._owns_client:
            await self._client.aclose()
        with contextlib.suppress(FileNotFoundError):
            # Only our own socket: after a takeover another replica has bound a new one
            # at this path, and removing it would cut the session off from its gateway.
            if self.socket_path.stat().st_ino == self._inode:
                self.socket_path.unlink()

    def app(self) -> Starlette:
        """The ASGI app (also usable without the socket, e.g. in-process tests)."""
        return Starlette(
            routes=[
                Route("/v1/messages", self._messages, methods=["POST"]),
                Route("/v1/messages/count_tokens", self._count_tokens, methods=["POST"]),
                Route("/v1/hooks/pre-tool-use", self._pre_tool_use, methods=["POST"]),
                Route("/v1/hooks/{event}", self._hook_event, methods=["POST"]),
                Route("/{path:path}", self._not_found, methods=["GET", "POST", "PUT", "DELETE"]),
            ]
        )

    async def _messages(self, request: Request) -> Response:
        return await self._model_call(request, counts_usage=True)

    async def _count_tokens(self, request: Request) -> Response:
        return await self._model_call(request, counts_usage=False)

    async def _model_call(self, request: Request, *, counts_usage: bool) -> Response:
        refused = await self._authenticate(request)
        if refused is not None:
            return refused
        raw = await _read_body(request, _MODEL_BODY_LIMIT)
        model = _model_of(raw)
        if raw is None or model is None:
            return error_response(400, "the request must be a JSON object with a string 'model'")
        refused = await self._check_model(model, counts_usage=counts_usage)
        if refused is not None:
            return refused

        async def done(exchange: Exchange) -> None:
            await self._record(model, request.url.path, exchange, counts_usage=counts_usage)

        headers = dict(request.headers.items())
        return await relay(
            self._client, self._upstream, request.url.path, request.url.query, headers, raw, done
        )

    async def _check_model(self, model: str, *, counts_usage: bool) -> Response | None:
        # Patterns as in policy files ("claude-*"); exact names match themselves.
        if self._allowed and not any(fnmatchcase(model, p) for p in self._allowed):
            allowed = ", ".join(sorted(self._allowed))
            message = f"model {model!r} is not allowed in this session; allowed: {allowed}"
            refusal: dict[str, Any] = {"model": model, "reason": "model_not_allowed"}
            await self._emit("model.refused", {**refusal, "allowed": sorted(self._allowed)})
            return error_response(403, message)
        spent = self._usage.tokens.total
        if counts_usage and self._max_tokens is not None and spent >= self._max_tokens:
            message = f"token budget of this session is spent ({spent} of {self._max_tokens})"
            refusal = {"model": model, "reason": "token_budget_spent", "used": spent}
            await self._emit("model.refused", {**refusal, "budget": self._max_tokens})
            return error_response(403, message)
        return None

    async def _record(
        self, model: str, path: str, exchange: Exchange, *, counts_usage: bool
    ) -> None:
        if counts_usage and exchange.status < 400:
            self._usage = self._usage.add(exchange.model or model, exchange.tokens)
        tokens = exchange.tokens
        await self._emit(
            "model.request",
            {
                "path": path,
                "model": exchange.model or model,
                "status": exchange.status,
                "input_tokens": tokens.input_tokens,
                "output_tokens": tokens.output_tokens,
                "cache_creation_input_tokens": tokens.cache_creation_input_tokens,
                "cache_read_input_tokens": tokens.cache_read_input_tokens,
                "stop_reason": exchange.stop_reason,
                "seconds": round(exchange.seconds, 3),
                "error": exchange.error,
            },
        )

    async def _pre_tool_use(self, request: Request) -> Response:
        refused = await self._authenticate(request)
        if refused is not None:
            return refused
        if not self._hook_calls.take():
            # Fail closed without a ledger entry per call: a denied call runs nothing.
            log.warning("session %s: PreToolUse calls over the rate limit", self.session_id)
            return JSONResponse(hook_output(HookDecision("deny", "hook rate limit", None)))
        raw = await _read_body(request, _HOOK_BODY_LIMIT)
        answer, event = await answer_pre_tool_use(self.session_id, raw, self._decide or _no_policy)
        try:
            await self._on_event_strict("tool.decision", event)
        except Exception:
            # The decision could not be audited, so the tool must not run: deny.
            log.exception("auditing a tool decision failed; denying the tool call")
            answer = hook_output(HookDecision("deny", "the decision could not be audited", None))
        return JSONResponse(answer)

    async def _hook_event(self, request: Request) -> Response:
        refused = await self._authenticate(request)
        if refused is not None:
            return refused
        event = str(request.path_params["event"]).replace("-", "").lower()
        if event not in HOOK_EVENTS:
            return error_response(404, "unknown hook event")
        if not self._event_calls.take():
            return error_response(429, "too many hook events; slow down")
        raw = await _read_body(request, _EVENT_BODY_LIMIT)
        if raw is None:
            return error_response(413, f"a hook event body is at most {_EVENT_BODY_LIMIT} bytes")
        await self._emit(f"hook.{event}", json_object(raw) or {})
        return JSONResponse({})

    async def _not_found(self, request: Request) -> Response:
        refused = await self._authenticate(request)
        return refused or error_response(404, f"the gateway does not serve {request.url.path}")

    async def _authenticate(self, request: Request) -> Response | None:
        presented = request.headers.get("x-api-key", "")
        bearer = request.headers.get("authorization", "")
        if not presented and bearer.lower().startswith("bearer "):
            presented = bearer[7:].strip()
        # Constant time: a timing oracle must not reveal the token byte by byte.
        if presented and hmac.compare_digest(presented.encode(), self._token):
            return None
        await self._emit("auth.failed", {"path": request.url.path, "presented": bool(presented)})
        return error_response(401, "invalid or missing session token (x-api-key)")

    async def _emit(self, name: str, data: dict[str, Any]) -> None:
        """Report an event; a failing listener is logged, the request carries on."""
        try:
            await self._on_event_strict(name, data)
        except Exception:
            log.exception("gateway event %s for session %s was not recorded", name, self.session_id)

    async def _on_event_strict(self, name: str, data: dict[str, Any]) -> None:
        if self._on_event is not None:
            # The session is this gateway's, whatever the body says (the sandbox must not
            # speak for another session): set last, so a body's session_id is overwritten.
            await self._on_event(name, {**data, "session_id": self.session_id})


class RateLimit:
    """A token bucket: ``burst`` calls at once, then ``per_second``."""

    def __init__(self, *, per_second: float, burst: int) -> None:
        self._rate = per_second
        self._burst = float(burst)
        self._tokens = float(burst)
        self._at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


async def _no_policy(_call: ToolCall) -> HookDecision:
    return NO_POLICY


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None when it is larger than ``limit``."""
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > limit:
            return None
    return bytes(chunks)


def _model_of(raw: bytes | None) -> str | None:
    body = json_object(raw)
    model = body.get("model") if body else None
    return model if isinstance(model, str) and model else None
