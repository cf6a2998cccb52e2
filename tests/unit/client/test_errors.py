"""API errors become ``WardenApiError`` with the body's fields; no answer is
``WardenUnreachable``; answers of another shape are ``WardenResponseError``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from runner.client import (
    AsyncWardenClient,
    WardenApiError,
    WardenArgumentError,
    WardenClient,
    WardenResponseError,
    WardenUnreachable,
)
from tests.mounts import unmount_under
from tests.unit.client.support import world
from tests.unit.events.support import free_port


def test_404_422_401_and_429_carry_status_code_details_and_request_id(tmp_path: Path) -> None:
    """Each refusal keeps the API's code, message, details and request id; 429 keeps
    Retry-After and the limit; 401 is what a missing or bad token gets."""

    async def scenario() -> None:
        async with world(tmp_path, max_sessions_per_tenant=1) as w:
            async with w.client() as client:
                with pytest.raises(WardenApiError) as missing:
                    await client.get_session("no-such-session")
                error = missing.value
                assert (error.status, error.code) == (404, "not_found")
                assert "no-such-session" in error.message and error.request_id

                with pytest.raises(WardenApiError) as invalid:
                    await client.create_session({"workDir": "relative/path"})
                assert (invalid.value.status, invalid.value.code) == (422, "invalid_input")
                assert invalid.value.details["fields"][0]["field"].endswith("workDir")

                await client.create_session({"workDir": str(w.work), "unattended": True})
                with pytest.raises(WardenApiError) as over:
                    await client.create_session({"workDir": str(w.work), "unattended": True})
                assert (over.value.status, over.value.code) == (429, "rate_limited")
                assert over.value.details["limit"] == "sessions_per_tenant"
                assert over.value.retry_after is not None and over.value.retry_after >= 1

            await w.enforce_auth()
            async with w.client() as anonymous, w.client("wdn_not-a-real-token") as forged:
                for caller in (anonymous, forged):
                    with pytest.raises(WardenApiError) as refused:
                        await caller.list_sessions()
                    assert (refused.value.status, refused.value.code) == (401, "unauthenticated")

    try:
        asyncio.run(scenario())
    finally:
        unmount_under(tmp_path)


def test_a_closed_port_is_unreachable_for_calls_downloads_and_streams() -> None:
    """Connection refused: ``WardenUnreachable`` naming the server, sync and async."""
    url = f"http://127.0.0.1:{free_port()}"
    with WardenClient(url, timeout=2) as client:
        with pytest.raises(WardenUnreachable, match=url):
            client.health()
        with pytest.raises(WardenUnreachable):
            list(client.recording("x"))
        with pytest.raises(WardenUnreachable):
            list(client.events(follow=False))

    async def scenario() -> None:
        async with AsyncWardenClient(url, timeout=2) as client:
            with pytest.raises(WardenUnreachable):
                await client.health()
            with pytest.raises(WardenUnreachable):
                [e async for e in client.events(follow=False)]

    asyncio.run(scenario())


def _proxy(status: int, body: bytes, content_type: str) -> httpx.MockTransport:
    """Something in front of the server answering for it (the network boundary)."""
    return httpx.MockTransport(
        lambda request: httpx.Response(status, content=body, headers={"content-type": content_type})
    )


def test_answers_not_in_the_api_shape() -> None:
    """A proxy's HTML error is ``http_error`` with its text; an HTML 200 where JSON was
    due is a ``WardenResponseError``; a field this client does not know is ignored."""
    page = b"<html>502 Bad Gateway</html>"
    with WardenClient("http://w", transport=_proxy(502, page, "text/html")) as client:
        with pytest.raises(WardenApiError) as bad_gateway:
            client.health()
        assert (bad_gateway.value.status, bad_gateway.value.code) == (502, "http_error")
        assert "Bad Gateway" in bad_gateway.value.message
    with (
        WardenClient("http://w", transport=_proxy(200, page, "text/html")) as client,
        pytest.raises(WardenResponseError),
    ):
        client.health()
    newer = {
        "status": "ok", "version": "9", "checks": {}, "replica": "r", "sequencer": True,
        "somethingNew": {"x": 1},
    }  # fmt: skip
    transport = _proxy(200, json.dumps(newer).encode(), "application/json")
    with WardenClient("http://w", transport=transport) as client:
        assert client.health().version == "9"


def test_token_and_server_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No arguments: WARDEN_SERVER and WARDEN_TOKEN, as the CLI reads them."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"subject": "s", "tenant": "t", "roles": []})

    monkeypatch.setenv("WARDEN_SERVER", "http://from-env:1234/")
    monkeypatch.setenv("WARDEN_TOKEN", "wdn_env")
    with WardenClient(transport=httpx.MockTransport(answer)) as client:
        assert client.base_url == "http://from-env:1234"
        client.whoami()
    assert str(seen[0].url) == "http://from-env:1234/v1/whoami"
    assert seen[0].headers["authorization"] == "Bearer wdn_env"
    with WardenClient("http://given", "wdn_arg", transport=httpx.MockTransport(answer)) as client:
        client.whoami()
    assert seen[1].headers["authorization"] == "Bearer wdn_arg"
    assert str(seen[1].url).startswith("http://given/")


def test_ids_that_would_reach_another_route_are_refused_before_sending() -> None:
    """An id with a slash, or a dot segment, never leaves the client; others are quoted."""
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(404, json={"error": {"code": "not_found", "message": "no"}})

    with WardenClient("http://w", transport=httpx.MockTransport(answer)) as client:
        for bad in ("x/pane", "..", ".", ""):
            with pytest.raises(WardenArgumentError, match="single path segment"):
                client.get_session(bad)
        assert sent == []

    async def awaited() -> None:
        transport = httpx.MockTransport(answer)
        async with AsyncWardenClient("http://w", transport=transport) as client:
            pending = client.delete_session("x/approve")  # refused where it is awaited
            with pytest.raises(ValueError):
                await pending

    asyncio.run(awaited())
    assert sent == []
    with (
        WardenClient("http://w", transport=httpx.MockTransport(answer)) as client,
        pytest.raises(WardenApiError),
    ):
        client.get_memory("a key?#")
    assert sent[0].url.raw_path == b"/v1/memory/a%20key%3F%23"
