"""Live events end to end: real ``warden serve``, real Docker, real Claude Code, the
scripted model. One controller (authentication on, API tokens) serves the module and is
SIGKILLed and restarted on the same address and data where a test says so."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyte
import pytest
from httpx_sse import connect_sse
from websockets.sync.client import connect as ws_connect

from runner.sandbox.image import BuildResult
from tests.integration.server import WardenServer
from tests.receivers import Receiver, serve_receiver
from tests.smtp_server import Mailbox, smtp_server

_LINK = re.compile(r"http://\S+/v1/approval-links/(\S+)")


@dataclass
class Warden:
    server: WardenServer
    tokens: dict[str, str]
    mailbox: Mailbox
    project: Path

    def client(self, role: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.server.url,
            headers={"Authorization": f"Bearer {self.tokens[role]}"},
            timeout=60,
        )

    def restart(self) -> None:
        """SIGKILL (no shutdown handlers run), then a new controller on the same data."""
        self.server.kill()
        self.server.start()


def _bootstrap(env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "runner.cli", "tokens", "bootstrap"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def warden(
    tmp_path_factory: pytest.TempPathFactory, sandbox_image: BuildResult
) -> Iterator[Warden]:
    """A controller with auth on, loopback targets allowed and fast webhook retries."""
    root = tmp_path_factory.mktemp("events")
    with smtp_server(root) as (mailbox, ca_file):
        extra = {
            "WARDEN_AUTH_ENABLED": "true",
            "WARDEN_OUTBOUND_ALLOW_NETWORKS": '["127.0.0.0/8"]',
            "WARDEN_WEBHOOK_BACKOFF_SECONDS": "0.3",
            "WARDEN_WEBHOOK_BACKOFF_CAP_SECONDS": "1",
            "WARDEN_WEBHOOK_TIMEOUT_SECONDS": "2",
            "WARDEN_NOTIFY_CA_FILE": str(ca_file),
            "WARDEN_SSE_PING_SECONDS": "1",
        }
        server = WardenServer(root / "data", f"sqlite:///{root / 'warden.db'}", extra_env=extra)
        admin = _bootstrap(server.env)
        server.start()
        try:
            tokens = {"admin": admin}
            with httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {admin}"}
            ) as c:
                for role in ("viewer", "operator", "approver"):
                    body = {"name": f"events-{role}", "roles": [role], "expiresInDays": 1}
                    response = c.post("/v1/tokens", json=body)
                    assert response.status_code == 201, response.text
                    tokens[role] = response.json()["secret"]
            project = root / "project"
            project.mkdir()
            (project / "README").write_text("events\n")
            yield Warden(server, tokens, mailbox, project)
        finally:
            server.stop()


@pytest.fixture(scope="module")
def session(warden: Warden) -> str:
    """One session, idle after its first prompt."""
    with warden.client("operator") as client:
        created = client.post(
            "/v1/sessions", json={"workDir": str(warden.project), "prompt": "hello events"}
        )
        assert created.status_code == 201, created.text
        sid: str = created.json()["id"]
    _wait_state(warden, sid, "idle", timeout=120)
    return sid


def _wait_state(warden: Warden, sid: str, *states: str, timeout: float = 90) -> dict[str, Any]:
    warden.server.client.headers["Authorization"] = f"Bearer {warden.tokens['viewer']}"
    return warden.server.wait_state(sid, *states, timeout=timeout)


class Collector:
    """An SSE client in a thread (httpx-sse) that records every event until stopped."""

    def __init__(self, warden: Warden, path: str, last_id: int | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self._stop = threading.Event()
        headers = {"Last-Event-ID": str(last_id)} if last_id is not None else {}
        self._client = warden.client("viewer")
        self._client.headers.update(headers)
        self._thread = threading.Thread(target=self._run, args=(path,), daemon=True)
        self._thread.start()

    def _run(self, path: str) -> None:
        try:
            with connect_sse(self._client, "GET", path, timeout=None) as source:
                for sse in source.iter_sse():
                    if not sse.data:
                        continue  # httpx-sse reports a keep-alive comment as an empty event
                    body = json.loads(sse.data)
                    assert sse.id == str(body["id"])
                    self.events.append(body)
                    if self._stop.is_set():
                        return
        except httpx.HTTPError:
            return  # the server went away (SIGKILL) or the test closed us

    def wait(self, predicate: Any, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self.events):
            assert time.monotonic() < deadline, [e["type"] for e in self.events]
            time.sleep(0.1)

    def close(self) -> None:
        self._stop.set()
        self._client.close()
        self._thread.join(10)


def _has(events: list[dict[str, Any]], type_: str, **data: Any) -> bool:
    return any(
        e["type"] == type_ and all(e["data"].get(k) == v for k, v in data.items()) for e in events
    )


def _idle_after_decision(events: list[dict[str, Any]]) -> bool:
    kinds = [e["type"] for e in events]
    if "permission.decided" not in kinds:
        return False
    after = events[kinds.index("permission.decided") :]
    return _has(after, "session.state", state="idle")


def test_sse_story_in_order_and_exact_replay_after_sigkill(warden: Warden, session: str) -> None:
    """created → idle → permission.asked (command) → decided (actor, rule) → message turns →
    idle; then, disconnected across a SIGKILL and restart, Last-Event-ID replays exactly
    what was missed: the same events as a full read, no gap, no duplicate."""
    path = f"/v1/sessions/{session}/events"
    live = Collector(warden, path)
    with warden.client("operator") as operator, warden.client("approver") as approver:
        live.wait(lambda ev: _has(ev, "session.state", state="idle"))
        sent = operator.post(f"/v1/sessions/{session}/send", json={"text": "[[bash: echo sse]]"})
        assert sent.status_code == 200, sent.text
        live.wait(lambda ev: _has(ev, "permission.asked"))
        assert approver.post(f"/v1/sessions/{session}/approve").status_code == 200
        live.wait(_idle_after_decision)
    time.sleep(2)  # the transcript's last lines are read by a poll
    live.close()
    events = live.events
    ids = [e["id"] for e in events]
    assert ids == sorted(set(ids)), ids
    kinds = [e["type"] for e in events]
    assert kinds[0] == "session.created"
    first_idle = next(i for i, e in enumerate(events) if e["data"].get("state") == "idle")
    asked = kinds.index("permission.asked")
    decided = kinds.index("permission.decided")
    assert first_idle < asked < decided
    assert "echo sse" in events[asked]["data"]["command"]
    verdict = events[decided]["data"]
    assert verdict["decision"] == "approve" and verdict["actor"].startswith("token:events-approver")
    assert verdict["rule"], verdict
    messages = [e for e in events[decided:] if e["type"] == "message"]
    assert messages, kinds
    assert any(m["data"]["toolResults"] or m["data"]["role"] == "assistant" for m in messages)
    final_idle = max(i for i, e in enumerate(events) if e["data"].get("state") == "idle")
    assert final_idle > decided and "message" in kinds[first_idle:]

    # Disconnected: more happens, the controller dies and comes back, more happens.
    last = ids[-1]
    with warden.client("operator") as operator:
        assert operator.post(f"/v1/sessions/{session}/send", json={"text": "while away"}).is_success
    _wait_state(warden, session, "idle")
    time.sleep(1.5)
    warden.restart()
    _wait_state(warden, session, "idle", timeout=30)
    with warden.client("operator") as operator:
        assert operator.post(
            f"/v1/sessions/{session}/send", json={"text": "after restart"}
        ).is_success
    _wait_state(warden, session, "idle")
    time.sleep(2)

    with warden.client("viewer") as viewer:
        stored = viewer.get(path, params={"follow": "false"})
    full = [json.loads(line[5:]) for line in stored.text.splitlines() if line.startswith("data:")]
    expected = [e for e in full if e["id"] > last]
    assert [e["id"] for e in full if e["id"] <= last] == ids  # what we saw is what is stored
    resumed = Collector(warden, path, last_id=last)
    resumed.wait(lambda ev: len(ev) >= len(expected))
    time.sleep(1)
    resumed.close()
    assert resumed.events == expected
    texts = [e["data"].get("text", "") for e in expected if e["type"] == "message"]
    assert any("while away" in t for t in texts) and any("after restart" in t for t in texts)


def _render(snapshot: bytes, cols: int = 120, rows: int = 40) -> str:
    screen = pyte.Screen(cols, rows)
    pyte.ByteStream(screen).feed(snapshot)
    return "\n".join(line.rstrip() for line in screen.display).rstrip("\n")


def test_terminal_websocket_viewer_reads_operator_types(warden: Warden, session: str) -> None:
    """A viewer gets the live screen (its snapshot renders to the /pane text) and cannot
    type; an operator's input reaches the agent."""
    _wait_state(warden, session, "idle")
    url = warden.server.url.replace("http", "ws") + f"/v1/sessions/{session}/terminal"
    viewer_headers = {"Authorization": f"Bearer {warden.tokens['viewer']}"}
    with ws_connect(url, additional_headers=viewer_headers) as socket:
        snapshot = socket.recv(timeout=10)
        assert isinstance(snapshot, bytes)
        with warden.client("viewer") as viewer:
            pane = viewer.get(f"/v1/sessions/{session}/pane").json()["text"]
        assert _render(snapshot) == pane
        socket.send(json.dumps({"type": "input", "text": "viewer typing"}))
        reply = socket.recv(timeout=10)
        while isinstance(reply, bytes):
            reply = socket.recv(timeout=10)
        assert json.loads(reply)["code"] == "forbidden"

    with warden.client("operator") as operator:
        ticket = operator.post(f"/v1/sessions/{session}/terminal/ticket").json()["ticket"]
    with ws_connect(f"{url}?ticket={ticket}") as socket:
        stream = bytearray(socket.recv(timeout=10))
        socket.send(json.dumps({"type": "input", "text": "typed over the socket"}))
        reply = socket.recv(timeout=60)
        while isinstance(reply, bytes):
            stream += reply
            reply = socket.recv(timeout=60)
        assert json.loads(reply) == {"type": "sent"}, reply
        with warden.client("viewer") as viewer:
            deadline = time.monotonic() + 60
            while "Scripted reply to: typed over the socket" not in _pane(viewer, session):
                assert time.monotonic() < deadline, _pane(viewer, session)
                time.sleep(0.3)
            _wait_state(warden, session, "idle")
            time.sleep(1)
            while True:  # what the socket carried meanwhile
                try:
                    frame = socket.recv(timeout=1)
                except TimeoutError:
                    break
                assert isinstance(frame, bytes)
                stream += frame
            pane = _pane(viewer, session)
    # The snapshot and the live bytes after it draw exactly the screen the controller sees.
    assert _render(bytes(stream)) == pane
    assert "viewer typing" not in pane


def _pane(client: httpx.Client, session: str) -> str:
    text: str = client.get(f"/v1/sessions/{session}/pane").json()["text"]
    return text


def _delivered(warden: Warden, hook_id: str, delivery_id: str) -> dict[str, Any]:
    """The delivery once it is recorded as delivered (the record follows the reply)."""
    deadline = time.monotonic() + 20
    with warden.client("admin") as admin:
        while True:
            listed = admin.get(f"/v1/webhooks/{hook_id}/deliveries").json()["deliveries"]
            found = [d for d in listed if d["id"] == delivery_id]
            if found and found[0]["status"] == "delivered":
                return found[0]
            assert time.monotonic() < deadline, listed
            time.sleep(0.2)


def _webhook(warden: Warden, url: str, **body: Any) -> dict[str, Any]:
    with warden.client("admin") as admin:
        created = admin.post("/v1/webhooks", json={"url": url, **body})
        assert created.status_code == 201, created.text
        hook: dict[str, Any] = created.json()
        return hook


def test_webhooks_retry_survive_sigkill_and_do_not_wait_for_each_other(
    warden: Warden, session: str
) -> None:
    """Signed deliveries: a receiver down for three tries gets it on the fourth; a hanging
    receiver does not delay another; a delivery pending at SIGKILL arrives once after."""
    flaky, hanging, quick, down = (
        Receiver(fail_each=3),
        Receiver(hang_seconds=5),
        Receiver(),
        Receiver(fail_first=10**6),
    )
    with (
        serve_receiver(flaky),
        serve_receiver(hanging),
        serve_receiver(quick),
        serve_receiver(down),
    ):
        messages_only = {"events": ["message"]}
        hooks = {}
        for receiver in (flaky, hanging, quick, down):
            hooks[receiver.url] = _webhook(warden, receiver.url, **messages_only)
            receiver.secret = hooks[receiver.url]["secret"]
        started = time.monotonic()
        with warden.client("operator") as operator:
            assert operator.post(f"/v1/sessions/{session}/send", json={"text": "hooks"}).is_success
        quick.wait_for(1, 60)
        assert time.monotonic() - started < 45
        assert not hanging.accepted  # still hanging: it did not hold the quick one up
        flaky.wait_for(1, 60)
        first = flaky.accepted[0]
        assert [r.headers["webhook-id"] for r in flaky.requests].count(first) == 4
        delivery = _delivered(warden, hooks[flaky.url]["id"], first)
        assert [a["statusCode"] for a in delivery["history"]] == [503, 503, 503, 200]
        assert flaky.bad_signatures == quick.bad_signatures == 0

        # `down` has deliveries pending; the controller dies; the receiver comes back.
        pending = {r.headers["webhook-id"] for r in down.requests}
        assert pending
        warden.restart()
        down.fail_first = 0
        down.wait_for(len(pending), 60)
        time.sleep(2)
        counts = Counter(down.accepted)
        assert pending <= set(counts) and set(counts.values()) == {1}  # each exactly once
        assert down.bad_signatures == 0


def test_prompt_notifications_and_their_approval_link(warden: Warden, session: str) -> None:
    """Slack, Telegram and email (STARTTLS) stand-ins get the prompt; its approve link, used
    once by an approver, approves; used again, or after the prompt changed, it is refused."""
    slack, telegram = Receiver(), Receiver()
    with serve_receiver(slack), serve_receiver(telegram), warden.client("admin") as admin:
        bot = {"botToken": "1:x", "chatId": "7", "baseUrl": telegram.url}
        mail = {"host": "127.0.0.1", "port": warden.mailbox.port, "from": "warden@example.org"}
        channels = [
            {"kind": "slack", "config": {"webhookUrl": f"{slack.url}/services/T/B/X"}},
            {"kind": "telegram", "config": bot},
            {"kind": "email", "config": {**mail, "to": ["ops@example.org"]}},
        ]
        made = []
        for body in channels:
            body |= {"notify": ["prompt"], "approvalLinks": True}
            response = admin.post("/v1/notifications/channels", json=body)
            assert response.status_code == 201, response.text
            made.append(response.json()["id"])
        try:
            _notified_prompt(warden, session, slack, telegram)
        finally:
            for channel in made:
                admin.delete(f"/v1/notifications/channels/{channel}")


def _notified_prompt(warden: Warden, session: str, slack: Receiver, telegram: Receiver) -> None:
    _wait_state(warden, session, "idle")
    with warden.client("operator") as operator:
        sent = operator.post(f"/v1/sessions/{session}/send", json={"text": "[[bash: echo link]]"})
        assert sent.status_code == 200, sent.text
    slack.wait_for(1, 60)
    telegram.wait_for(1, 30)
    deadline = time.monotonic() + 30
    while not warden.mailbox.messages:
        assert time.monotonic() < deadline, "no mail"
        time.sleep(0.2)
    text = slack.requests[-1].json()["text"]
    assert "echo link" in text and f"/v1/sessions/{session}" in text
    assert "echo link" in telegram.requests[-1].json()["text"]
    mail = warden.mailbox.messages[-1].get_payload(decode=True).decode()
    assert "echo link" in mail and warden.mailbox.encrypted[-1]
    approve = _LINK.findall(text)[0]
    stale = _LINK.findall(telegram.requests[-1].json()["text"])[0]

    with warden.client("viewer") as viewer:
        assert viewer.post(f"/v1/approval-links/{approve}").status_code == 403  # not an approver
    with warden.client("approver") as approver:
        used = approver.post(f"/v1/approval-links/{approve}")
        assert used.status_code == 200, used.text
        _wait_state(warden, session, "idle")
        again = approver.post(f"/v1/approval-links/{approve}")
        assert again.status_code == 409 and "already used" in again.text
        with warden.client("operator") as operator:
            operator.post(f"/v1/sessions/{session}/send", json={"text": "[[bash: echo other]]"})
        _wait_state(warden, session, "permission_prompt")
        changed = approver.post(f"/v1/approval-links/{stale}")
        assert changed.status_code == 409 and "no longer on screen" in changed.text
        assert approver.post(f"/v1/sessions/{session}/reject").status_code == 200
    _wait_state(warden, session, "idle")
    with warden.client("admin") as admin:
        params = {"session": session, "type": "approval_link.used"}
        audit = admin.get("/v1/audit", params=params).json()
    (use,) = audit["events"]
    assert use["actor"].startswith("token:events-approver")
