"""Background servers close quietly while a response is still streaming."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from runner.gateway.serving import BackgroundServer


async def _forever(request: Request) -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        while True:
            yield b"tick\n"
            await asyncio.sleep(0.1)

    return StreamingResponse(chunks(), media_type="text/plain")


def test_close_cuts_a_stream_short_without_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    """A never-ending stream ends at close within the grace time; nothing is logged as error."""
    app = Starlette(routes=[Route("/stream", _forever)])

    async def scenario() -> tuple[bytes, float]:
        server = BackgroundServer(app)
        await server.start()
        received = b""

        async def read() -> None:
            nonlocal received
            url = f"http://127.0.0.1:{server.port}/stream"
            async with httpx.AsyncClient() as client, client.stream("GET", url) as response:
                async for chunk in response.aiter_bytes():
                    received += chunk

        reader = asyncio.create_task(read())
        await asyncio.sleep(0.5)
        began = time.monotonic()
        await server.close()
        await asyncio.wait_for(reader, 5)  # the stream ended; the client saw no error
        return received, time.monotonic() - began

    with caplog.at_level(logging.INFO):
        received, closing = asyncio.run(scenario())
    assert received.startswith(b"tick\n")
    assert closing < 4
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
    assert "Exception in ASGI application" not in caplog.text
