"""Tracing and metrics wired into the controller: the provider, the timed audit append,
and the gauges read when ``/metrics`` is scraped.

Traces go out over OTLP/HTTP when the standard variables ask for it
(``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_TRACES_EXPORTER=otlp``; the exporter reads the
rest of ``OTEL_*`` itself); otherwise no provider is built and nothing is recorded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from sqlalchemy import Engine

from audit.ledger import Ledger
from runner.core import FINAL_STATES, Actor, SessionState, utcnow
from runner.events.sink import AuditAppend
from runner.sandbox.backend import SandboxBackend
from runner.sessions.model import SessionStore
from runner.sessions.registry import SessionRegistry
from runner.store.checkpoints import latest_checkpoint_at
from runner.store.webhooks import SqlWebhookStore
from runner.telemetry.metrics import Metrics
from runner.telemetry.traces import SessionTraces


def tracer_provider_from_env(environ: Mapping[str, str]) -> TracerProvider | None:
    """An OTLP-exporting provider when ``OTEL_*`` asks for one, else None (tracing off)."""
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none" or not (environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or exporter == "otlp"):
        return None
    # Imported here: the exporter (and protobuf) load only when traces go somewhere.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    name = environ.get("OTEL_SERVICE_NAME") or "warden"
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def timed_append(append: AuditAppend, metrics: Metrics, traces: SessionTraces) -> AuditAppend:
    """``append`` that observes its latency and, when tracing, is an ``audit.append`` span
    (in its session's trace when it has one, else in the current one)."""

    async def timed(
        type: str, actor: Actor, session: str | None, data: Mapping[str, Any]
    ) -> tuple[int, str]:
        began = time.perf_counter()
        try:
            if not traces.enabled:
                return await append(type, actor, session, data)
            attributes = {"warden.event.type": type}
            with traces.span(session, "audit.append", attributes) as span:
                placed = await append(type, actor, session, data)
                span.set_attribute("warden.audit.seq", placed[0])
                return placed
        finally:
            metrics.append_seconds.observe(time.perf_counter() - began)

    return timed


def trace_batches(ledger: Ledger, traces: SessionTraces) -> None:
    """With tracing on, each group-commit batch of the ledger's writer is an
    ``audit.batch`` span with its size (a batch holds events of many sessions, so it is
    a trace of its own)."""
    if not traces.enabled:
        return

    def observed(size: int, seconds: float, error: BaseException | None) -> None:
        traces.record(
            None,
            "audit.batch",
            seconds=seconds,
            attributes={"warden.audit.batch.size": size},
            error=None if error is None else f"{type(error).__name__}: {error}",
        )

    ledger.observe_batches(observed)


@dataclass
class Gauges:
    """Reads what the gauges show at scrape time (the store, the ledger, the runtime)."""

    metrics: Metrics
    registry: SessionRegistry
    store: SessionStore
    engine: Engine
    webhooks: SqlWebhookStore
    backend: SandboxBackend
    labels: Mapping[str, str]

    async def refresh(self) -> None:
        """Set every scrape-time gauge; a part that cannot be read keeps its last value."""
        self._sessions()
        await asyncio.to_thread(self._stored)
        await self._unknown_containers()

    def _sessions(self) -> None:
        counts: dict[tuple[str, str], int] = {}
        for session_id in self.registry.running_ids():
            running = self.registry.live(session_id)
            record = self.store.get(session_id) if running is not None else None
            if running is None or record is None:
                continue
            key = (str(running.live.observed.state), record.policy)
            counts[key] = counts.get(key, 0) + 1
        self.metrics.sessions.clear()
        for (state, policy), count in counts.items():
            self.metrics.sessions.labels(state, policy).set(count)

    def _stored(self) -> None:
        signed = latest_checkpoint_at(self.engine)
        age = (utcnow() - signed).total_seconds() if signed is not None else -1.0
        self.metrics.checkpoint_age.set(age)
        counts = self.webhooks.counts()
        for status in ("pending", "dead"):
            self.metrics.webhook_deliveries.labels(status).set(counts.get(status, 0))

    async def _unknown_containers(self) -> None:
        containers = await self.backend.list(self.labels)
        live = [s for s in SessionState if s not in FINAL_STATES]
        known = {r.id for r in await asyncio.to_thread(self.store.find, states=live)}
        leaked = [c for c in containers if c.is_running and c.session_id not in known]
        self.metrics.unknown_containers.set(len(leaked))


def shutdown(provider: TracerProvider | None) -> None:
    """Flush and stop the exporter (spans still queued go out first)."""
    if provider is not None:
        provider.shutdown()
