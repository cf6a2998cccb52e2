"""The id of the API request being served, for log lines and error bodies."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

#: The response header that carries it (and the request header a caller may set).
HEADER = "x-request-id"

_CURRENT: ContextVar[str | None] = ContextVar("warden_request_id", default=None)
# A caller's id is kept only when it is short and plain: it lands in logs and bodies, so
# nothing that could forge a log line or carry markup gets through.
_ACCEPTABLE = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def current() -> str | None:
    """The id of the request this code runs for (None outside a request)."""
    return _CURRENT.get()


def begin(offered: str | None) -> str:
    """Start a request: the caller's id if acceptable, else a new one; it is now current."""
    request_id = offered if offered and _ACCEPTABLE.fullmatch(offered) else uuid.uuid4().hex
    _CURRENT.set(request_id)
    return request_id
