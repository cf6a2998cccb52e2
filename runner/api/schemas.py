"""Request and response bodies of the REST API (camelCase on the wire)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StrictBool,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from runner.core import PermissionMode, SessionState, WorkspaceMode
from runner.sessions.requests import ENV_NAME_PATTERN

#: The largest integer the API takes: the ledger canonicalises JSON as RFC 8785, whose
#: numbers are IEEE doubles, exact only up to 2**53 (and any JSON client's too).
MAX_INT = 2**53 - 1


def _iso_only(value: Any) -> Any:
    # Pydantic would read 0.5 or "0.5" as a Unix time; the contract says RFC 3339.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not re.match(r"^\d{4}-\d{2}-\d{2}", value):
        raise ValueError("expected an RFC 3339 date-time, e.g. 2026-01-31T12:00:00Z")
    return value


#: A date-time given as RFC 3339 text (never a number).
IsoDateTime = Annotated[datetime, BeforeValidator(_iso_only)]


class Schema(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        # Python's engine: the env-name pattern needs a lookahead.
        regex_engine="python-re",
    )


def _json_integer(value: Any) -> Any:
    # JSON Schema counts 3.0 as an integer and true as no number; so does this.
    if isinstance(value, bool):
        raise ValueError("expected an integer")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: An integer as JSON Schema means it (3.0 counts, true does not).
JsonInt = Annotated[int, BeforeValidator(_json_integer)]


#: For bounded integers elsewhere: ``Annotated[int, Field(...), BeforeValidator(json_integer)]``
#: (the bounds first, so the schema states them).
json_integer = _json_integer


#: A 1-based option number; a sequence number or version (bounds before the JSON
#: integer check, so the schema states them).
Option = Annotated[int, Field(ge=1, le=100), BeforeValidator(_json_integer)]
Seq = Annotated[int, Field(ge=0, le=MAX_INT), BeforeValidator(_json_integer)]
#: Environment variables for the sandbox: names it does not own, string values.
Env = Annotated[
    dict[Annotated[str, StringConstraints(pattern=ENV_NAME_PATTERN)], str],
    WithJsonSchema(
        {
            "type": "object",
            "patternProperties": {ENV_NAME_PATTERN: {"type": "string"}},
            "additionalProperties": False,
        }
    ),
]


def exactly_one(*fields: str) -> Any:
    """``json_schema_extra`` for a body that needs exactly one of ``fields`` (by alias):
    ``oneOf`` over their presence, and each of them not nullable (omit it instead)."""

    def extra(schema: dict[str, Any]) -> None:
        for name in fields:
            prop = schema["properties"][name]
            options = prop.pop("anyOf", None)
            if options is not None:
                kept = [o for o in options if o.get("type") != "null"]
                prop.update(kept[0] if len(kept) == 1 else {"oneOf": kept})
            prop.pop("default", None)
        # Each branch complete in itself (tools that pick a branch see every rule).
        schema["oneOf"] = [
            {
                "type": "object",
                "properties": {
                    key: value
                    for key, value in schema["properties"].items()
                    if key == name or key not in fields
                },
                "required": sorted({name, *schema.get("required", [])}),
                "additionalProperties": False,
            }
            for name in fields
        ]

    return extra


def no_explicit_null(value: Any) -> Any:
    """A before-validator: omit an optional field rather than send it as null."""
    if value is None:
        raise ValueError("omit this field rather than sending null")
    return value


class ErrorBody(Schema):
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)
    request_id: str | None = Field(
        default=None, description="The request's id (also the x-request-id header)."
    )


class ErrorResponse(Schema):
    error: ErrorBody


class PathWorkspace(Schema):
    path: str = Field(
        pattern="^/[^\x00]*$",
        max_length=4096,
        description="Absolute path of a directory on the controller host, under the"
        " server's workspace roots (WARDEN_WORKSPACE_ROOTS).",
    )


class ArchiveWorkspace(Schema):
    archive: str = Field(description="The id of an upload (POST /v1/workspaces).")


class GitRef(Schema):
    url: str = Field(
        pattern=r"^((https?|git)://[^/?#@\s]+|file:///)",
        max_length=2000,
        description="https://, http://, git:// (hosts in the policy's workspace.git_hosts)"
        " or file:// (under the workspace roots).",
    )
    ref: str | None = Field(default=None, description="Branch, tag or commit (default HEAD).")


class GitWorkspace(Schema):
    git: GitRef


class _OneOf:
    """Describe a union of mutually exclusive objects as JSON Schema ``oneOf``."""

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        if "anyOf" in schema:
            schema["oneOf"] = schema.pop("anyOf")
        return schema


#: Exactly one of ``path``, ``archive`` or ``git`` (each object forbids other keys).
WorkspaceSpec = Annotated[PathWorkspace | ArchiveWorkspace | GitWorkspace, _OneOf()]


def auto_approve_rule(*allowed: str | None) -> dict[str, Any]:
    """JSON Schema: ``autoApprove: true`` with a permissionMode other than ``allowed`` is
    refused (it means bypassPermissions)."""
    return {
        "not": {
            "required": ["autoApprove", "permissionMode"],
            "properties": {
                "autoApprove": {"const": True},
                "permissionMode": {"not": {"enum": list(allowed)}},
            },
        }
    }


def _create_session_schema(schema: dict[str, Any]) -> None:
    exactly_one("workDir", "workspace")(schema)
    schema.update(auto_approve_rule("default", "bypassPermissions"))


class CreateSession(Schema):
    model_config = ConfigDict(json_schema_extra=_create_session_schema)

    work_dir: Annotated[str | None, BeforeValidator(no_explicit_null)] = Field(
        default=None,
        pattern="^/[^\x00]*$",
        max_length=4096,
        description="Shorthand for workspace {path}: a directory on the controller host.",
    )
    workspace: Annotated[WorkspaceSpec | None, BeforeValidator(no_explicit_null)] = Field(
        default=None,
        description="Where the workspace comes from: a host path, an upload, or a git repository.",
    )
    prompt: str | None = Field(
        default=None, max_length=100_000, description="First prompt, sent once Claude is ready."
    )
    policy: str = Field(default="default", description="Policy name or path.")
    image: str | None = None
    permission_mode: PermissionMode = PermissionMode.DEFAULT
    model: str | None = None
    env: Env = Field(default_factory=dict)
    workspace_mode: WorkspaceMode | None = Field(
        default=None, description="Omitted: the policy's workspace.mode."
    )
    unattended: StrictBool = Field(
        default=False,
        description="No person watches (CI): prompts get the policy's CI fallback at once.",
    )
    template: str | None = Field(
        default=None,
        description="A saved template (/v1/templates): fills the fields this request leaves unset.",
    )
    reuse: bool | None = Field(
        default=None,
        description="Return (200, reused: true) an idle session of yours that matches this"
        " request in every field (policy, workspace and mode, image, model, permission mode,"
        " env), instead of starting one. The request is policy-checked either way. Unset:"
        " the server's WARDEN_REUSE_SESSIONS (default false).",
    )
    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="A label for people and orchestrators (Aegis's name); not unique.",
    )
    queue: StrictBool = Field(
        default=False,
        description="Over a session quota, wait in line instead of 429 (where the policy's"
        " container.queue allows): 201 with state queued and details.queue.position; it"
        " starts by itself, in order, when a place frees.",
    )
    auto_approve: StrictBool | None = Field(
        default=None,
        description="Aegis's shorthand for permissionMode bypassPermissions; the policy"
        " still decides whether that mode is allowed.",
    )

    @model_validator(mode="after")
    def _one_workspace(self) -> CreateSession:
        # With a template, its workDir may supply the workspace (checked after the merge).
        none_allowed = self.template is not None
        if (self.work_dir is not None and self.workspace is not None) or (
            self.work_dir is None and self.workspace is None and not none_allowed
        ):
            raise ValueError(
                "give exactly one of 'workDir' (a host path) or 'workspace'"
                " ({path}, {archive} or {git})"
            )
        return self

    @model_validator(mode="after")
    def _auto_approve(self) -> CreateSession:
        if self.auto_approve:
            if self.permission_mode not in (
                PermissionMode.DEFAULT,
                PermissionMode.BYPASS_PERMISSIONS,
            ):
                raise ValueError(
                    "autoApprove means permissionMode bypassPermissions; drop one of them"
                )
            self.permission_mode = PermissionMode.BYPASS_PERMISSIONS
        return self


class SessionOut(Schema):
    id: str
    state: SessionState
    details: dict[str, Any]
    work_dir: str
    workspace: dict[str, Any] = Field(
        default_factory=dict, description="The source: {path}, {archive}, {git} or {session}."
    )
    workspace_mode: WorkspaceMode
    policy: str
    image: str
    model: str | None
    permission_mode: PermissionMode
    tenant: str
    owner: str
    container: str | None
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None
    error: str | None
    usage: dict[str, Any]
    unattended: bool = False
    reused: bool = False
    replica: str | None = Field(
        default=None, description="The controller replica that runs the session (its lease)."
    )
    lease_expires_at: datetime | None = Field(
        default=None, description="When the replica's lease lapses unless it renews it."
    )
    name: str | None = Field(default=None, description="The label given at creation.")
    status: str = Field(
        default="unknown",
        description="The state in Aegis's vocabulary (ask_question for asking, …).",
    )
    prompt_delivery: dict[str, Any] | None = Field(
        default=None,
        description="Aegis's {delivered, attempts} for the first prompt: delivered once it"
        " is in (creation is asynchronous, so 201 says false, 0); null without a prompt.",
    )


class EndedSession(SessionOut):
    """The session as ``DELETE`` (or Aegis's ``POST …/kill``) left it."""

    ok: bool = Field(default=True, description="Aegis's acknowledgement.")


class SessionList(Schema):
    sessions: list[SessionOut]
    pagination: dict[str, int] | None = Field(
        default=None, description="Aegis's {page, limit, pageSize, total, totalPages}."
    )


class SendInput(Schema):
    text: str = Field(min_length=1, max_length=100_000)


class Answer(Schema):
    model_config = ConfigDict(json_schema_extra=exactly_one("option", "text"))

    option: Annotated[Option | None, BeforeValidator(no_explicit_null)] = Field(
        default=None, description="1-based option number."
    )
    text: Annotated[str | None, BeforeValidator(no_explicit_null)] = Field(
        default=None, min_length=1, max_length=10_000
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Answer:
        if (self.option is None) == (self.text is None):
            raise ValueError("give exactly one of 'option' (1-based) or 'text'")
        return self


class Approve(Schema):
    request: str | None = Field(
        default=None,
        max_length=64,
        description="The hook request to approve (`request` of its `tool.decision` event);"
        " omitted: the one the prompt on screen shows.",
    )


class ActionResult(Schema):
    ok: bool = True
    state: SessionState
    option: int | None = None


class TerminalTicket(Schema):
    ticket: str
    expires_in: float = Field(description="Seconds the ticket stays valid (it works once).")
    url: str = Field(description="The WebSocket path with the ticket.")


class Pane(Schema):
    state: SessionState
    text: str


class TurnOut(Schema):
    id: int
    role: str
    text: str
    tool_uses: list[dict[str, Any]]
    tool_results: list[dict[str, Any]]
    uuid: str | None
    timestamp: str | None


class Transcript(Schema):
    turns: list[TurnOut]


class TranscriptPage(Schema):
    turns: list[TurnOut]
    next_before_id: int | None


class ArtifactOut(Schema):
    name: str
    size: int
    url: str


class Artifacts(Schema):
    artifacts: list[ArtifactOut]
    patch: str | None = None


class BatchCreate(Schema):
    sessions: list[CreateSession] = Field(min_length=1, max_length=50)


class BatchItem(Schema):
    session: SessionOut | None = None
    error: ErrorBody | None = None


class BatchResult(Schema):
    results: list[BatchItem]


class Handshake(Schema):
    protocol_version: int = Field(ge=0)
    client: str | None = None
    capabilities: list[str] = Field(default_factory=list, max_length=100)
    client_capabilities: list[str] = Field(
        default_factory=list, max_length=100, description="Aegis's name for capabilities."
    )


class HandshakeOut(Schema):
    protocol_version: int
    min_protocol_version: int
    server_version: str
    capabilities: list[str]
    server_capabilities: list[str] = Field(default_factory=list, description="Aegis's name.")
    negotiated_capabilities: list[str] = Field(
        default_factory=list, description="The client's capabilities this server has too."
    )
    warnings: list[str] = Field(default_factory=list)
    compatible: bool = True


class Health(Schema):
    status: Literal["ok", "degraded"]
    version: str
    checks: dict[str, str]
    replica: str = Field(description="The replica that answered.")
    sequencer: bool = Field(description="Whether it holds the audit sequencer.")
    uptime: int = Field(default=0, description="Seconds since this replica started (Aegis's).")
    platform: str = Field(default="", description="The controller's OS (Aegis's).")
    timestamp: datetime | None = Field(default=None, description="When this was answered.")


class UploadOut(Schema):
    id: str
    kind: Literal["tar", "tar.gz", "zip"]
    size: int = Field(description="Bytes uploaded.")
    entries: int
    declared_bytes: int = Field(description="What the entries say they expand to.")
    expires_at: datetime


class CreateWebhook(Schema):
    url: str = Field(
        pattern=r"^https?://[^/?#\s]+",
        max_length=2000,
        description="Where to POST events (http or https; public addresses only).",
    )
    events: list[str] = Field(
        default_factory=lambda: ["*"], description='Type patterns, e.g. ["*"] or ["session.*"].'
    )
    secret: str | None = Field(
        default=None, description="whsec_<base64>; generated (and returned once) when omitted."
    )
    description: str = ""


class UpdateWebhook(Schema):
    url: str | None = None
    events: list[str] | None = None
    enabled: StrictBool | None = None


class WebhookOut(Schema):
    id: str
    url: str
    events: list[str]
    description: str
    enabled: bool
    tenant: str
    created_by: str
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="The signing secret: shown only now; keep it.")


class WebhookList(Schema):
    webhooks: list[WebhookOut]


class AttemptOut(Schema):
    number: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryOut(Schema):
    id: str = Field(description="The webhook-id header: the same on every retry and replay.")
    event_id: int
    event_type: str
    status: str = Field(description="pending, delivered or dead")
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime | None
    delivered_at: datetime | None
    last_error: str | None
    history: list[AttemptOut]


class DeliveryList(Schema):
    deliveries: list[DeliveryOut]


Topic = Literal["prompt", "question", "stall", "error", "completion"]


class CreateChannel(Schema):
    kind: Literal["slack", "telegram", "email"]
    config: dict[str, Any] = Field(
        description=(
            "slack: webhookUrl; telegram: botToken, chatId, baseUrl?; "
            "email: host, port?, from, to[], username?, password?, starttls? (default true)"
        )
    )
    notify: list[Topic] = Field(
        default_factory=lambda: list(get_args(Topic)),
        description="What to tell this channel about.",
    )
    approval_links: StrictBool = Field(
        default=False, description="Put approve/reject links in permission-prompt messages."
    )


class ChannelOut(Schema):
    id: str
    kind: str
    config: dict[str, Any] = Field(description="Secrets are shown as ***.")
    notify: list[str]
    approval_links: bool
    tenant: str
    created_by: str
    created_at: datetime


class ChannelList(Schema):
    channels: list[ChannelOut]


class ApprovalLinkOut(Schema):
    session: str
    decision: str
    expires_at: datetime
    used_at: datetime | None
    used_by: str | None
    state: SessionState = Field(description="The session's state now.")
    prompt: dict[str, Any] = Field(description="What is on screen now.")


class ApprovalLinkUsed(Schema):
    session: str
    decision: str
    option: int | None
    state: SessionState
