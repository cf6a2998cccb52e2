"""The public event catalogue: what SSE streams and webhooks deliver, made from ledger events.

The ledger keeps its own event types (``docs/audit.md``); clients get a smaller, stable
set, each event carrying the ledger's ``seq`` as its durable id. The same function maps
a live bus event and a ledger record read back for a replay, so both look identical.

=====================  =============================  ===================================
public type            ledger type                    data
=====================  =============================  ===================================
``session.created``    ``session.created``            the session's summary
``session.state``      ``session.state``              ``state``, ``details`` (as detect)
``permission.asked``   ``permission.asked``           ``tool``, ``command``/``path``, …
``permission.decided`` ``permission.decided``         ``decision``, ``rule``, ``actor``, …
``message``            ``transcript.turn``            ``cursor``, ``role``, ``text``, …
``usage``              ``model.request``              ``model``, token counts
``session.ended``      ``session.ended``              ``reason``, ``state``, ``error``
``egress.allowed``     ``egress.allowed``             ``host``, ``port``, ``address``, ``rule``
``egress.denied``      ``egress.denied``              ``host``, ``port``, ``rule``, ``reason``
``egress.closed``      ``egress.closed``              bytes each way, ``seconds``, ``error``
=====================  =============================  ===================================
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cached_property
from typing import Any

#: The public types, in the order docs/events.md lists them.
PUBLIC_TYPES = (
    "session.created",
    "session.state",
    "permission.asked",
    "permission.decided",
    "message",
    "usage",
    "session.ended",
    "egress.allowed",
    "egress.denied",
    "egress.closed",
)

_PROMPT_FIELDS = ("tool", "command", "path", "title", "question", "options")


@dataclass(frozen=True)
class PublicEvent:
    """One catalogue event; ``id`` is the ledger seq (durable, strictly increasing)."""

    id: int
    type: str
    timestamp: str
    session: str | None
    tenant: str | None
    actor: str
    data: Mapping[str, Any]

    @cached_property
    def sse(self) -> bytes:
        """The event as an SSE message (encoded once, however many clients get it)."""
        data = json.dumps(self.body(), separators=(",", ":"), ensure_ascii=False)
        return f"id: {self.id}\nevent: {self.type}\ndata: {data}\n\n".encode()

    def body(self) -> dict[str, Any]:
        """The JSON form (SSE ``data:`` and the webhook payload)."""
        return {
            "id": self.id,
            "type": self.type,
            "timestamp": self.timestamp,
            "session": self.session,
            "tenant": self.tenant,
            "actor": self.actor,
            "data": dict(self.data),
        }


def _prompt(details: Mapping[str, Any]) -> dict[str, Any]:
    return {k: details[k] for k in _PROMPT_FIELDS if k in details}


def _state(data: Mapping[str, Any]) -> dict[str, Any]:
    return {"state": data.get("state"), "details": dict(data.get("details") or {})}


def _asked(data: Mapping[str, Any]) -> dict[str, Any]:
    prompt = dict(data.get("prompt") or {})
    return {**_prompt(prompt), "policy": data.get("policy"), "prompt": prompt}


def _decided(data: Mapping[str, Any], actor: str) -> dict[str, Any]:
    prompt = dict(data.get("prompt") or {})
    return {
        **_prompt(prompt),
        "decision": data.get("decision"),
        "option": data.get("option"),
        "rule": data.get("rule"),
        "actor": actor,
        # What was decided is the hook's call (the screen is only what was shown).
        **(
            {
                "request": data.get("request"),
                "toolName": data.get("tool_name"),
                "toolInput": data.get("tool_input"),
            }
            if data.get("request")
            else {}
        ),
    }


def _usage(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "model": data.get("model"),
        "status": data.get("status"),
        "inputTokens": data.get("input_tokens", 0),
        "outputTokens": data.get("output_tokens", 0),
        "cacheCreationInputTokens": data.get("cache_creation_input_tokens", 0),
        "cacheReadInputTokens": data.get("cache_read_input_tokens", 0),
        "stopReason": data.get("stop_reason"),
    }


_EGRESS_FIELDS = {
    "host": "host", "port": "port", "method": "method", "path": "path", "address": "address",
    "addresses": "addresses", "rule": "rule", "reason": "reason", "allowed_by": "allowedBy",
    "injected": "injectedHeader", "bytes_up": "bytesUp", "bytes_down": "bytesDown",
    "seconds": "seconds", "error": "error",
}  # fmt: skip


def _egress(data: Mapping[str, Any]) -> dict[str, Any]:
    return {public: data[name] for name, public in _EGRESS_FIELDS.items() if name in data}


_Mapper = Callable[[Mapping[str, Any], str], dict[str, Any]]

_MAPPERS: dict[str, tuple[str, _Mapper]] = {
    "session.created": ("session.created", lambda d, _a: dict(d)),
    "session.state": ("session.state", lambda d, _a: _state(d)),
    "permission.asked": ("permission.asked", lambda d, _a: _asked(d)),
    "permission.decided": ("permission.decided", _decided),
    "transcript.turn": ("message", lambda d, _a: dict(d)),
    "model.request": ("usage", lambda d, _a: _usage(d)),
    "session.ended": ("session.ended", lambda d, _a: dict(d)),
    "egress.allowed": ("egress.allowed", lambda d, _a: _egress(d)),
    "egress.denied": ("egress.denied", lambda d, _a: _egress(d)),
    "egress.closed": ("egress.closed", lambda d, _a: _egress(d)),
}

#: The ledger types that produce public events.
LEDGER_TYPES = frozenset(_MAPPERS)


def public_event(
    *,
    seq: int,
    type: str,
    timestamp: str,
    session: str | None,
    tenant: str | None,
    actor: str,
    data: Mapping[str, Any],
) -> PublicEvent | None:
    """The public event for a ledger event, or None when the catalogue has none for it."""
    mapped = _MAPPERS.get(type)
    if mapped is None or session is None:
        return None
    public_type, mapper = mapped
    return PublicEvent(seq, public_type, timestamp, session, tenant, actor, mapper(data, actor))


def matches(patterns: tuple[str, ...] | list[str], public_type: str) -> bool:
    """Does a type pattern list (``["*"]``, ``["session.*", "message"]``) select this type?"""
    return any(fnmatchcase(public_type, p) for p in patterns)
