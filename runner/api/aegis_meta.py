"""Aegis-shaped server routes: ``GET /v1/diagnostics`` and ``GET /v1/metrics`` (JSON).

Both are for viewers and count only the caller's tenant: Aegis shows every session to
any key, which would tell one tenant about another's work. Prometheus stays at
``/metrics`` (``metrics`` role). docs/aegis-compat.md lists each field's source.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query

from runner.api.aegis_schemas import (
    Diagnostics,
    DiagnosticsEvent,
    GlobalMetrics,
    MetricsSessions,
    PromptDeliveryMetrics,
    TokenUsage,
)
from runner.api.deps import ServicesDep, ViewerDep
from runner.core import SessionState, utcnow
from runner.sessions.liveness import stats
from runner.sessions.model import SessionRecord

router = APIRouter(prefix="/v1", tags=["meta"])


def _check_events(checks: dict[str, str], at: str) -> list[DiagnosticsEvent]:
    return [
        DiagnosticsEvent(
            event="health.check",
            level="info" if result == "ok" else "error",
            component=name,
            operation="check",
            timestamp=at,
            attributes={"result": result},
        )
        for name, result in sorted(checks.items())
    ]


def _failure_events(records: list[SessionRecord]) -> list[DiagnosticsEvent]:
    # No messages or paths: the session's own GET has them for those who may read it.
    failed = [r for r in records if r.state == SessionState.ERROR]
    failed.sort(key=lambda r: r.updated_at, reverse=True)
    return [
        DiagnosticsEvent(
            event="session.failed",
            level="error",
            component="sessions",
            operation="run" if r.container_id else "start",
            session_id=r.id,
            error_code="session_error",
            timestamp=r.updated_at.isoformat(),
            attributes={"policy": r.policy, "image": r.image},
        )
        for r in failed
    ]


@router.get("/diagnostics", response_model=Diagnostics)
async def diagnostics(
    services: ServicesDep,
    actor: ViewerDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> Diagnostics:
    """The server's checks and quotas now, then the tenant's failed sessions, newest first."""
    at = utcnow().isoformat()
    settings = services.settings
    quotas = DiagnosticsEvent(
        event="limits",
        level="info",
        component="quotas",
        operation="admit",
        timestamp=at,
        attributes={
            "maxSessions": settings.max_sessions,
            "maxSessionsPerTenant": settings.max_sessions_per_tenant,
            "maxSessionsPerUser": settings.max_sessions_per_user,
            "sessionStartsPerMinute": settings.session_starts_per_minute,
        },
    )
    records = await services.manager.list_sessions(actor)
    events = [
        *_check_events(await services.health(), at),
        quotas,
        *_failure_events(records),
    ][:limit]
    return Diagnostics(count=len(events), events=events)


def _usage(records: list[SessionRecord]) -> TokenUsage:
    def total(key: str) -> int:
        return sum(int(r.usage.get(key, 0) or 0) for r in records)

    return TokenUsage(
        input_tokens=total("inputTokens"),
        output_tokens=total("outputTokens"),
        requests=total("requests"),
    )


def _delivery(records: list[SessionRecord]) -> PromptDeliveryMetrics:
    prompted = [r for r in records if r.prompt]
    delivered = 0
    for record in prompted:
        startup = record.details.get("startup")
        if isinstance(startup, dict) and "briefed" in startup.get("steps", {}):
            delivered += 1
    failed = sum(1 for r in prompted if r.state == SessionState.ERROR and r.container_id is None)
    rate = round(delivered * 100 / len(prompted)) if prompted else None
    return PromptDeliveryMetrics(
        sent=len(prompted), delivered=delivered, failed=failed, success_rate=rate
    )


@router.get("/metrics", response_model=GlobalMetrics)
async def metrics_summary(services: ServicesDep, actor: ViewerDep) -> GlobalMetrics:
    """Aegis's JSON metrics over the tenant's sessions (Prometheus: ``GET /metrics``)."""
    records = await services.manager.list_sessions(actor)
    counted = stats(records)
    ended = [r for r in records if r.ended_at is not None]
    durations = [(r.ended_at - r.created_at).total_seconds() for r in ended if r.ended_at]
    pipelines = await services.pipelines.list_pipelines(actor)
    return GlobalMetrics(
        uptime=int(time.time() - services.started_at),
        sessions=MetricsSessions(
            total_created=counted.total_created,
            currently_active=counted.active,
            completed=counted.total_completed,
            failed=counted.total_failed,
            avg_duration_sec=round(sum(durations) / len(durations)) if durations else 0,
            avg_messages_per_session=None,
        ),
        auto_approvals=None,
        webhooks_sent=None,
        webhooks_failed=None,
        screenshots_taken=0,
        pipelines_created=len(pipelines),
        batches_created=None,
        prompt_delivery=_delivery(records),
        latency={},
        token_usage=_usage(records),
    )
