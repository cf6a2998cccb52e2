"""Size limits: bodies and headers over the caps are refused before they are read in full."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx

from runner.settings import Settings
from tests.offline_app import OfflineServices, client_for, offline_app

Scenario = Callable[[httpx.AsyncClient, OfflineServices], Coroutine[Any, Any, None]]


def _run(tmp_path: Path, scenario: Scenario, **settings: Any) -> None:
    async def main() -> None:
        config = Settings(data_dir=tmp_path / "data", workspace_roots=[tmp_path], **settings)
        async with offline_app(config) as (app, services), client_for(app) as client:
            await scenario(client, services)

    asyncio.run(main())


def test_declared_length_over_the_cap_is_413_without_reading() -> None:
    """A Content-Length over the cap is answered 413 before the body is read at all."""
    from runner.api.body_limit import BodyLimit, SizeLimits

    reads: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the app must not run")

    async def receive() -> dict[str, Any]:
        reads.append("read")
        return {"type": "http.request", "body": b"x" * 10, "more_body": True}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "method": "POST", "path": "/v1/sessions",
        "headers": [(b"content-length", str(100 * 1024**2).encode())],
    }  # fmt: skip
    limited = BodyLimit(app, SizeLimits(body_bytes=1024, header_bytes=8192))
    asyncio.run(limited(scope, receive, send))
    assert reads == []
    assert sent[0]["status"] == 413
    assert b"payload_too_large" in sent[1]["body"]


def test_chunked_body_over_the_cap_is_413_and_cut_off(tmp_path: Path) -> None:
    """A body without a length is counted as it streams and refused past the cap."""
    streamed: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        for i in range(64):
            streamed.append(i)
            yield b"{" + b" " * (64 * 1024)

    async def scenario(client: httpx.AsyncClient, _s: OfflineServices) -> None:
        response = await client.post(
            "/v1/sessions", content=body(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 413, response.text
        error = response.json()["error"]
        assert error["code"] == "payload_too_large"
        assert error["details"]["limit"] == 256 * 1024
        assert "WARDEN_MAX_BODY_BYTES" in error["message"]

    _run(tmp_path, scenario, max_body_bytes=256 * 1024)


def test_body_within_the_cap_passes(tmp_path: Path) -> None:
    """A body just under the cap reaches the route (and its own validation)."""

    async def scenario(client: httpx.AsyncClient, _s: OfflineServices) -> None:
        response = await client.post("/v1/sessions", json={"junk": "x" * 1000})
        assert response.status_code == 422, response.text

    _run(tmp_path, scenario, max_body_bytes=2048)


def test_uploads_are_bounded_by_their_own_cap(tmp_path: Path) -> None:
    """POST /v1/workspaces may exceed the general body cap; its own cap still holds."""

    async def scenario(client: httpx.AsyncClient, _s: OfflineServices) -> None:
        headers = {"content-type": "application/gzip"}
        small = await client.post("/v1/workspaces", content=b"\0" * 4096, headers=headers)
        assert small.status_code == 422, small.text  # read in full, then refused as no archive
        big = await client.post("/v1/workspaces", content=b"\0" * 20_000, headers=headers)
        assert big.status_code == 413
        assert "WARDEN_UPLOAD_MAX_BYTES" in big.json()["error"]["message"]

    _run(tmp_path, scenario, max_body_bytes=1024, upload_max_bytes=10_000)


def test_headers_over_the_cap_are_431(tmp_path: Path) -> None:
    """A header block over the cap is refused with 431 and the error body."""

    async def scenario(client: httpx.AsyncClient, _s: OfflineServices) -> None:
        response = await client.get("/v1/sessions", headers={"x-padding": "a" * 3000})
        assert response.status_code == 431
        assert response.json()["error"]["code"] == "headers_too_large"
        assert (await client.get("/v1/sessions")).status_code == 200

    _run(tmp_path, scenario, max_header_bytes=2048)


def test_prompt_and_text_lengths_are_bounded(tmp_path: Path) -> None:
    """A prompt over 100,000 characters is a 422 naming the field."""

    async def scenario(client: httpx.AsyncClient, _s: OfflineServices) -> None:
        body = {"workDir": str(tmp_path), "prompt": "p" * 100_001}
        response = await client.post("/v1/sessions", json=body)
        assert response.status_code == 422
        fields = [f["field"] for f in response.json()["error"]["details"]["fields"]]
        assert fields == ["body.prompt"]

    _run(tmp_path, scenario)
