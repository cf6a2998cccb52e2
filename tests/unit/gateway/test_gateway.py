"""The gateway driven for real over its unix socket, with the scripted model as upstream."""

from __future__ import annotations

import stat
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from runner.gateway.hooks import HookDecision, ToolCall
from runner.gateway.server import Gateway
from runner.gateway.sse import SseParser
from runner.scripted.server import ScriptedModelServer

pytestmark = pytest.mark.anyio

TOKEN = "sess-token-abc123"
UPSTREAM_KEY = "sk-ant-real-upstream-key-DO-NOT-LEAK"
HOOK_INPUT = {
    "session_id": "claude-uuid",
    "hook_event_name": "PreToolUse",
    "tool_name": "Bash",
    "tool_input": {"command": "rm -rf /", "description": "wipe"},
    "tool_use_id": "toolu_1",
    "cwd": "/workspace",
    "permission_mode": "default",
}


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"


class Events:
    """Collects the gateway's events (the audit hook point)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, name: str, data: dict[str, Any]) -> None:
        self.seen.append((name, data))

    def named(self, name: str) -> list[dict[str, Any]]:
        return [data for seen, data in self.seen if seen == name]


@asynccontextmanager
async def running(
    **options: Any,
) -> AsyncIterator[tuple[Gateway, ScriptedModelServer, httpx.AsyncClient]]:
    """A scripted upstream, a gateway in front of it, and a client speaking over the socket."""
    # A short directory: unix socket paths are limited to 107 bytes.
    with tempfile.TemporaryDirectory(prefix="gw") as tmp:
        socket_path = Path(tmp) / "gateway.sock"
        async with ScriptedModelServer() as model:
            gateway = Gateway(
                session_id="s-1",
                socket_path=socket_path,
                token=TOKEN,
                upstream_url=options.pop("upstream_url", model.url),
                upstream_key=UPSTREAM_KEY,
                **options,
            )
            await gateway.start()
            transport = httpx.AsyncHTTPTransport(uds=str(socket_path))
            try:
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://warden"
                ) as client:
                    yield gateway, model, client
            finally:
                await gateway.close()


def message_body(
    prompt: str = "hi", *, model: str = "claude-test", stream: bool = True
) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 100,
        "stream": stream,
        "messages": [{"role": "user", "content": prompt}],
    }


async def stream_message(
    client: httpx.AsyncClient, body: dict[str, Any], **headers: str
) -> tuple[int, list[dict[str, Any]], bytes]:
    """POST a streaming request; return status, decoded events and the raw bytes."""
    parser, events, raw = SseParser(), [], b""
    async with client.stream(
        "POST", "/v1/messages?beta=true", json=body, headers=headers
    ) as response:
        async for chunk in response.aiter_bytes():
            raw += chunk
            events += [e.json() for e in parser.feed(chunk)]
    return response.status_code, events, raw


async def test_missing_or_wrong_token_is_refused() -> None:
    """Without the session token, or with a wrong one, the answer is 401 and nothing is relayed."""
    events = Events()
    async with running(on_event=events) as (_, model, client):
        missing = await client.post("/v1/messages", json=message_body())
        wrong = await client.post(
            "/v1/messages", json=message_body(), headers={"x-api-key": "nope"}
        )
        hook = await client.post("/v1/hooks/pre-tool-use", json=HOOK_INPUT)
    assert missing.status_code == wrong.status_code == hook.status_code == 401
    assert wrong.json()["error"]["type"] == "authentication_error"
    assert not [r for r in model.requests if r.path == "/v1/messages"]
    assert len(events.named("auth.failed")) == 3


async def test_stream_is_relayed_intact_and_usage_recorded() -> None:
    """A streamed reply arrives event for event, and its token usage is recorded per session."""
    events = Events()
    async with running(on_event=events) as (gateway, _, client):
        status, stream, _ = await stream_message(
            client, message_body("hello"), **{"x-api-key": TOKEN}
        )
    assert status == 200
    kinds = [e["type"] for e in stream]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    text = "".join(e["delta"]["text"] for e in stream if e["type"] == "content_block_delta")
    assert text == "Scripted reply to: hello"
    started = stream[0]["message"]["usage"]["input_tokens"]
    produced = stream[-2]["usage"]["output_tokens"]
    usage = gateway.usage
    assert (usage.requests, usage.input_tokens, usage.output_tokens) == (1, started, produced)
    assert usage.by_model["claude-test"].output_tokens == produced
    (recorded,) = events.named("model.request")
    assert recorded["status"] == 200 and recorded["output_tokens"] == produced
    assert recorded["session_id"] == "s-1" and recorded["stop_reason"] == "end_turn"


async def test_upstream_key_injected_and_never_returned() -> None:
    """Upstream sees the real key (not the token); the sandbox side never sees the key."""
    async with running() as (_, model, client):
        headers = {
            "authorization": f"Bearer {TOKEN}",
            "anthropic-version": "2023-06-01",
            "anthropic-beta": "claude-code-20250219",
            "connection": "keep-alive",
        }
        status, _, raw = await stream_message(client, message_body(), **headers)
        response = await client.post(
            "/v1/messages", json=message_body(stream=False), headers={"x-api-key": TOKEN}
        )
    assert status == 200 and response.status_code == 200
    seen = [r.headers for r in model.requests if r.path == "/v1/messages"]
    assert [h["x-api-key"] for h in seen] == [UPSTREAM_KEY, UPSTREAM_KEY]
    assert all("authorization" not in h for h in seen)
    assert all(TOKEN not in str(h) for h in seen)
    assert seen[0]["anthropic-version"] == "2023-06-01"
    assert seen[0]["anthropic-beta"] == "claude-code-20250219"
    assert UPSTREAM_KEY.encode() not in raw
    assert UPSTREAM_KEY not in response.text and UPSTREAM_KEY not in str(response.headers)


async def test_model_outside_allowlist_is_refused() -> None:
    """A model not on the allowlist gets 403 naming it and the allowed ones; nothing is relayed."""
    events = Events()
    allowed = frozenset({"claude-sonnet-5", "claude-haiku-5"})
    async with running(allowed_models=allowed, on_event=events) as (gateway, model, client):
        response = await client.post(
            "/v1/messages", json=message_body(model="claude-opus-5-5"), headers={"x-api-key": TOKEN}
        )
        ok = await client.post(
            "/v1/messages", json=message_body(model="claude-haiku-5", stream=False),
            headers={"x-api-key": TOKEN},
        )  # fmt: skip
    assert response.status_code == 403
    message = response.json()["error"]["message"]
    assert "claude-opus-5-5" in message and "claude-haiku-5, claude-sonnet-5" in message
    assert ok.status_code == 200
    assert [r.body["model"] for r in model.requests] == ["claude-haiku-5"]
    (refusal,) = events.named("model.refused")
    assert refusal["model"] == "claude-opus-5-5" and refusal["reason"] == "model_not_allowed"
    assert gateway.usage.requests == 1


async def test_token_budget_refuses_once_spent() -> None:
    """Once the session's tokens reach max_tokens, further model calls are refused."""
    async with running(max_tokens=5) as (gateway, _, client):
        first = await client.post("/v1/messages", json=message_body(stream=False),
                                  headers={"x-api-key": TOKEN})  # fmt: skip
        second = await client.post("/v1/messages", json=message_body(stream=False),
                                   headers={"x-api-key": TOKEN})  # fmt: skip
    assert first.status_code == 200
    assert gateway.usage.tokens.total >= 5
    assert second.status_code == 403
    assert "token budget" in second.json()["error"]["message"]


async def test_count_tokens_relayed_without_counting_usage() -> None:
    """count_tokens goes upstream with the key and answers input_tokens; it costs no budget."""
    async with running() as (gateway, model, client):
        response = await client.post(
            "/v1/messages/count_tokens?beta=true", json=message_body(), headers={"x-api-key": TOKEN}
        )
    assert response.status_code == 200 and response.json()["input_tokens"] > 0
    assert model.requests[-1].path == "/v1/messages/count_tokens"
    assert model.requests[-1].headers["x-api-key"] == UPSTREAM_KEY
    assert gateway.usage.requests == 0


async def test_upstream_error_status_passes_through() -> None:
    """An upstream HTTP error reaches Claude Code unchanged (it shows it and retries)."""
    async with running() as (gateway, _, client):
        response = await client.post(
            "/v1/messages", json=message_body("[[error: 500]]"), headers={"x-api-key": TOKEN}
        )
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "api_error"
    assert gateway.usage.requests == 0


async def test_unreachable_upstream_is_a_502() -> None:
    """With the upstream down, the sandbox gets an Anthropic-style 502, not a hang."""
    events = Events()
    async with running(upstream_url="http://127.0.0.1:9", on_event=events) as (_, _, client):
        response = await client.post(
            "/v1/messages", json=message_body(), headers={"x-api-key": TOKEN}
        )
    assert response.status_code == 502
    assert "unreachable" in response.json()["error"]["message"]
    assert events.named("model.request")[0]["status"] == 502


async def test_pre_tool_use_answers_with_policy_decision() -> None:
    """The hook gets Claude Code's output JSON carrying the policy's decision and rule."""
    calls: list[ToolCall] = []

    async def decide(call: ToolCall) -> HookDecision:
        calls.append(call)
        return HookDecision("deny", "destructive command", "tools.deny[0]")

    events = Events()
    async with running(decide=decide, on_event=events) as (_, _, client):
        response = await client.post(
            "/v1/hooks/pre-tool-use", json=HOOK_INPUT, headers={"x-api-key": TOKEN}
        )
    assert response.json() == {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": "warden: tools.deny[0]: destructive command",
        }
    }
    assert calls == [ToolCall("s-1", "Bash", HOOK_INPUT["tool_input"], "toolu_1", "/workspace",
                              "default")]  # fmt: skip
    (decided,) = events.named("tool.decision")
    assert decided["decision"] == "deny" and decided["rule"] == "tools.deny[0]"
    assert decided["claude_session_id"] == "claude-uuid"
    assert len(decided["request"]) == 32  # the gateway's id for this hook call


async def test_pre_tool_use_fails_closed() -> None:
    """A decide that raises, or unreadable hook input, is answered with deny."""

    async def broken(call: ToolCall) -> HookDecision:
        raise RuntimeError("policy store down")

    async with running(decide=broken) as (_, _, client):
        raised = await client.post(
            "/v1/hooks/pre-tool-use", json=HOOK_INPUT, headers={"x-api-key": TOKEN}
        )
        garbage = await client.post(
            "/v1/hooks/pre-tool-use", content=b"{not json", headers={"x-api-key": TOKEN}
        )
    for response in (raised, garbage):
        output = response.json()["hookSpecificOutput"]
        assert output["permissionDecision"] == "deny"
    assert "RuntimeError" in raised.json()["hookSpecificOutput"]["permissionDecisionReason"]


async def test_pre_tool_use_denies_when_decision_cannot_be_audited() -> None:
    """If the tool.decision event cannot be recorded, an allow becomes a deny."""

    async def allow(call: ToolCall) -> HookDecision:
        return HookDecision("allow", "read-only", "tools.allow[0]")

    async def audit_down(name: str, data: dict[str, Any]) -> None:
        raise OSError("ledger unavailable")

    async with running(decide=allow, on_event=audit_down) as (_, _, client):
        response = await client.post(
            "/v1/hooks/pre-tool-use", json=HOOK_INPUT, headers={"x-api-key": TOKEN}
        )
    assert response.json()["hookSpecificOutput"]["permissionDecision"] == "deny"


async def test_pre_tool_use_without_policy_asks() -> None:
    """With no decide function, the answer is ask, so Claude Code shows its own prompt."""
    async with running() as (_, _, client):
        response = await client.post(
            "/v1/hooks/pre-tool-use", json=HOOK_INPUT, headers={"x-api-key": TOKEN}
        )
    output = response.json()["hookSpecificOutput"]
    assert output["permissionDecision"] == "ask"
    assert output["permissionDecisionReason"] == (
        "warden: default: no policy decision endpoint configured"
    )


async def test_other_hook_events_become_events() -> None:
    """Stop and Notification hook posts are reported as hook.<event> events."""
    events = Events()
    async with running(on_event=events) as (_, _, client):
        response = await client.post(
            "/v1/hooks/Stop", json={"last_assistant_message": "done"}, headers={"x-api-key": TOKEN}
        )
    assert response.status_code == 200
    assert events.named("hook.stop") == [{"session_id": "s-1", "last_assistant_message": "done"}]


async def test_only_claude_code_hook_events_are_recorded() -> None:
    """A made-up event (PermissionGranted, tool.decision) is 404 and records nothing; a
    body's session_id never replaces the gateway's own."""
    events = Events()
    async with running(on_event=events) as (_, _, client):
        headers = {"x-api-key": TOKEN}
        for name in ("PermissionGranted", "tool.decision", "permission-decided", "x"):
            response = await client.post(
                f"/v1/hooks/{name}", json={"approved_by": "alice@corp"}, headers=headers
            )
            assert response.status_code == 404, name
        ok = await client.post(
            "/v1/hooks/post-tool-use", json={"session_id": "other"}, headers=headers
        )
        assert ok.status_code == 200
    assert [name for name, _ in events.seen] == ["hook.posttooluse"]
    assert events.named("hook.posttooluse") == [{"session_id": "s-1"}]


async def test_hook_event_bodies_are_size_and_rate_limited() -> None:
    """A body over 64 KiB is 413; a flood of events is 429 after its burst."""
    events = Events()
    async with running(on_event=events) as (_, _, client):
        headers = {"x-api-key": TOKEN}
        big = await client.post(
            "/v1/hooks/Stop", content=b'{"x": "' + b"a" * 70_000 + b'"}', headers=headers
        )
        assert big.status_code == 413
        codes = [
            (await client.post("/v1/hooks/Stop", json={}, headers=headers)).status_code
            for _ in range(40)
        ]
    assert codes[0] == 200 and codes[-1] == 429
    assert len(events.named("hook.stop")) < 40


async def test_socket_is_world_connectable_and_recreated_on_restart() -> None:
    """The socket is mode 0666, removed on close, and a stale one is replaced on start."""
    async with running() as (gateway, model, _):
        path = gateway.socket_path
        assert stat.S_IMODE(path.stat().st_mode) == 0o666
        await gateway.close()
        assert not path.exists()
        # Leave a stale socket behind, as a crashed controller would.
        import socket

        stale = socket.socket(socket.AF_UNIX)
        stale.bind(str(path))
        stale.close()
        again = Gateway(session_id="s-1", socket_path=path, token=TOKEN,
                        upstream_url=model.url, upstream_key=None)  # fmt: skip
        await again.start()
        try:
            transport = httpx.AsyncHTTPTransport(uds=str(path))
            async with httpx.AsyncClient(transport=transport, base_url="http://warden") as client:
                response = await client.post("/v1/messages", json=message_body(stream=False),
                                             headers={"x-api-key": TOKEN})  # fmt: skip
            assert response.status_code == 200
            assert "x-api-key" not in model.requests[-1].headers  # no key configured: none sent
        finally:
            await again.close()
