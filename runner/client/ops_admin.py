"""Operations for operators, auditors and admins: the server itself, the audit ledger,
tokens, webhooks, notification channels and approval links."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from runner import __version__
from runner.api.aegis_schemas import Diagnostics, GlobalMetrics
from runner.api.audit import AuditPage, ExportResult, Verification
from runner.api.health import PROTOCOL_VERSION
from runner.api.schemas import (
    ApprovalLinkOut,
    ApprovalLinkUsed,
    ChannelList,
    ChannelOut,
    CreateChannel,
    CreateWebhook,
    DeliveryList,
    DeliveryOut,
    HandshakeOut,
    Health,
    UpdateWebhook,
    WebhookCreated,
    WebhookList,
    WebhookOut,
)
from runner.api.tokens import CreatedToken, TokenList, TokenOut
from runner.api.whoami import WhoAmI
from runner.client.calls import (
    Call,
    as_text,
    body_of,
    download,
    endpoint,
    json_object,
    model,
    nothing,
    query,
)


def _iso(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


class AdminOperations:
    """``/v1/health``, ``/v1/handshake``, ``/v1/whoami``, ``/metrics``, ``/v1/audit``,
    ``/v1/tokens``, ``/v1/webhooks``, ``/v1/notifications`` and ``/v1/approval-links``."""

    @endpoint("GET", "/v1/health")
    def health(self) -> Call[Health]:
        """Whether the server and its dependencies are up (no authentication)."""
        return Call(model(Health))

    @endpoint("POST", "/v1/handshake")
    def handshake(
        self, *, protocol_version: int = PROTOCOL_VERSION, capabilities: Sequence[str] = ()
    ) -> Call[HandshakeOut]:
        """Negotiate the protocol (409 when this client is too old for the server)."""
        body = {
            "protocolVersion": protocol_version,
            "client": f"warden-client/{__version__}",
            "capabilities": list(capabilities),
        }
        return Call(model(HandshakeOut), json=body)

    @endpoint("GET", "/v1/diagnostics")
    def diagnostics(self, limit: int = 50) -> Call[Diagnostics]:
        """The server's checks, the quotas, the tenant's failed sessions (Aegis's shape)."""
        return Call(model(Diagnostics), params=query(limit=limit))

    @endpoint("GET", "/v1/metrics")
    def metrics_summary(self) -> Call[GlobalMetrics]:
        """Aegis's JSON metrics over the tenant (Prometheus: ``prometheus_metrics``)."""
        return Call(model(GlobalMetrics))

    @endpoint("GET", "/v1/whoami")
    def whoami(self) -> Call[WhoAmI]:
        """Who the token is: subject, tenant, roles."""
        return Call(model(WhoAmI))

    @endpoint("GET", "/metrics")
    def prometheus_metrics(self) -> Call[str]:
        """The Prometheus text format (the ``metrics`` role)."""
        return Call(as_text)

    @endpoint("GET", "/v1/audit")
    def audit_events(
        self,
        *,
        session: str | None = None,
        actor: str | None = None,
        type: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        after: int | None = None,
        limit: int = 100,
    ) -> Call[AuditPage]:
        """A page of ledger events in seq order; follow ``next_cursor`` with ``after``."""
        params = query(
            session=session,
            actor=actor,
            type=type,
            since=_iso(since),
            until=_iso(until),
            after=after,
            limit=limit,
        )
        return Call(model(AuditPage), params=params)

    @endpoint("GET", "/v1/audit/checkpoints")
    def audit_checkpoints(self) -> Call[dict[str, Any]]:
        """The signed checkpoints (size, Merkle root, chain head, key id, signature)."""
        return Call(json_object)

    @endpoint("GET", "/v1/audit/{seq}/proof")
    def audit_proof(self, seq: int) -> Call[dict[str, Any]]:
        """The RFC 6962 inclusion proof of event ``seq``."""
        return Call(json_object, path={"seq": seq})

    @endpoint("POST", "/v1/audit/exports")
    def create_export(
        self,
        *,
        session: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        from_seq: int | None = None,
        to_seq: int | None = None,
    ) -> Call[ExportResult]:
        """Write an export directory on the controller host; download it with
        ``export_archive``."""
        fields = {
            "session": session,
            "since": _iso(since),
            "until": _iso(until),
            "fromSeq": from_seq,
            "toSeq": to_seq,
        }
        body = {k: v for k, v in fields.items() if v is not None}
        return Call(model(ExportResult), json=body)

    @download("GET", "/v1/audit/exports/{export_id}/archive")
    def export_archive(self, export_id: str) -> Call[None]:
        """The export as a ``.tar.gz``, as chunks of bytes."""
        return Call(nothing, path={"export_id": export_id})

    @endpoint("GET", "/v1/audit/exports/{export_id}/verification")
    def verify_export(self, export_id: str) -> Call[Verification]:
        """The server's check of an export against its own signing keys."""
        return Call(model(Verification), path={"export_id": export_id})

    @endpoint("GET", "/v1/tokens")
    def list_tokens(self) -> Call[TokenList]:
        """The tenant's API tokens (never their secrets)."""
        return Call(model(TokenList))

    @endpoint("POST", "/v1/tokens")
    def create_token(
        self,
        name: str,
        roles: Sequence[str],
        *,
        expires_in_days: int = 30,
        tenant: str | None = None,
    ) -> Call[CreatedToken]:
        """Create a token; its ``secret`` is in this answer only."""
        body: dict[str, Any] = {"name": name, "roles": list(roles)}
        body["expiresInDays"] = expires_in_days
        if tenant is not None:
            body["tenant"] = tenant
        return Call(model(CreatedToken), json=body)

    @endpoint("DELETE", "/v1/tokens/{token_id}")
    def revoke_token(self, token_id: str) -> Call[TokenOut]:
        """Revoke a token now."""
        return Call(model(TokenOut), path={"token_id": token_id})

    @endpoint("GET", "/v1/webhooks")
    def list_webhooks(self) -> Call[WebhookList]:
        """The tenant's webhooks."""
        return Call(model(WebhookList))

    @endpoint("POST", "/v1/webhooks")
    def create_webhook(self, body: CreateWebhook | Mapping[str, Any]) -> Call[WebhookCreated]:
        """Add a webhook; its signing ``secret`` is in this answer only."""
        return Call(model(WebhookCreated), json=body_of(body))

    @endpoint("GET", "/v1/webhooks/{webhook_id}")
    def get_webhook(self, webhook_id: str) -> Call[WebhookOut]:
        """One webhook."""
        return Call(model(WebhookOut), path={"webhook_id": webhook_id})

    @endpoint("PATCH", "/v1/webhooks/{webhook_id}")
    def update_webhook(
        self, webhook_id: str, body: UpdateWebhook | Mapping[str, Any]
    ) -> Call[WebhookOut]:
        """Change a webhook's url, events or enabled flag."""
        return Call(model(WebhookOut), path={"webhook_id": webhook_id}, json=body_of(body))

    @endpoint("DELETE", "/v1/webhooks/{webhook_id}")
    def delete_webhook(self, webhook_id: str) -> Call[None]:
        """Remove a webhook and its pending deliveries."""
        return Call(nothing, path={"webhook_id": webhook_id})

    @endpoint("GET", "/v1/webhooks/{webhook_id}/deliveries")
    def list_deliveries(
        self, webhook_id: str, *, state: str | None = None, limit: int = 100
    ) -> Call[DeliveryList]:
        """The newest deliveries first (``state``: pending, delivered or dead)."""
        params = query(state=state, limit=limit)
        return Call(model(DeliveryList), path={"webhook_id": webhook_id}, params=params)

    @endpoint("POST", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/replay")
    def replay_delivery(self, webhook_id: str, delivery_id: str) -> Call[DeliveryOut]:
        """Send a delivery again with a fresh set of tries."""
        path = {"webhook_id": webhook_id, "delivery_id": delivery_id}
        return Call(model(DeliveryOut), path=path)

    @endpoint("GET", "/v1/notifications/channels")
    def list_channels(self) -> Call[ChannelList]:
        """The tenant's notification channels (secrets shown as ***)."""
        return Call(model(ChannelList))

    @endpoint("POST", "/v1/notifications/channels")
    def create_channel(self, body: CreateChannel | Mapping[str, Any]) -> Call[ChannelOut]:
        """Add a Slack, Telegram or email channel."""
        return Call(model(ChannelOut), json=body_of(body))

    @endpoint("DELETE", "/v1/notifications/channels/{channel_id}")
    def delete_channel(self, channel_id: str) -> Call[None]:
        """Remove a notification channel."""
        return Call(nothing, path={"channel_id": channel_id})

    @endpoint("GET", "/v1/approval-links/{token}")
    def describe_approval_link(self, token: str) -> Call[ApprovalLinkOut]:
        """What an approval link would do (reading it changes nothing)."""
        return Call(model(ApprovalLinkOut), path={"token": token})

    @endpoint("POST", "/v1/approval-links/{token}")
    def use_approval_link(self, token: str) -> Call[ApprovalLinkUsed]:
        """Approve or reject the prompt the link was made for, once."""
        return Call(model(ApprovalLinkUsed), path={"token": token})
