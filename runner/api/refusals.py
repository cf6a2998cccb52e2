"""Refusing a request from ASGI middleware, before routing, with the API's error body."""

from __future__ import annotations

import json
from typing import Any

from runner.errors import RateLimitedError, WardenError


async def send_error(send: Any, status: int, exc: WardenError, *, close: bool = False) -> None:
    """Answer ``{"error": {code, message, details}}``; ``close`` when the body is unread."""
    body = json.dumps(
        {"error": {"code": exc.code, "message": exc.message, "details": exc.details}}
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if isinstance(exc, RateLimitedError):
        headers.append((b"retry-after", str(exc.retry_after).encode()))
    if close:
        # The unread rest of the body makes the connection unusable.
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
