"""Errors in the Anthropic Messages API's own format, so Claude Code shows them as such."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

#: Anthropic's error ``type`` for each HTTP status the API uses.
ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def error_body(status: int, message: str) -> dict[str, Any]:
    """An Anthropic-style error body for HTTP ``status``."""
    kind = ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def error_response(status: int, message: str) -> JSONResponse:
    """An HTTP error response with an Anthropic-style body."""
    return JSONResponse(error_body(status, message), status_code=status)
