"""The limits a server with these settings enforces, as ``warden doctor`` prints them.

Each line names the setting that changes it, so an operator who meets a 429 or a 413
can find the knob without reading the code.
"""

from __future__ import annotations

from annotated_types import MaxLen
from pydantic import BaseModel

from runner.api.schemas import CreateSession, SendInput
from runner.settings import Settings


def _max_length(model: type[BaseModel], field: str) -> int | None:
    for rule in model.model_fields[field].metadata:
        if isinstance(rule, MaxLen):
            return rule.max_length
    return None


def _count(value: int, unit: str) -> str:
    return f"{value} {unit}" if value else "no limit"


def _bytes(value: int) -> str:
    for size, unit in ((1024**3, "GiB"), (1024**2, "MiB"), (1024, "KiB")):
        if value >= size and value % size == 0:
            return f"{value // size} {unit}"
    return f"{value} bytes"


def effective_limits(settings: Settings) -> list[tuple[str, str, str]]:
    """(what, the limit now, the setting that changes it), in the order printed."""
    s = settings
    return [
        ("running sessions in all", _count(s.max_sessions, "sessions"), "WARDEN_MAX_SESSIONS"),
        ("running sessions per tenant", _count(s.max_sessions_per_tenant, "sessions"),
         "WARDEN_MAX_SESSIONS_PER_TENANT"),
        ("running sessions per user", _count(s.max_sessions_per_user, "sessions"),
         "WARDEN_MAX_SESSIONS_PER_USER"),
        ("session starts per tenant", _count(s.session_starts_per_minute, "a minute"),
         "WARDEN_SESSION_STARTS_PER_MINUTE"),
        ("starts waiting in line (policies with container.queue)",
         _count(s.max_queued_sessions, "sessions"), "WARDEN_MAX_QUEUED_SESSIONS"),
        ("host memory kept free", _bytes(s.memory_reserve_bytes) if s.memory_reserve_bytes
         else "no admission check", "WARDEN_MEMORY_RESERVE_BYTES"),
        ("failed authentications per address/token",
         f"burst {s.auth_failure_burst}, then {s.auth_failures_per_minute:g} a minute",
         "WARDEN_AUTH_FAILURE_BURST, WARDEN_AUTH_FAILURES_PER_MINUTE"),
        ("refused floods audited", f"once per source per {s.auth_flood_window_seconds:g} s",
         "WARDEN_AUTH_FLOOD_WINDOW_SECONDS"),
        ("mutating requests per caller",
         f"burst {s.mutation_burst}, then {s.mutations_per_minute:g} a minute",
         "WARDEN_MUTATION_BURST, WARDEN_MUTATIONS_PER_MINUTE"),
        ("request body", _bytes(s.max_body_bytes), "WARDEN_MAX_BODY_BYTES"),
        ("request headers", _bytes(s.max_header_bytes), "WARDEN_MAX_HEADER_BYTES"),
        ("workspace upload", _bytes(s.upload_max_bytes), "WARDEN_UPLOAD_MAX_BYTES"),
        ("prompt", f"{_max_length(CreateSession, 'prompt')} characters", "fixed"),
        ("sent text", f"{_max_length(SendInput, 'text')} characters", "fixed"),
    ]  # fmt: skip
