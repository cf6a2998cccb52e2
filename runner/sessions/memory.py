"""A key-value memory shared by the sessions (and orchestrators) of one tenant.

Values are JSON. Each write bumps a version; a writer may pass the version it read
(``if_version``) so that two orchestrators cannot silently overwrite each other.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from runner.errors import InvalidInputError

#: A memory key (the API states it as the path parameter's pattern).
#: Segments separated by ``/`` (Aegis's ``namespace/key``), each starting with a letter
#: or digit: no empty, ``.`` or ``..`` segment a URL could collapse into another key.
KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*(?:/[A-Za-z0-9][A-Za-z0-9._:-]*)*$"
MAX_KEY_CHARS = 200
_KEY = re.compile(KEY_PATTERN[1:-1])
#: A memory entry is a note between agents, not a file store.
MAX_VALUE_BYTES = 64 * 1024


@dataclass(frozen=True)
class MemoryEntry:
    tenant: str
    key: str
    value: Any
    version: int
    updated_by: str
    updated_at: datetime
    #: When the key was first written (None: before this was recorded).
    created_at: datetime | None = None
    #: After this the entry reads as absent (None: never).
    expires_at: datetime | None = None

    @property
    def namespace(self) -> str:
        """The part of the key before its first ``/`` (Aegis's ``namespace/key``), or ""."""
        head, sep, _ = self.key.partition("/")
        return head if sep else ""


#: The longest time-to-live a write may ask for (Aegis's bound: 30 days).
MAX_TTL_SECONDS = 30 * 86400


def check_key(key: str) -> str:
    """Raises InvalidInputError unless ``key`` is 1-200 of ``A-Za-z0-9._:-`` in
    ``/``-separated segments that each start with a letter or digit."""
    if len(key) > MAX_KEY_CHARS or not _KEY.fullmatch(key):
        raise InvalidInputError(
            f"memory key {key!r} must be 1-200 characters of A-Z a-z 0-9 . _ : -, in"
            " segments separated by '/' that each start with a letter or digit"
        )
    return key


def check_value(value: Any) -> Any:
    """Raises InvalidInputError when the value's JSON is larger than ``MAX_VALUE_BYTES``."""
    size = len(json.dumps(value, separators=(",", ":")).encode())
    if size > MAX_VALUE_BYTES:
        raise InvalidInputError(
            f"memory value is {size} bytes of JSON; the limit is {MAX_VALUE_BYTES}",
            details={"size": size, "limit": MAX_VALUE_BYTES},
        )
    return value


class MemoryStore(Protocol):
    """Where memory entries are kept (``runner.store.memory``)."""

    def get(self, tenant: str, key: str) -> MemoryEntry | None: ...

    def find(self, tenant: str, prefix: str = "") -> list[MemoryEntry]: ...

    def put(
        self,
        tenant: str,
        key: str,
        value: Any,
        actor: str,
        if_version: int | None,
        expires_at: datetime | None = None,
    ) -> MemoryEntry:
        """Write (an expired entry counts as absent, version 0); raises ConflictError
        when ``if_version`` is given and is not current."""
        ...

    def delete(self, tenant: str, key: str) -> bool: ...
