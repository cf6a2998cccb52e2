"""``/v1/webhooks``: signed event deliveries to URLs of a tenant's choosing (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from runner.api.deps import AdminDep, WebhooksDep
from runner.api.schemas import (
    AttemptOut,
    CreateWebhook,
    DeliveryList,
    DeliveryOut,
    UpdateWebhook,
    WebhookCreated,
    WebhookList,
    WebhookOut,
)
from runner.events.webhooks import Delivery, Webhook

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


def _out(hook: Webhook) -> WebhookOut:
    return WebhookOut(
        id=hook.id,
        url=hook.url,
        events=list(hook.events),
        description=hook.description,
        enabled=hook.enabled,
        tenant=hook.tenant,
        created_by=hook.created_by,
        created_at=hook.created_at,
    )


def _delivery(d: Delivery) -> DeliveryOut:
    return DeliveryOut(
        id=d.id,
        event_id=d.seq,
        event_type=d.event_type,
        status=d.status,
        attempts=d.attempts,
        next_attempt_at=d.next_attempt_at,
        created_at=d.created_at,
        delivered_at=d.delivered_at,
        last_error=d.last_error,
        history=[
            AttemptOut(
                number=a.number,
                at=a.at,
                status_code=a.status_code,
                error=a.error,
                duration_ms=a.duration_ms,
            )
            for a in d.history
        ],
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=WebhookCreated)
async def create_webhook(
    body: CreateWebhook, webhooks: WebhooksDep, actor: AdminDep
) -> WebhookCreated:
    """Add a webhook; the signing secret is returned here, and never again."""
    hook = await webhooks.create(
        actor, url=body.url, events=body.events, secret=body.secret, description=body.description
    )
    return WebhookCreated(**_out(hook).model_dump(), secret=hook.secret)


@router.get("", response_model=WebhookList)
async def list_webhooks(webhooks: WebhooksDep, actor: AdminDep) -> WebhookList:
    return WebhookList(webhooks=[_out(h) for h in await webhooks.find(actor)])


@router.get("/{webhook_id}", response_model=WebhookOut)
async def get_webhook(webhook_id: str, webhooks: WebhooksDep, actor: AdminDep) -> WebhookOut:
    return _out(await webhooks.get(webhook_id, actor))


@router.patch("/{webhook_id}", response_model=WebhookOut)
async def update_webhook(
    webhook_id: str, body: UpdateWebhook, webhooks: WebhooksDep, actor: AdminDep
) -> WebhookOut:
    hook = await webhooks.update(
        webhook_id, actor, url=body.url, events=body.events, enabled=body.enabled
    )
    return _out(hook)


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_webhook(webhook_id: str, webhooks: WebhooksDep, actor: AdminDep) -> Response:
    """Remove the webhook and its outbox (pending deliveries are dropped)."""
    await webhooks.delete(webhook_id, actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{webhook_id}/deliveries", response_model=DeliveryList)
async def list_deliveries(
    webhook_id: str,
    webhooks: WebhooksDep,
    actor: AdminDep,
    state: Annotated[str | None, Query(pattern="^(pending|delivered|dead)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DeliveryList:
    """The newest deliveries first, each with its attempts."""
    found = await webhooks.deliveries(webhook_id, actor, status=state, limit=limit)
    return DeliveryList(deliveries=[_delivery(d) for d in found])


@router.post("/{webhook_id}/deliveries/{delivery_id}/replay", response_model=DeliveryOut)
async def replay_delivery(
    webhook_id: str, delivery_id: str, webhooks: WebhooksDep, actor: AdminDep
) -> DeliveryOut:
    """Send a delivery again (same ``webhook-id``), with a fresh set of tries."""
    return _delivery(await webhooks.replay(webhook_id, delivery_id, actor))
