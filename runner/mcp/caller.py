"""Which ``Warden`` serves the MCP message being handled: bound once per message.

The SDK hands tools and templated resources a ``Context``, but static resources get
none; a context variable set by the server's middleware around every message reaches
all of them the same way, and a handler can never run without it (``caller`` raises).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from runner.mcp.ports import Warden

_CURRENT: ContextVar[Warden | None] = ContextVar("warden_mcp_caller", default=None)


def caller() -> Warden:
    """The ``Warden`` acting for this message's authenticated caller."""
    warden = _CURRENT.get()
    if warden is None:
        # Fail closed: a handler reached without the middleware has no identity.
        raise RuntimeError("no caller is bound to this MCP message")
    return warden


@contextmanager
def bound(warden: Warden) -> Iterator[None]:
    token = _CURRENT.set(warden)
    try:
        yield
    finally:
        _CURRENT.reset(token)
