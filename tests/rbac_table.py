"""The role each endpoint requires (docs/auth.md's table, as data for the RBAC tests).

A route missing here fails the tests that walk every route: a new endpoint must
declare who may call it.
"""

from __future__ import annotations

from typing import Any

from runner.auth.roles import ROLES, effective_roles

ANY_ROLE = "any"

REQUIRED: dict[tuple[str, str], str] = {
    ("POST", "/v1/sessions"): "operator",
    ("POST", "/v1/sessions/batch"): "operator",
    ("GET", "/v1/sessions"): "viewer",
    ("GET", "/v1/sessions/{session_id}"): "viewer",
    ("DELETE", "/v1/sessions/{session_id}"): "operator",
    ("POST", "/v1/sessions/{session_id}/send"): "operator",
    ("POST", "/v1/sessions/{session_id}/approve"): "approver",
    ("POST", "/v1/sessions/{session_id}/reject"): "approver",
    ("POST", "/v1/sessions/{session_id}/answer"): "approver",
    ("POST", "/v1/sessions/{session_id}/interrupt"): "operator",
    ("POST", "/v1/sessions/{session_id}/escape"): "operator",
    ("GET", "/v1/sessions/{session_id}/pane"): "viewer",
    ("GET", "/v1/sessions/{session_id}/read"): "viewer",
    ("GET", "/v1/sessions/{session_id}/transcript/cursor"): "viewer",
    ("GET", "/v1/sessions/{session_id}/recording"): "viewer",
    ("GET", "/v1/sessions/{session_id}/artifacts"): "viewer",
    ("GET", "/v1/sessions/{session_id}/artifacts/{name}"): "viewer",
    ("GET", "/v1/sessions/{session_id}/patch"): "viewer",
    ("GET", "/v1/sessions/stats"): "viewer",
    ("GET", "/v1/sessions/health"): "viewer",
    ("GET", "/v1/sessions/{session_id}/health"): "viewer",
    ("GET", "/v1/sessions/{session_id}/summary"): "viewer",
    ("POST", "/v1/sessions/{session_id}/kill"): "operator",
    ("GET", "/v1/diagnostics"): "viewer",
    ("GET", "/v1/metrics"): "viewer",
    ("POST", "/v1/workspaces"): "operator",
    ("GET", "/v1/workspaces/{upload_id}"): "operator",
    ("DELETE", "/v1/workspaces/{upload_id}"): "operator",
    ("GET", "/v1/audit"): "auditor",
    ("GET", "/v1/audit/checkpoints"): "auditor",
    ("GET", "/v1/audit/{seq}/proof"): "auditor",
    ("POST", "/v1/audit/exports"): "auditor",
    ("GET", "/v1/audit/exports/{export_id}/archive"): "auditor",
    ("GET", "/v1/audit/exports/{export_id}/verification"): "auditor",
    ("POST", "/v1/templates"): "operator",
    ("GET", "/v1/templates"): "viewer",
    ("GET", "/v1/templates/{name}"): "viewer",
    ("PUT", "/v1/templates/{name}"): "operator",
    ("DELETE", "/v1/templates/{name}"): "operator",
    ("POST", "/v1/pipelines"): "operator",
    ("GET", "/v1/pipelines"): "viewer",
    ("GET", "/v1/pipelines/{pipeline_id}"): "viewer",
    ("GET", "/v1/memory"): "viewer",
    ("POST", "/v1/memory"): "operator",
    ("GET", "/v1/memory/{key}"): "viewer",
    ("PUT", "/v1/memory/{key}"): "operator",
    ("DELETE", "/v1/memory/{key}"): "operator",
    ("GET", "/v1/policies"): "viewer",
    ("GET", "/v1/policies/{name}"): "viewer",
    ("POST", "/v1/policies/{name}/explain"): "viewer",
    ("POST", "/v1/tokens"): "admin",
    ("GET", "/v1/tokens"): "admin",
    ("DELETE", "/v1/tokens/{token_id}"): "admin",
    ("GET", "/v1/whoami"): ANY_ROLE,
    ("GET", "/v1/events"): "viewer",
    ("GET", "/v1/sessions/{session_id}/events"): "viewer",
    ("POST", "/v1/sessions/{session_id}/terminal/ticket"): "viewer",
    ("POST", "/v1/webhooks"): "admin",
    ("GET", "/v1/webhooks"): "admin",
    ("GET", "/v1/webhooks/{webhook_id}"): "admin",
    ("PATCH", "/v1/webhooks/{webhook_id}"): "admin",
    ("DELETE", "/v1/webhooks/{webhook_id}"): "admin",
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): "admin",
    ("POST", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/replay"): "admin",
    ("POST", "/v1/notifications/channels"): "admin",
    ("GET", "/v1/notifications/channels"): "admin",
    ("DELETE", "/v1/notifications/channels/{channel_id}"): "admin",
    ("GET", "/v1/approval-links/{token}"): "viewer",
    ("POST", "/v1/approval-links/{token}"): "approver",
    ("GET", "/metrics"): "metrics",
}

PUBLIC = {("GET", "/v1/health"), ("POST", "/v1/handshake")}

#: Placeholder path parameters: the point is whether authorisation passes, not the target.
PARAMS = {
    "session_id": "00000000-0000-4000-8000-000000000000",
    "name": "default",
    "seq": "1",
    "token_id": "0000000000000000",
    "export_id": "000000000000",
    "pipeline_id": "00000000-0000-4000-8000-000000000000",
    "key": "rbac-key",
    "upload_id": "00000000-0000-4000-8000-000000000000",
    "webhook_id": "0" * 32,
    "delivery_id": "msg_000000000000000000000000",
    "channel_id": "0" * 32,
    "token": "0" * 32 + "." + "0" * 64,
}

#: Valid-looking bodies that nonetheless change nothing (no such directory, etc.).
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/sessions"): {"workDir": "/nonexistent/warden-rbac"},
    ("POST", "/v1/sessions/batch"): {"sessions": [{"workDir": "/nonexistent/warden-rbac"}]},
    ("POST", "/v1/sessions/{session_id}/send"): {"text": "hello"},
    ("POST", "/v1/sessions/{session_id}/answer"): {"option": 1},
    ("POST", "/v1/audit/exports"): {"fromSeq": 0, "toSeq": 0},
    ("POST", "/v1/templates"): {"name": "rbac-matrix", "policy": "ci"},
    ("PUT", "/v1/templates/{name}"): {"policy": "ci"},
    ("POST", "/v1/pipelines"): {
        "name": "rbac-matrix",
        "workDir": "/nonexistent/warden-rbac",
        "stages": [{"name": "only", "prompt": "hello"}],
    },
    ("PUT", "/v1/memory/{key}"): {"value": {"note": "rbac"}},
    ("POST", "/v1/memory"): {"key": "rbac/aegis", "value": "note"},
    ("POST", "/v1/policies/{name}/explain"): {"tool": "Bash", "input": {"command": "ls"}},
    ("POST", "/v1/tokens"): {"name": "rbac-matrix", "roles": ["viewer"], "expiresInDays": 1},
    ("POST", "/v1/webhooks"): {"url": "ftp://nowhere.invalid/"},
    ("PATCH", "/v1/webhooks/{webhook_id}"): {"enabled": False},
    ("POST", "/v1/notifications/channels"): {"kind": "slack", "config": {}},
}


def allowed(role: str, required: str) -> bool:
    """Whether someone holding only ``role`` may call an endpoint needing ``required``."""
    return required == ANY_ROLE or required in effective_roles([role])


#: Query strings that keep a call finite (a stream that would otherwise follow forever).
QUERIES = {"/v1/events": "?follow=false", "/v1/sessions/{session_id}/events": "?follow=false"}


def url(path: str) -> str:
    return path.format(**PARAMS) + QUERIES.get(path, "")


def roles() -> list[str]:
    return sorted(ROLES)
