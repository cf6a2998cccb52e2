"""Resource subscriptions: ``notifications/resources/updated`` when a session changes.

The SDK serves two protocol eras and each has its own way in:

- 2025 (the ``initialize`` handshake): ``resources/subscribe`` and
  ``resources/unsubscribe``; the server then sends updates on the connection whenever
  it likes. That needs a connection that outlives its requests: ``warden mcp`` over
  stdio (one connection per process: ``Notifier``). ``/mcp`` is stateless, so there
  it is refused, and not advertised (``refuse_legacy``).
- 2026-07-28: ``subscriptions/listen``, a request whose response *is* the stream of
  updates. It needs no connection state, so it works over stdio and over the
  stateless ``/mcp`` alike (``listen``); the SDK's own handler is replaced because it
  would deliver any URI to anyone who asks.

Either way every URI is admitted as the caller: a session URI only if the caller may
read that session (else ``not_found``, as a read says), and the changes come from the
caller's own feed (``Warden.changes``: its tenant's sessions, as ``GET /v1/events``),
so nobody hears of a session they cannot read.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from anyio.abc import TaskGroup, TaskStatus
from mcp.server import ServerRequestContext
from mcp.server.context import CallNext, HandlerResult
from mcp.server.session import ServerSession
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import SUBSCRIPTION_ID_META_KEY
from mcp_types import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    EmptyResult,
    ResourceUpdatedNotification,
    ResourceUpdatedNotificationParams,
    SubscribeRequestParams,
    SubscriptionFilter,
    SubscriptionsAcknowledgedNotification,
    SubscriptionsAcknowledgedNotificationParams,
    SubscriptionsListenRequestParams,
    SubscriptionsListenResult,
    UnsubscribeRequestParams,
)

from runner.mcp.caller import caller
from runner.mcp.ports import CallError, Warden
from runner.mcp.subscriptions import CHANGE_TYPES, NotSubscribable, Registry, target

log = logging.getLogger(__name__)

#: At most this many URIs on one subscriber (a connection, or one listen stream).
MAX_URIS = 100
#: At most this many listen streams open at once in one process (each follows a feed).
MAX_STREAMS = 1000

LEGACY_OVER_HTTP = (
    "resources/subscribe needs a connection that outlives its requests, and /mcp is "
    "stateless: open a subscriptions/listen stream (protocol 2026-07-28) on /mcp, or "
    "subscribe through `warden mcp` over stdio"
)


async def admit(warden: Warden, registry: Registry, uri: str) -> None:
    """Add ``uri`` to ``registry`` if the caller may read what it names (else MCPError)."""
    if uri not in registry.uris and len(registry.uris) >= MAX_URIS:
        raise MCPError(INVALID_PARAMS, f"at most {MAX_URIS} subscribed resources", {"uri": uri})
    try:
        found = target(uri)
        if found.session is not None:
            # Read as the caller: another tenant's session (or a missing one) is
            # "not_found", exactly as reading the resource would be.
            await warden.get_session(found.session)
    except NotSubscribable as exc:
        raise MCPError(INVALID_PARAMS, str(exc), {"uri": uri}) from exc
    except CallError as exc:
        raise MCPError(INVALID_PARAMS, str(exc), {"uri": uri}) from exc
    registry.add(uri)


def _refusal(exc: CallError) -> MCPError:
    return MCPError(INVALID_PARAMS, str(exc))


class Notifier:
    """The 2025-era subscriptions of the one stdio connection, and the task that sends them.

    One ``warden mcp`` process serves one client, so one registry is the connection's.
    The task follows the caller's changes only while something is subscribed.
    """

    def __init__(self) -> None:
        self._registry = Registry()
        self._session: ServerSession | None = None
        self._group: TaskGroup | None = None
        self._pump: anyio.CancelScope | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with anyio.create_task_group() as group:
            self._group = group
            try:
                yield
            finally:
                self._group = None
                group.cancel_scope.cancel()

    async def subscribe(
        self, ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams
    ) -> EmptyResult:
        warden = caller()
        await admit(warden, self._registry, params.uri)
        self._session = ctx.session
        if self._pump is None:
            if self._group is None:
                raise MCPError(INTERNAL_ERROR, "subscriptions are not running")
            try:
                # Started (the feed entered, "now" fixed) before the reply, so no change
                # after the subscribe returns is missed.
                self._pump = await self._group.start(self._follow, warden)
            except CallError as exc:
                self._registry.discard(params.uri)
                raise _refusal(exc) from exc
        return EmptyResult()

    async def unsubscribe(
        self, ctx: ServerRequestContext[Any, Any], params: UnsubscribeRequestParams
    ) -> EmptyResult:
        self._registry.discard(params.uri)
        if not self._registry and self._pump is not None:
            self._pump.cancel()
            self._pump = None
        return EmptyResult()

    async def _follow(self, warden: Warden, *, task_status: TaskStatus[anyio.CancelScope]) -> None:
        with anyio.CancelScope() as scope:
            async with warden.changes(CHANGE_TYPES) as changes:
                task_status.started(scope)
                try:
                    async for batch in changes:
                        session = self._session
                        for uri in self._registry.affected(batch):
                            if session is not None:
                                await session.send_resource_updated(uri)
                except Exception:
                    # The connection's other work goes on; its subscriptions just end.
                    log.exception("resource updates stopped")
        if self._pump is scope:
            self._pump = None


async def refuse_legacy(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """On stateless HTTP: say why ``resources/subscribe`` cannot work, and what does."""
    if ctx.method in ("resources/subscribe", "resources/unsubscribe"):
        raise MCPError(METHOD_NOT_FOUND, LEGACY_OVER_HTTP)
    return await call_next(ctx)


class Listen:
    """``subscriptions/listen`` (2026-07-28): one request, one stream of updates."""

    def __init__(self) -> None:
        self._open: set[anyio.CancelScope] = set()

    def close(self) -> None:
        """End every open stream gracefully (its ``SubscriptionsListenResult`` goes out):
        a server shutting down waits for open responses, and a stream never ends alone."""
        for scope in list(self._open):
            scope.cancel()

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], params: SubscriptionsListenRequestParams
    ) -> SubscriptionsListenResult:
        subscription_id = ctx.request_id
        if subscription_id is None:
            raise MCPError(INVALID_REQUEST, "subscriptions/listen requires a request id")
        if len(self._open) >= MAX_STREAMS:
            raise MCPError(INTERNAL_ERROR, "subscription limit reached; try again later")
        warden = caller()
        asked = params.notifications
        registry = Registry()
        for uri in asked.resource_subscriptions or ():
            await admit(warden, registry, uri)
        # The list-changed kinds are honoured as the SDK honours them: Warden's tools,
        # prompts and resource list never change while it runs, so they never fire.
        honored = SubscriptionFilter(
            tools_list_changed=True if asked.tools_list_changed else None,
            prompts_list_changed=True if asked.prompts_list_changed else None,
            resources_list_changed=True if asked.resources_list_changed else None,
            resource_subscriptions=sorted(registry.uris) or None,
        )
        meta: dict[str, Any] = {SUBSCRIPTION_ID_META_KEY: subscription_id}
        with anyio.CancelScope() as scope:
            self._open.add(scope)
            try:
                await self._stream(ctx, warden, registry, honored, meta)
            except CallError as exc:
                raise _refusal(exc) from exc
            finally:
                self._open.discard(scope)
        return SubscriptionsListenResult(_meta=meta)

    async def _stream(
        self,
        ctx: ServerRequestContext[Any, Any],
        warden: Warden,
        registry: Registry,
        honored: SubscriptionFilter,
        meta: dict[str, Any],
    ) -> None:
        subscription_id = meta[SUBSCRIPTION_ID_META_KEY]
        ack = SubscriptionsAcknowledgedNotification(
            params=SubscriptionsAcknowledgedNotificationParams(notifications=honored, _meta=meta)
        )
        if not registry:
            await ctx.session.send_notification(ack, related_request_id=subscription_id)
            await anyio.sleep_forever()
        # The feed is entered ("now" fixed) before the acknowledgement goes out.
        async with warden.changes(CHANGE_TYPES) as changes:
            await ctx.session.send_notification(ack, related_request_id=subscription_id)
            async for batch in changes:
                for uri in registry.affected(batch):
                    update = ResourceUpdatedNotification(
                        params=ResourceUpdatedNotificationParams(uri=uri, _meta=meta)
                    )
                    await ctx.session.send_notification(update, related_request_id=subscription_id)
