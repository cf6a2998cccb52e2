"""Metrics, traces and the SIEM stream of a real session: real ``warden serve``, real
Docker, real Claude Code, the scripted model; spans exported over OTLP/HTTP to a local
receiver, audit events over syslog TLS to a local collector."""

from __future__ import annotations

import itertools
import re
import time
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from runner.events.siem import CURSOR
from runner.store.database import create_database_engine
from runner.store.webhooks import SqlWebhookStore
from tests.integration.conftest import StartWarden
from tests.integration.server import WardenServer
from tests.receivers import Receiver, SyslogReceiver, otlp_spans, serve_receiver
from tests.tls import make_ca_and_cert, server_context

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


def test_a_real_session_streams_every_audit_event_to_a_tls_collector(
    start_warden: StartWarden, tmp_path: Path
) -> None:
    """warden serve with a tls:// collector and its CA: every audit event of a real session
    (Docker, Claude Code) arrives in sequence order, across a collector restart, each
    message chained to the one before (prevHash = the previous chainHash), and the
    stored position reaches the ledger's head."""
    ca, cert, key = make_ca_and_cert(tmp_path)
    receiver = SyslogReceiver(tls=server_context(cert, key)).start()
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text("print('hello')\n")
    try:
        warden = start_warden(
            extra_env={
                "WARDEN_SIEM_SYSLOG_URL": f"tls://127.0.0.1:{receiver.port}",
                "WARDEN_SIEM_CA_FILE": str(ca),
            }
        )
        sid = warden.create(project, prompt="hello there")["id"]
        warden.wait_for(sid, lambda s: s["state"] == "idle" and s["container"], timeout=120)
        _until(lambda: set(receiver.seqs()) >= set(_ledger(warden)), 30)
        receiver.stop()
        assert warden.client.delete(f"/v1/sessions/{sid}").status_code == 200
        time.sleep(2)  # the session's last events are written while nobody listens
        receiver.start()
        _until(lambda: set(receiver.seqs()) >= set(_ledger(warden)), 60)
        ledger = _ledger(warden)
        cursors = SqlWebhookStore(create_database_engine(f"sqlite:///{tmp_path / 'warden.db'}"))
        _until(lambda: cursors.cursor(CURSOR) == max(_ledger(warden)), 15)
    finally:
        receiver.stop()
    seqs = receiver.seqs()
    assert set(seqs) == set(ledger)  # every event, none missing, nothing else
    assert seqs[0] == 0 and all(b == a + 1 or b <= a for a, b in itertools.pairwise(seqs))
    assert not receiver.failed_handshakes
    chained = {seq: _params(m) for seq, m in zip(seqs, receiver.messages, strict=True)}
    for seq in sorted(chained)[1:]:
        assert chained[seq]["prevHash"] == chained[seq - 1]["chainHash"]
        assert chained[seq]["chainHash"] == ledger[seq]


def _ledger(warden: WardenServer) -> dict[int, str]:
    """Every event's seq and chain hash, from the audit API."""
    found: dict[int, str] = {}
    after: int | None = None
    while True:
        params: dict[str, Any] = {"limit": 1000, **({"after": after} if after is not None else {})}
        page = warden.client.get("/v1/audit", params=params).json()
        found.update((e["seq"], e["chainHash"]) for e in page["events"])
        if page["nextCursor"] is None:
            return found
        after = page["nextCursor"]


def _params(message: bytes) -> dict[str, str]:
    """The structured-data parameters of one RFC 5424 message."""
    sd = message.split(b"[warden@32473 ", 1)[1].split(b"]", 1)[0].decode()
    return dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', sd))
