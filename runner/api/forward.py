"""Forwarding an action on a session to the replica that owns it.

Any replica answers any request; only the owner may act on a session
(``runner.sessions.tenures``). A request that reached another replica is sent on to the
owner's URL (from the replica list in the database) with its method, path, query, body
and credentials, and the owner's answer is returned as is. A forwarded request carries
``X-Warden-Forwarded``; if it meets a non-owner again (the lease moved meanwhile), it is
answered 409 instead of bouncing between replicas.
"""

from __future__ import annotations

import logging

import httpx
from fastapi import Request, Response

from runner.sessions.ownership import NotOwnerError

log = logging.getLogger(__name__)

FORWARDED = "x-warden-forwarded"
#: Headers that describe this hop, not the request: never copied.
_HOP = frozenset(
    {"host", "content-length", "connection", "transfer-encoding", "keep-alive", "upgrade"}
)
_TIMEOUT = httpx.Timeout(120.0, connect=5.0)


def is_forwardable(request: Request, exc: NotOwnerError) -> bool:
    """A first hop to an owner whose address is known."""
    return exc.url is not None and FORWARDED not in request.headers


async def forward(request: Request, exc: NotOwnerError, replica: str) -> Response:
    """The owner's answer to ``request``.

    The caller's credentials go along (the owner authenticates and authorises the request
    itself, as if it had come directly); the URL comes from the replicas table, which
    only Warden's own database role writes.

    Raises:
        httpx.HTTPError: the owner could not be reached.
    """
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
    headers[FORWARDED] = replica
    target = f"{str(exc.url).rstrip('/')}{request.url.path}"
    # No proxy from the environment and no redirects: straight to the replica.
    async with httpx.AsyncClient(timeout=_TIMEOUT, trust_env=False) as client:
        answer = await client.request(
            request.method,
            target,
            params=list(request.query_params.multi_items()),
            content=await request.body(),
            headers=headers,
        )
    kept = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP | {"content-encoding"}}
    return Response(answer.content, status_code=answer.status_code, headers=kept)
