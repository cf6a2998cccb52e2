"""``/v1/notifications/channels`` (admin) and ``/v1/approval-links/{token}``."""

from __future__ import annotations

import asyncio
import uuid

from fastapi import APIRouter, Response, status

from runner.api.deps import AdminDep, ApproverDep, EventsDep, ServicesDep, ViewerDep
from runner.api.schemas import (
    ApprovalLinkOut,
    ApprovalLinkUsed,
    ChannelList,
    ChannelOut,
    CreateChannel,
)
from runner.core import utcnow
from runner.errors import NotFoundError
from runner.events.channels import Channel, channel_url, check_config

router = APIRouter(tags=["notifications"])


def _out(channel: Channel) -> ChannelOut:
    return ChannelOut(
        id=channel.id,
        kind=channel.kind,
        config=channel.shown_config(),
        notify=list(channel.notify),
        approval_links=channel.approval_links,
        tenant=channel.tenant,
        created_by=channel.created_by,
        created_at=channel.created_at,
    )


@router.post(
    "/v1/notifications/channels", status_code=status.HTTP_201_CREATED, response_model=ChannelOut
)
async def create_channel(
    body: CreateChannel, services: ServicesDep, events: EventsDep, actor: AdminDep
) -> ChannelOut:
    """Add a Slack, Telegram or email channel for the caller's tenant."""
    channel = Channel(
        id=uuid.uuid4().hex,
        tenant=actor.tenant,
        kind=body.kind,
        config=check_config(body.kind, body.config),
        notify=tuple(body.notify),
        approval_links=body.approval_links,
        created_by=actor.subject,
        created_at=utcnow(),
    )
    await services.targets.check(channel_url(channel))
    data = {"channel": channel.id, "kind": channel.kind, "config": channel.shown_config()}
    await events.emit("notification_channel.created", actor=actor, session=None, data=data)
    await asyncio.to_thread(services.channels.add, channel)
    return _out(channel)


@router.get("/v1/notifications/channels", response_model=ChannelList)
async def list_channels(services: ServicesDep, actor: AdminDep) -> ChannelList:
    tenant = None if actor.sees_all_tenants else actor.tenant
    found = await asyncio.to_thread(services.channels.find, tenant)
    return ChannelList(channels=[_out(c) for c in found])


@router.delete("/v1/notifications/channels/{channel_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_channel(
    channel_id: str, services: ServicesDep, events: EventsDep, actor: AdminDep
) -> Response:
    channel = await asyncio.to_thread(services.channels.get, channel_id)
    if channel is None or not (actor.sees_all_tenants or channel.tenant == actor.tenant):
        raise NotFoundError(f"no notification channel {channel_id}")
    data = {"channel": channel.id, "kind": channel.kind}
    await events.emit("notification_channel.deleted", actor=actor, session=None, data=data)
    await asyncio.to_thread(services.channels.delete, channel_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/v1/approval-links/{token}", response_model=ApprovalLinkOut)
async def describe_link(token: str, services: ServicesDep, actor: ViewerDep) -> ApprovalLinkOut:
    """What the link would do; following it (GET) does nothing: POST to act."""
    link, record = await services.link_desk.describe(token, actor)
    return ApprovalLinkOut(
        session=link.session_id,
        decision=link.decision,
        expires_at=link.expires_at,
        used_at=link.used_at,
        used_by=link.used_by,
        state=record.state,
        prompt=dict(record.details),
    )


@router.post("/v1/approval-links/{token}", response_model=ApprovalLinkUsed)
async def use_link(token: str, services: ServicesDep, actor: ApproverDep) -> ApprovalLinkUsed:
    """Approve or reject the prompt the link was made for, once, as the logged-in caller."""
    link, option = await services.link_desk.use(token, actor)
    return ApprovalLinkUsed(
        session=link.session_id,
        decision=link.decision,
        option=option,
        state=services.manager.live_state(link.session_id),
    )
