"""Metrics and traces of a real session: real ``warden serve``, real Docker, real Claude
Code, the scripted model; spans exported over OTLP/HTTP to a local receiver."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import StartWarden
from tests.integration.server import WardenServer
from tests.receivers import Receiver, otlp_spans, serve_receiver

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _scrape(warden: WardenServer) -> Samples:
    response = warden.client.get("/metrics")
    assert response.status_code == 200, response.text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def _sum(samples: Samples, name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))


def _until(check: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.2)


def _spans_until(receiver: Receiver, check: Any, seconds: float = 30) -> list[dict[str, Any]]:
    deadline = time.monotonic() + seconds
    while True:
        spans = otlp_spans(list(receiver.requests))
        if check(spans) or time.monotonic() > deadline:
            return spans
        time.sleep(0.3)


def test_a_real_session_moves_the_metrics_and_exports_its_trace(
    start_warden: StartWarden, tmp_path: Path
) -> None:
    """Briefed, a Bash prompt approved, deleted: /metrics counts each step with the
    values this session must produce, and its trace reaches an OTLP receiver whole."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text("print('hello')\n")
    with serve_receiver(Receiver()) as receiver:
        warden = start_warden(
            extra_env={
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
                "OTEL_BSP_SCHEDULE_DELAY": "200",
            }
        )
        before = _scrape(warden)
        sid = warden.create(project, prompt="hello there")["id"]
        warden.wait_for(sid, lambda s: s["state"] == "idle" and s["container"], timeout=120)
        assert warden.post(sid, "send", {"text": "[[bash: echo ran > ran.txt]]"}).status_code == 200
        warden.wait_state(sid, "permission_prompt")
        # Reads show the live screen a moment before the prompt's event is recorded.
        _until(lambda: _sum(_scrape(warden), "warden_permission_prompts_total") == 1)
        assert warden.post(sid, "approve").status_code == 200
        warden.wait_state(sid, "idle")
        after = _scrape(warden)
        assert warden.client.delete(f"/v1/sessions/{sid}").status_code == 200
        spans = _spans_until(
            receiver, lambda ss: any(s["name"] == "session" for s in ss), seconds=30
        )

    assert _sum(before, "warden_sessions_created_total") == 0
    assert _sum(after, "warden_sessions_created_total", policy="default", tenant="default") == 1
    assert _sum(after, "warden_sessions", state="idle", policy="default") == 1
    assert _sum(after, "warden_session_ready_seconds_count") == 1
    assert 0 < _sum(after, "warden_session_ready_seconds_sum") < 120
    assert _sum(after, "warden_inputs_total") == 2
    assert _sum(after, "warden_permission_prompts_total", policy="default") == 1
    assert (
        _sum(after, "warden_permission_decisions_total", source="prompt", decision="approve") == 1
    )
    # The real hook asked the policy about the Bash call before Claude Code showed it.
    assert _sum(after, "warden_permission_decisions_total", source="hook", decision="ask") >= 1
    requests = _sum(after, "warden_gateway_requests_total", tenant="default", status="200")
    assert requests >= 2  # the briefing's turn and the Bash turn, at least
    assert _sum(after, "warden_gateway_tokens_total", tenant="default", kind="output") > 0
    assert _sum(after, "warden_events_total", type="session.created") == 1
    assert _sum(after, "warden_audit_append_seconds_count") >= _sum(after, "warden_events_total")
    assert 0 <= _sum(after, "warden_audit_checkpoint_age_seconds") < 120

    (root,) = [s for s in spans if s["name"] == "session"]
    assert root["service"] == "warden" and root["parent"] is None
    assert root["attributes"]["warden.session.id"] == sid
    mine = [s for s in spans if s["trace"] == root["trace"]]
    assert all(s["attributes"].get("warden.session.id") == sid for s in mine)
    (start,) = [s for s in mine if s["name"] == "session.start"]
    steps = {s["name"] for s in mine if s["parent"] == start["id"]}
    assert {"policy.admission", "container.create", "container.start", "claude.ready"} <= steps
    models = [s for s in mine if s["name"] == "model.request"]
    assert len(models) >= 2
    assert all(s["attributes"]["gen_ai.usage.output_tokens"] > 0 for s in models)
    (prompt,) = [s for s in mine if s["name"] == "permission.prompt"]
    assert prompt["attributes"]["warden.permission.decision"] == "approve"
    assert any(s["name"] == "POST /v1/sessions" for s in spans)
