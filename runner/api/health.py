"""``/v1/health`` and ``/v1/handshake``."""

from __future__ import annotations

import sys
import time

from fastapi import APIRouter

from runner import __version__
from runner.api.deps import ServicesDep
from runner.api.schemas import Handshake, HandshakeOut, Health
from runner.core import utcnow
from runner.errors import ConflictError

router = APIRouter(prefix="/v1", tags=["meta"])

PROTOCOL_VERSION = 1
MIN_PROTOCOL_VERSION = 1
CAPABILITIES = [
    "sessions",
    "sessions.batch",
    "sessions.reuse",
    "transcript.cursor",
    "recording.asciicast",
    "artifacts.patch",
]


@router.get("/health", response_model=Health)
async def health(services: ServicesDep) -> Health:
    checks = await services.health()
    healthy = all(v == "ok" for v in checks.values())
    return Health(
        status="ok" if healthy else "degraded",
        version=__version__,
        checks=checks,
        replica=services.tenures.replica,
        sequencer=services.ledger.is_sequencer,
        # Aegis's health also counts sessions; this route is public, so it does not
        # (GET /v1/sessions/stats gives a tenant its own counts).
        uptime=int(time.time() - services.started_at),
        platform=sys.platform,
        timestamp=utcnow(),
    )


@router.post("/handshake", response_model=HandshakeOut)
async def handshake(body: Handshake) -> HandshakeOut:
    """Capability negotiation; 409 when the client speaks a protocol older than we support."""
    if body.protocol_version < MIN_PROTOCOL_VERSION:
        raise ConflictError(
            f"protocol {body.protocol_version} is too old; this server needs {MIN_PROTOCOL_VERSION}"
            f" to {PROTOCOL_VERSION}: upgrade the client",
            details={
                "minProtocolVersion": MIN_PROTOCOL_VERSION,
                "protocolVersion": PROTOCOL_VERSION,
            },
        )
    asked = list(dict.fromkeys([*body.capabilities, *body.client_capabilities]))
    unknown = [c for c in asked if c not in CAPABILITIES]
    return HandshakeOut(
        protocol_version=min(body.protocol_version, PROTOCOL_VERSION),
        min_protocol_version=MIN_PROTOCOL_VERSION,
        server_version=__version__,
        capabilities=CAPABILITIES,
        server_capabilities=CAPABILITIES,
        negotiated_capabilities=[c for c in asked if c in CAPABILITIES],
        warnings=[f"unknown capability: {c}" for c in unknown],
    )
