"""Warden's domain errors. The API maps each to one HTTP status in ``runner.app``.

Nothing below ``runner.api`` raises ``HTTPException``; it raises one of these::

    WardenError                      500  internal fault (logged with an id)
    ├── InvalidInputError            422  the request is malformed or names something impossible
    ├── NotFoundError                404  no such session / policy / token (or not in your tenant)
    ├── ConflictError                409  the target is in a state that forbids the action
    ├── PolicyDeniedError            403  a policy rule refuses the action (carries the rule id)
    ├── AuthenticationError          401  no valid credentials
    ├── AuthorizationError           403  valid credentials, missing role
    ├── AuditUnavailableError        503  the ledger cannot record, so the action did not happen
    ├── PayloadTooLargeError         413  a request body or an upload is over its size cap
    ├── HeadersTooLargeError         431  the request headers are over the server's cap
    ├── RateLimitedError             429  too many requests or sessions (a quota; Retry-After)
    ├── UnsupportedMediaTypeError    415  an upload in a format the endpoint does not take
    └── SandboxError                 502  the container runtime failed
        ├── SandboxNotFoundError     404  the container is gone
        ├── ImageNotFoundError       424  the sandbox image is not built
        └── RuntimeUnavailableError  424  the policy's container runtime is not in the engine
"""

from __future__ import annotations

import math
from typing import Any


class WardenError(Exception):
    """Root of every error Warden raises on purpose."""

    code = "internal_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class InvalidInputError(WardenError):
    code = "invalid_input"


class NotFoundError(WardenError):
    code = "not_found"


class ConflictError(WardenError):
    code = "conflict"


class PolicyDeniedError(WardenError):
    code = "policy_denied"

    def __init__(self, message: str, *, rule: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details={"rule": rule, **(details or {})})
        self.rule = rule


class AuthenticationError(WardenError):
    code = "unauthenticated"


class AuthorizationError(WardenError):
    code = "forbidden"


class AuditUnavailableError(WardenError):
    code = "audit_unavailable"


class PayloadTooLargeError(WardenError):
    code = "payload_too_large"


class HeadersTooLargeError(WardenError):
    code = "headers_too_large"


class RateLimitedError(WardenError):
    """Over a rate limit or quota: ``retry_after`` seconds until trying again may succeed."""

    code = "rate_limited"

    def __init__(
        self, message: str, *, limit: str, retry_after: float, details: dict[str, Any] | None = None
    ) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(
            message, details={"limit": limit, "retryAfter": seconds, **(details or {})}
        )
        self.limit = limit
        self.retry_after = seconds


class UnsupportedMediaTypeError(WardenError):
    code = "unsupported_media_type"


class SandboxError(WardenError):
    code = "sandbox_error"


class SandboxNotFoundError(SandboxError):
    code = "sandbox_not_found"


class ImageNotFoundError(SandboxError):
    code = "image_not_found"


class RuntimeUnavailableError(SandboxError):
    code = "runtime_unavailable"
