"""Session traces and metrics over the in-memory backend: the real services, the real
gateway on its unix socket and the scripted model; spans caught by an in-memory exporter."""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from audit.stores.base import EventFilter
from runner.auth.authenticator import Authenticator
from runner.auth.roles import effective_roles
from runner.core import Actor, SessionState
from runner.sandbox.memory import MemoryBackend
from runner.services import Services, build_services
from runner.sessions.requests import SessionRequest
from runner.settings import Settings
from runner.telemetry import request_id
from runner.telemetry.logs import JsonFormatter
from tests.mounts import unmount_under
from tests.offline_app import offline_app
from tests.receivers import Receiver, serve_receiver
from tests.unit.sessions.fake_claude import FakeClaude

ALICE = Actor("alice", "default", frozenset({"operator", "approver", "viewer"}))
START_STEPS = {
    "policy.admission",
    "workspace.take",
    "workspace.prepare",
    "gateway.start",
    "container.create",
    "container.start",
    "claude.ready",
    "input.delivery",
}


def _settings(root: Path) -> Settings:
    return Settings(
        data_dir=root / "data",
        workspace_roots=[root],
        terminal_cols=80,
        terminal_rows=24,
        delivery_seconds=0.9,
        idle_settle_seconds=0.1,
        model_upstream="scripted",
    )


def _work(root: Path) -> Path:
    work = root / "work"
    work.mkdir(exist_ok=True)
    (work / "app.py").write_text("print('hi')\n")
    return work


@asynccontextmanager
async def _traced(
    root: Path, backend: MemoryBackend
) -> AsyncIterator[tuple[Services, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    services = await build_services(_settings(root), backend=backend, tracer_provider=provider)
    try:
        await services.start()
        yield services, exporter
    finally:
        await services.close()
        unmount_under(root)


async def _until(check: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def _reach(services: Services, session_id: str, state: SessionState) -> None:
    async def reached() -> bool:
        return (await services.manager.get(session_id, ALICE)).state == state

    await _until(reached)


async def _model_request(services: Services, session_id: str) -> None:
    """What Claude Code does in the sandbox: a model request through the session's gateway."""
    paths = services.manager.paths(session_id)
    # Through the directory's descriptor: pytest's tmp path is longer than sun_path allows.
    directory = os.open(paths.socket.parent, os.O_RDONLY)
    socket_path = f"/proc/self/fd/{directory}/{paths.socket.name}"
    transport = httpx.AsyncHTTPTransport(uds=socket_path)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        body = {
            "model": "claude-test",
            "max_tokens": 100,
            "stream": False,
            "messages": [{"role": "user", "content": "hello"}],
        }
        response = await client.post(
            "/v1/messages", json=body, headers={"x-api-key": paths.token()}
        )
        assert response.status_code == 200, response.text


async def _story(services: Services, root: Path) -> str:
    """Create (briefed), a model request, a prompt approved, delete: the session's id."""
    manager = services.manager
    record, _ = await manager.create(
        SessionRequest(work_dir=str(_work(root)), prompt="explain app.py"), ALICE
    )
    await _reach(services, record.id, SessionState.IDLE)
    await _model_request(services, record.id)
    await manager.send(record.id, "[[bash: ls -la /tmp]]", ALICE)
    await _reach(services, record.id, SessionState.PERMISSION_PROMPT)

    async def asked() -> bool:  # reads show the live screen before the event is recorded
        page = services.ledger.query(EventFilter(type="permission.asked"), limit=10)
        return bool(page.entries)

    await _until(asked)
    assert await manager.approve(record.id, ALICE) == 1
    await _reach(services, record.id, SessionState.IDLE)
    return record.id


def _by_name(spans: list[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def test_a_session_start_is_one_trace_with_its_steps_under_session_start(tmp_path: Path) -> None:
    """Root ``session`` → ``session.start`` → each start step; prompts, inputs and the
    model request hang in the same trace, each with the session id and the model's tokens."""

    async def scenario() -> None:
        backend = MemoryBackend()
        FakeClaude(backend)
        async with _traced(tmp_path, backend) as (services, exporter):
            sid = await _story(services, tmp_path)
            await services.manager.delete(sid, ALICE)
            spans = list(exporter.get_finished_spans())

        (root,) = _by_name(spans, "session")
        assert root.parent is None and root.attributes is not None
        assert root.attributes["warden.session.id"] == sid
        assert root.attributes["warden.policy"] == "default"
        trace_id = root.context.trace_id
        (start,) = _by_name(spans, "session.start")
        assert start.parent is not None and start.parent.span_id == root.context.span_id
        steps = [s for s in spans if s.parent and s.parent.span_id == start.context.span_id]
        assert {s.name for s in steps} >= START_STEPS
        assert all(s.context.trace_id == trace_id for s in steps)
        assert all(s.attributes and s.attributes["warden.session.id"] == sid for s in steps)
        # The briefing is inside the start; the later input hangs under the root.
        inputs = _by_name(spans, "input.delivery")
        assert [i.parent.span_id for i in inputs if i.parent] == [
            start.context.span_id,
            root.context.span_id,
        ]
        (model,) = _by_name(spans, "model.request")
        assert model.context.trace_id == trace_id and model.attributes is not None
        assert model.attributes["gen_ai.request.model"] == "claude-test"
        assert int(str(model.attributes["gen_ai.usage.input_tokens"])) > 0
        assert int(str(model.attributes["gen_ai.usage.output_tokens"])) > 0
        assert model.attributes["http.response.status_code"] == 200
        (prompt,) = _by_name(spans, "permission.prompt")
        assert prompt.context.trace_id == trace_id and prompt.attributes is not None
        assert prompt.attributes["warden.permission.decision"] == "approve"
        assert prompt.attributes["warden.permission.actor"] == "alice"
        assert prompt.end_time is not None and prompt.start_time is not None
        assert prompt.end_time > prompt.start_time
        appends = [s for s in _by_name(spans, "audit.append") if s.context.trace_id == trace_id]
        assert {str(s.attributes["warden.event.type"]) for s in appends if s.attributes} >= {
            "input.sent",
            "permission.decided",
            "session.deleted",
        }

    asyncio.run(scenario())


def test_each_group_commit_batch_of_the_ledger_is_a_span(tmp_path: Path) -> None:
    """The ledger's writer commits events in batches: each is an ``audit.batch`` span
    with its size, and the sizes add up to the events appended."""

    async def scenario() -> None:
        backend = MemoryBackend()
        FakeClaude(backend)
        async with _traced(tmp_path, backend) as (services, exporter):
            exporter.clear()
            before, _ = services.ledger.store.head()
            await asyncio.gather(
                *(
                    services.recorder.emit("probe.event", actor=ALICE, session=None, data={"n": n})
                    for n in range(40)
                )
            )
            after, _ = services.ledger.store.head()
            batches = _by_name(list(exporter.get_finished_spans()), "audit.batch")

        sizes = [int(str(b.attributes["warden.audit.batch.size"])) for b in batches if b.attributes]
        assert after - before == 40
        assert sum(sizes) == 40 and len(sizes) == len(batches) >= 1
        assert all(b.parent is None and b.end_time and b.start_time for b in batches)

    asyncio.run(scenario())


def test_with_no_provider_nothing_is_traced(tmp_path: Path) -> None:
    """Tracing off (no ``OTEL_*``): the session traces are disabled and record nothing."""

    async def scenario() -> None:
        backend = MemoryBackend()
        FakeClaude(backend)
        services = await build_services(_settings(tmp_path), backend=backend)
        try:
            assert not services.traces.enabled
            assert services.owned_tracer is None
        finally:
            await services.close()
            unmount_under(tmp_path)

    asyncio.run(scenario())


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_what_the_session_did(tmp_path: Path) -> None:
    """``GET /metrics`` parses as Prometheus text and counts the session's creation, its
    inputs, the approved prompt, the model request's tokens and its audit appends."""

    async def scenario() -> None:
        backend = MemoryBackend()
        FakeClaude(backend)
        async with offline_app(_settings(tmp_path), backend) as (app, services):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://warden") as client:
                before = _samples((await client.get("/metrics")).text)
                await _story(services, tmp_path)
                response = await client.get("/metrics")
        unmount_under(tmp_path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        after = _samples(response.text)
        assert (
            _value(before, "warden_sessions_created_total", tenant="default", policy="default") == 0
        )
        assert (
            _value(after, "warden_sessions_created_total", tenant="default", policy="default") == 1
        )
        assert _value(after, "warden_sessions", state="idle", policy="default") == 1
        assert _value(after, "warden_session_ready_seconds_count") == 1
        assert _value(after, "warden_inputs_total") == 2
        assert _value(after, "warden_permission_prompts_total", policy="default") == 1
        approved = [
            v
            for (name, labels), v in after.items()
            if name == "warden_permission_decisions_total"
            and ("decision", "approve") in labels
            and ("source", "prompt") in labels
        ]
        assert approved == [1]
        requests = _value(
            after,
            "warden_gateway_requests_total",
            tenant="default",
            model="claude-test",
            status="200",
        )
        assert requests == 1
        tokens = _value(
            after,
            "warden_gateway_tokens_total",
            tenant="default",
            model="claude-test",
            kind="output",
        )
        assert tokens > 0
        assert _value(after, "warden_events_total", type="session.created") == 1
        appended = _value(after, "warden_audit_append_seconds_count")
        assert appended >= sum(v for (name, _), v in after.items() if name == "warden_events_total")
        assert _value(after, "warden_sandbox_unknown_containers") == 0
        assert _value(after, "warden_webhook_deliveries", status="dead") == 0

    asyncio.run(scenario())


def test_metrics_need_the_metrics_role_not_a_tenant_admin(tmp_path: Path) -> None:
    """With authentication on, ``/metrics`` refuses a tenant's viewer and admin (403)
    and answers a token holding the ``metrics`` role."""

    async def scenario() -> None:
        root = Actor("root", "default", effective_roles(["global_admin"]))
        async with offline_app(_settings(tmp_path)) as (app, services):
            services.auth = Authenticator(enforced=True, tokens=services.auth.tokens)
            secrets = {}
            for role in ("viewer", "admin", "metrics"):
                _, secrets[role] = await services.auth.tokens.create(
                    root, name=f"m-{role}", roles=[role], expires_in_days=1
                )
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://warden") as client:
                anonymous = await client.get("/metrics")
                got = {
                    role: await client.get(
                        "/metrics", headers={"Authorization": f"Bearer {secret}"}
                    )
                    for role, secret in secrets.items()
                }
        assert anonymous.status_code == 401
        assert got["viewer"].status_code == 403 and got["admin"].status_code == 403
        assert "metrics" in got["admin"].json()["error"]["message"]
        assert got["metrics"].status_code == 200
        assert "warden_events_total" in got["metrics"].text

    asyncio.run(scenario())


def test_every_error_body_and_response_names_the_request_id(tmp_path: Path) -> None:
    """The ``x-request-id`` header is on every response and in every error body; a plain
    id from the caller is kept, anything else is replaced."""

    async def scenario() -> None:
        async with offline_app(_settings(tmp_path)) as (app, _services):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://warden") as client:
                health = await client.get("/v1/health")
                missing = await client.get(f"/v1/sessions/{'0' * 8}-0000-4000-8000-{'0' * 12}")
                kept = await client.get("/v1/sessions/nope", headers={"x-request-id": "abc-123"})
                forged = await client.get(
                    "/v1/sessions/nope", headers={"x-request-id": "evil\nline"}
                )
        assert len(health.headers["x-request-id"]) == 32
        assert missing.status_code == 404
        assert missing.json()["error"]["requestId"] == missing.headers["x-request-id"]
        assert kept.headers["x-request-id"] == "abc-123"
        assert kept.json()["error"]["requestId"] == "abc-123"
        assert forged.headers["x-request-id"] != "evil\nline"
        assert forged.json()["error"]["requestId"] == forged.headers["x-request-id"]

    asyncio.run(scenario())


def test_json_log_lines_carry_the_request_trace_and_span_ids() -> None:
    """With the JSON format, a line logged inside a request's span names the request id
    and that span's trace and span ids; one outside names neither."""
    provider = TracerProvider()
    formatter = JsonFormatter()
    record = logging.LogRecord("runner.x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    outside = json.loads(formatter.format(record))

    def in_request() -> tuple[dict[str, Any], Any]:
        request_id.begin("req-1")
        with provider.get_tracer("t").start_as_current_span("s") as span:
            return json.loads(formatter.format(record)), span.get_span_context()

    # A context of its own, as each request has: the id does not outlive it.
    inside, context = contextvars.copy_context().run(in_request)
    assert request_id.current() is None
    assert outside["message"] == "hello you" and "traceId" not in outside
    assert inside["requestId"] == "req-1"
    assert inside["traceId"] == format(context.trace_id, "032x")
    assert inside["spanId"] == format(context.span_id, "016x")


def test_webhook_deliveries_carry_the_session_traceparent(tmp_path: Path) -> None:
    """Tracing on: a webhook delivery of a session's event is a ``webhook.delivery`` span
    in that session's trace, and the request carries its ``traceparent``."""

    async def scenario() -> None:
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        backend = MemoryBackend()
        FakeClaude(backend)
        settings = _settings(tmp_path).model_copy(
            update={"outbound_allow_networks": ["127.0.0.0/8"]}
        )
        with serve_receiver(Receiver()) as receiver:
            async with offline_app(settings, backend, provider) as (app, services):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://w") as client:
                    body = {"url": receiver.url, "events": ["session.created"]}
                    assert (await client.post("/v1/webhooks", json=body)).status_code == 201
                record, _ = await services.manager.create(
                    SessionRequest(work_dir=str(_work(tmp_path)), prompt="hi"), ALICE
                )
                await asyncio.to_thread(receiver.wait_for, 1)
                await _until(
                    lambda: _true(
                        any(s.name == "webhook.delivery" for s in exporter.get_finished_spans())
                    )
                )
            unmount_under(tmp_path)
        spans = list(exporter.get_finished_spans())
        (root,) = [s for s in spans if s.name == "session"]
        (delivery,) = [s for s in spans if s.name == "webhook.delivery"]
        assert delivery.context.trace_id == root.context.trace_id
        assert delivery.attributes is not None
        assert delivery.attributes["warden.session.id"] == record.id
        traceparent = receiver.requests[0].headers["traceparent"]
        ids = f"00-{delivery.context.trace_id:032x}-{delivery.context.span_id:016x}-"
        assert traceparent.startswith(ids)
        assert int(traceparent[len(ids) :], 16) & 1  # sampled

    asyncio.run(scenario())


async def _true(value: bool) -> bool:
    return value


def test_an_enter_pressed_again_is_counted(tmp_path: Path) -> None:
    """A CLI that swallows the first Enter: the prompt is taken on the second, and
    ``warden_input_retries_total`` says so."""

    async def scenario() -> None:
        backend = MemoryBackend()
        claude = FakeClaude(backend, ignore_enters=1)
        async with offline_app(_settings(tmp_path), backend) as (app, services):
            record, _ = await services.manager.create(
                SessionRequest(work_dir=str(_work(tmp_path)), prompt="hello"), ALICE
            )
            await _reach(services, record.id, SessionState.IDLE)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://w") as client:
                samples = _samples((await client.get("/metrics")).text)
        unmount_under(tmp_path)
        assert claude.prompts == ["hello"]
        assert _value(samples, "warden_input_retries_total") == 1
        assert _value(samples, "warden_inputs_total") == 1

    asyncio.run(scenario())
