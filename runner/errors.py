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
    ├── PayloadTooLargeError         413  an upload is over the server's size cap
    ├── UnsupportedMediaTypeError    415  an upload in a format the endpoint does not take
    └── SandboxError                 502  the container runtime failed
        ├── SandboxNotFoundError     404  the container is gone
        ├── ImageNotFoundError       424  the sandbox image is not built
        └── RuntimeUnavailableError  424  the policy's container runtime is not in the engine
"""

from __future__ import annotations

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
