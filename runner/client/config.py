"""Where the client connects and as whom: arguments first, then the CLI's environment
(``WARDEN_SERVER``, ``WARDEN_TOKEN``)."""

from __future__ import annotations

import os
from collections.abc import Mapping

import httpx

from runner import __version__

DEFAULT_SERVER = "http://127.0.0.1:9100"
#: Seconds a request may take (connect, read, write); streams read without a limit.
DEFAULT_TIMEOUT = 60.0


def server_url(given: str | None) -> str:
    """The base URL: ``given``, else ``WARDEN_SERVER``, else the local default."""
    return (given or os.environ.get("WARDEN_SERVER") or DEFAULT_SERVER).rstrip("/")


def client_headers(token: str | None, extra: Mapping[str, str] | None) -> dict[str, str]:
    """The headers of every request: a user agent, the bearer token (``token``, else
    ``WARDEN_TOKEN``; none: anonymous), and ``extra``."""
    headers = {"User-Agent": f"warden-client/{__version__}"}
    token = token or os.environ.get("WARDEN_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    headers.update(extra or {})
    return headers


def stream_timeout(timeout: float) -> httpx.Timeout:
    # An event stream is quiet between events (keep-alives come every sse_ping_seconds)
    # and a download may be large: only connecting is bounded.
    return httpx.Timeout(timeout, read=None, write=None)
