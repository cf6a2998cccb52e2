"""Metrics and spans read off the event bus: every recorded event passes through here.

The events already say what happened (a session created, a prompt asked and decided, a
model request with its tokens), so counting them here keeps the domain code free of
instrumentation and makes the metrics agree with the audit log by construction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from runner.events.bus import Event
from runner.telemetry.metrics import Metrics
from runner.telemetry.traces import SessionTraces

log = logging.getLogger(__name__)

#: The tenant a session belongs to (None when the session is not known).
TenantOf = Callable[[str], str | None]

_TOKEN_KINDS = ("input", "output", "cache_creation_input", "cache_read_input")


class TelemetryObserver:
    """``EventBus`` observer: turns each published event into metrics and spans."""

    def __init__(self, metrics: Metrics, traces: SessionTraces, tenant_of: TenantOf) -> None:
        self._metrics = metrics
        self._traces = traces
        self._tenant_of = tenant_of
        self._created: dict[str, datetime] = {}
        self._asked: dict[str, datetime] = {}
        self._handlers: dict[str, Callable[[Event], None]] = {
            "session.created": self._session_created,
            "session.state": self._session_state,
            "session.ended": self._session_ended,
            "input.sent": lambda _e: self._metrics.inputs.inc(),
            "permission.asked": self._permission_asked,
            "permission.decided": self._permission_decided,
            "tool.decision": self._tool_decision,
            "model.request": self._model_request,
            "model.refused": self._model_refused,
        }

    def __call__(self, event: Event) -> None:
        self._metrics.events.labels(event.type).inc()
        handler = self._handlers.get(event.type)
        if handler is None:
            return
        try:
            handler(event)
        except Exception:
            # Telemetry never stands in the way of an event: log and carry on.
            log.exception("telemetry could not read event %s (seq %s)", event.type, event.seq)

    def _tenant(self, event: Event) -> str:
        tenant = self._tenant_of(event.session) if event.session else None
        return tenant or event.tenant

    def _session_created(self, event: Event) -> None:
        policy = str(event.data.get("policy") or "")
        self._metrics.sessions_created.labels(event.tenant, policy).inc()
        if event.session is not None:
            self._created[event.session] = event.at

    def _session_state(self, event: Event) -> None:
        # The first state a session reports comes after its briefing: Claude Code is ready.
        created = self._created.pop(event.session or "", None)
        if created is not None:
            self._metrics.ready_seconds.observe((event.at - created).total_seconds())

    def _session_ended(self, event: Event) -> None:
        self._created.pop(event.session or "", None)
        self._asked.pop(event.session or "", None)
        state, reason = str(event.data.get("state")), str(event.data.get("reason"))
        self._metrics.sessions_ended.labels(state, reason).inc()

    def _permission_asked(self, event: Event) -> None:
        self._metrics.prompts.labels(str(event.data.get("policy") or "")).inc()
        if event.session is not None:
            self._asked[event.session] = event.at

    def _permission_decided(self, event: Event) -> None:
        decision = str(event.data.get("decision"))
        rule = str(event.data.get("rule") or "person")
        self._metrics.decisions.labels("prompt", decision, rule).inc()
        asked = self._asked.pop(event.session or "", None)
        if event.session is None or asked is None:
            return
        prompt = event.data.get("prompt")
        tool = prompt.get("tool") if isinstance(prompt, Mapping) else None
        self._traces.record(
            event.session,
            "permission.prompt",
            seconds=(event.at - asked).total_seconds(),
            attributes={
                "warden.permission.decision": decision,
                "warden.permission.rule": rule,
                "warden.permission.actor": event.actor,
                "warden.permission.tool": str(tool) if tool else None,
            },
        )

    def _tool_decision(self, event: Event) -> None:
        decision = str(event.data.get("decision"))
        self._metrics.decisions.labels("hook", decision, str(event.data.get("rule") or "")).inc()

    def _model_request(self, event: Event) -> None:
        data, tenant = event.data, self._tenant(event)
        model, status = str(data.get("model")), str(data.get("status"))
        self._metrics.model_requests.labels(tenant, model, status).inc()
        for kind in _TOKEN_KINDS:
            count = _count(data, f"{kind}_tokens")
            if count:
                self._metrics.model_tokens.labels(tenant, model, kind).inc(count)
        if event.session is None:
            return
        error = data.get("error")
        self._traces.record(
            event.session,
            "model.request",
            seconds=float(data.get("seconds") or 0.0),
            attributes={
                "gen_ai.request.model": model,
                "gen_ai.usage.input_tokens": _count(data, "input_tokens"),
                "gen_ai.usage.output_tokens": _count(data, "output_tokens"),
                "http.response.status_code": _count(data, "status"),
                "url.path": str(data.get("path") or ""),
            },
            error=str(error) if error else None,
        )

    def _model_refused(self, event: Event) -> None:
        reason = str(event.data.get("reason"))
        self._metrics.model_refusals.labels(self._tenant(event), reason).inc()


def _count(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    return value if isinstance(value, int) else 0
