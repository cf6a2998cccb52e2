"""Response bodies of the Aegis-shaped routes, in Aegis's own field names.

Times are Unix milliseconds and ages milliseconds, as Aegis sends them; the metrics
summary keeps Aegis's snake_case keys. docs/aegis-compat.md maps each field.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from runner.api.schemas import Schema


class PromptDelivery(Schema):
    delivered: bool
    attempts: int


class Pagination(Schema):
    page: int
    limit: int = Field(description="Sessions per page (Aegis's name for pageSize).")
    page_size: int
    total: int
    total_pages: int


class ActionHint(Schema):
    method: str
    url: str
    description: str


class SessionHealth(Schema):
    alive: bool
    window_exists: bool = Field(description="The sandbox container exists (Aegis: tmux window).")
    claude_running: bool
    pane_command: str | None
    status: str
    has_transcript: bool
    last_activity: int = Field(description="Unix ms of the last state change.")
    last_activity_ago: int = Field(description="Milliseconds since then.")
    session_age: int = Field(description="Milliseconds since the session was created.")
    details: str = Field(description="What is going on and what to do next, for a person.")
    action_hints: dict[str, ActionHint] | None = None


class SummaryMessage(Schema):
    role: str
    content_type: Literal["text", "tool_use", "tool_result"]
    text: str


class SessionSummary(Schema):
    session_id: str
    window_name: str = Field(description="The session's name, or its id when it has none.")
    status: str
    total_messages: int
    tool_calls: int
    messages: list[SummaryMessage] = Field(description="The last 20 turns, oldest first.")
    created_at: int
    last_activity: int
    permission_mode: str


class SessionStats(Schema):
    active: int
    by_status: dict[str, int]
    total_created: int
    total_completed: int
    total_failed: int


class DiagnosticsEvent(Schema):
    event: str
    level: Literal["info", "warn", "error"]
    component: str
    operation: str
    session_id: str | None = None
    error_code: str | None = None
    timestamp: str
    attributes: dict[str, Any] = Field(default_factory=dict)


class Diagnostics(Schema):
    count: int
    events: list[DiagnosticsEvent]


class _Snake(Schema):
    # Aegis's metrics summary is snake_case on the wire.
    model_config = ConfigDict(alias_generator=None)


class MetricsSessions(_Snake):
    total_created: int
    currently_active: int
    completed: int
    failed: int
    avg_duration_sec: int
    avg_messages_per_session: int | None = Field(
        description="Not counted by Warden (transcripts are read on demand): null."
    )


class PromptDeliveryMetrics(_Snake):
    sent: int
    delivered: int
    failed: int
    success_rate: int | None


class TokenUsage(_Snake):
    input_tokens: int
    output_tokens: int
    requests: int


class GlobalMetrics(_Snake):
    uptime: int = Field(description="Seconds since this controller started.")
    sessions: MetricsSessions
    auto_approvals: int | None = Field(description="Not counted per tenant: null.")
    webhooks_sent: int | None = Field(description="Webhooks are admin-scoped: null here.")
    webhooks_failed: int | None = Field(description="Webhooks are admin-scoped: null here.")
    screenshots_taken: int = Field(description="Warden takes no screenshots: always 0.")
    pipelines_created: int
    batches_created: int | None = Field(description="Not counted: null.")
    prompt_delivery: PromptDeliveryMetrics
    latency: dict[str, Any] = Field(
        description="Aegis's latency aggregates; Warden's are in Prometheus at /metrics: {}."
    )
    token_usage: TokenUsage
