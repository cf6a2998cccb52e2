"""The client's errors, translated at its one seam (the HTTP call).

::

    WardenClientError            every error this client raises
    ├── WardenApiError           the server answered 4xx/5xx: status, code, message,
    │                            details, request id (and Retry-After on 429/503)
    ├── WardenUnreachable        no answer: connection refused, timeout, broken stream
    ├── WardenArgumentError      refused before sending (also a ValueError): an id that
    │                            is not one path segment
    └── WardenResponseError      an answer this client cannot read (not the API's shape)
"""

from __future__ import annotations

from typing import Any

import httpx


class WardenClientError(Exception):
    """Root of the client's errors."""


class WardenApiError(WardenClientError):
    """The API refused or failed a request (its ``{"error": {…}}`` body, parsed).

    Attributes:
        status: the HTTP status code.
        code: the API's error code (``not_found``, ``policy_denied``, ``rate_limited``…),
            or ``http_error`` when the body was not the API's error shape (a proxy's page).
        message: the API's message, for a person.
        details: the API's details (``rule`` of a policy denial, ``limit`` of a quota…).
        request_id: the request's id, to quote to the operator (who finds it in the log).
        retry_after: seconds the server asked to wait (``Retry-After``), if it said.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        request_id: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.request_id = request_id
        self.retry_after = retry_after


class WardenUnreachable(WardenClientError):
    """No answer from the server (transport error); ``url`` is where the client tried."""

    def __init__(self, url: str, cause: Exception) -> None:
        super().__init__(f"cannot reach Warden at {url}: {type(cause).__name__}: {cause}")
        self.url = url


def error_from(response: httpx.Response) -> WardenApiError:
    """The error a 4xx/5xx response stands for (its body must have been read)."""
    header_id = response.headers.get("x-request-id")
    try:
        body = response.json()["error"]
        code, message = str(body["code"]), str(body["message"])
        details = body.get("details")
        request_id = body.get("requestId") or header_id
    except (ValueError, KeyError, TypeError):
        # Not the API's shape (a proxy's HTML page, a truncated body): keep what there is.
        code, message, details, request_id = "http_error", response.text[:500], {}, header_id
    return WardenApiError(
        response.status_code,
        code,
        message,
        details=dict(details) if isinstance(details, dict) else {},
        request_id=str(request_id) if request_id else None,
        retry_after=_seconds(response.headers.get("retry-after")),
    )


def _seconds(value: str | None) -> int | None:
    # Warden sends delta-seconds; an HTTP-date (from a proxy) is not worth parsing here.
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())


class WardenResponseError(WardenClientError):
    """A 2xx answer that is not what the route promises (a proxy's page, another API)."""


class WardenArgumentError(WardenClientError, ValueError):
    """An argument the client refuses before anything is sent."""
