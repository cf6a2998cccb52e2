"""Webhook management for admins: create (secret shown once), change, delete, replay.

Every change is audited (``webhook.created`` …) without the secret. Webhooks belong to
a tenant; only a global admin reaches another tenant's.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from fnmatch import fnmatchcase

from runner.core import Actor, EventSink, utcnow
from runner.errors import InvalidInputError, NotFoundError
from runner.events.catalogue import PUBLIC_TYPES
from runner.events.feed import EventFeed
from runner.events.outbox import Outbox
from runner.events.targets import TargetPolicy
from runner.events.webhooks import Delivery, Webhook, WebhookStore, check_secret, new_secret


def check_patterns(patterns: list[str]) -> tuple[str, ...]:
    """Type patterns that each select at least one catalogue type.

    Raises:
        InvalidInputError: an empty list, or a pattern that selects nothing.
    """
    if not patterns:
        raise InvalidInputError('events must name at least one type pattern, e.g. ["*"]')
    for pattern in patterns:
        if not any(fnmatchcase(t, pattern) for t in PUBLIC_TYPES):
            raise InvalidInputError(
                f"event pattern {pattern!r} selects no event type; known: {', '.join(PUBLIC_TYPES)}"
            )
    return tuple(patterns)


class WebhookService:
    def __init__(
        self,
        store: WebhookStore,
        events: EventSink,
        targets: TargetPolicy,
        feed: EventFeed,
        outbox: Outbox,
    ) -> None:
        self._store = store
        self._events = events
        self._targets = targets
        self._feed = feed
        self._outbox = outbox

    async def create(
        self, actor: Actor, *, url: str, events: list[str], secret: str | None, description: str
    ) -> Webhook:
        await self._targets.check(url)
        hook = Webhook(
            id=uuid.uuid4().hex,
            tenant=actor.tenant,
            url=url,
            events=check_patterns(events),
            secret=check_secret(secret) if secret else new_secret(),
            description=description,
            enabled=True,
            created_by=actor.subject,
            created_at=utcnow(),
            after_seq=await asyncio.to_thread(self._head),
        )
        await self._events.emit("webhook.created", actor=actor, session=None, data=_audit(hook))
        await asyncio.to_thread(self._store.add, hook)
        return hook

    def _head(self) -> int:
        head = self._feed.head()
        return -1 if head is None else head

    async def get(self, webhook_id: str, actor: Actor) -> Webhook:
        hook = await asyncio.to_thread(self._store.get, webhook_id)
        if hook is None or not (actor.sees_all_tenants or hook.tenant == actor.tenant):
            raise NotFoundError(f"no webhook {webhook_id}")
        return hook

    async def find(self, actor: Actor) -> list[Webhook]:
        tenant = None if actor.sees_all_tenants else actor.tenant
        return await asyncio.to_thread(self._store.find, tenant)

    async def update(
        self,
        webhook_id: str,
        actor: Actor,
        *,
        url: str | None,
        events: list[str] | None,
        enabled: bool | None,
    ) -> Webhook:
        hook = await self.get(webhook_id, actor)
        changes: dict[str, object] = {}
        if url is not None:
            await self._targets.check(url)
            changes["url"] = url
        if events is not None:
            changes["events"] = check_patterns(events)
        if enabled is not None:
            changes["enabled"] = enabled
        data = _audit(replace(hook, **changes))  # type: ignore[arg-type]
        await self._events.emit("webhook.updated", actor=actor, session=None, data=data)
        return await asyncio.to_thread(self._store.update, hook.id, **changes)

    async def delete(self, webhook_id: str, actor: Actor) -> None:
        hook = await self.get(webhook_id, actor)
        await self._events.emit("webhook.deleted", actor=actor, session=None, data=_audit(hook))
        await asyncio.to_thread(self._store.delete, hook.id)

    async def deliveries(
        self, webhook_id: str, actor: Actor, *, status: str | None, limit: int
    ) -> list[Delivery]:
        hook = await self.get(webhook_id, actor)
        return await asyncio.to_thread(self._store.deliveries, hook.id, status=status, limit=limit)

    async def replay(self, webhook_id: str, delivery_id: str, actor: Actor) -> Delivery:
        hook = await self.get(webhook_id, actor)
        found = await asyncio.to_thread(self._store.delivery, delivery_id)
        if found is None or found.webhook_id != hook.id:
            raise NotFoundError(f"webhook {webhook_id} has no delivery {delivery_id}")
        await self._events.emit(
            "webhook.replayed",
            actor=actor,
            session=None,
            data={"webhook": hook.id, "delivery": delivery_id, "seq": found.seq},
        )
        replayed = await asyncio.to_thread(self._store.replay, delivery_id, utcnow())
        self._outbox.wake()
        return replayed


def _audit(hook: Webhook) -> dict[str, object]:
    """What the ledger keeps of a webhook: everything but its secret."""
    return {
        "webhook": hook.id,
        "tenant": hook.tenant,
        "url": hook.url,
        "events": list(hook.events),
        "enabled": hook.enabled,
    }
