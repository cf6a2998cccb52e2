"""Request and response bodies of the REST API (camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from runner.core import PermissionMode, SessionState, WorkspaceMode


class Schema(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class ErrorBody(Schema):
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorResponse(Schema):
    error: ErrorBody


class CreateSession(Schema):
    work_dir: str = Field(
        description="Absolute path of the directory to work on (controller host)."
    )
    prompt: str | None = Field(default=None, description="First prompt, sent once Claude is ready.")
    policy: str = Field(default="default", description="Policy name or path.")
    image: str | None = None
    permission_mode: PermissionMode = PermissionMode.DEFAULT
    model: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    workspace_mode: WorkspaceMode | None = Field(
        default=None, description="Omitted: the policy's workspace.mode."
    )
    unattended: bool = Field(
        default=False,
        description="No person watches (CI): prompts get the policy's CI fallback at once.",
    )
    template: str | None = Field(
        default=None,
        description="A saved template (/v1/templates): fills the fields this request leaves unset.",
    )


class SessionOut(Schema):
    id: str
    state: SessionState
    details: dict[str, Any]
    work_dir: str
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


class SessionList(Schema):
    sessions: list[SessionOut]


class SendInput(Schema):
    text: str = Field(min_length=1, max_length=100_000)


class Answer(Schema):
    option: int | None = Field(default=None, ge=1, description="1-based option number.")
    text: str | None = Field(default=None, min_length=1, max_length=10_000)

    @model_validator(mode="after")
    def _exactly_one(self) -> Answer:
        if (self.option is None) == (self.text is None):
            raise ValueError("give exactly one of 'option' (1-based) or 'text'")
        return self


class ActionResult(Schema):
    ok: bool = True
    state: SessionState
    option: int | None = None


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
    capabilities: list[str] = Field(default_factory=list)


class HandshakeOut(Schema):
    protocol_version: int
    min_protocol_version: int
    server_version: str
    capabilities: list[str]


class Health(Schema):
    status: Literal["ok", "degraded"]
    version: str
    checks: dict[str, str]
