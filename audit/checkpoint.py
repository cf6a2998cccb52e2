"""Signed checkpoints: a commitment to the first ``size`` events of the log.

The signed message is the RFC 8785 encoding of::

    {"kind": "warden-audit-checkpoint", "v": 1, "size": <int>, "root": <hex MTH of the
     first size leaf hashes>, "head": <hex chain_hash of seq size-1, or 64 zeros>,
     "ts": <RFC 3339 UTC>, "key_id": <16 hex>}

signed with Ed25519 by the key ``key_id`` (``audit.signing``). The ``kind`` and ``v``
fields keep a checkpoint signature from being replayed as anything else.

A WORM copy writes each checkpoint to ``<dir>/<size:020d>.json`` with exclusive create,
read-only mode, and refuses to replace an existing file with different content, so a
copy on write-once storage outside the database anchors truncation checks.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rfc8785

from audit.errors import WormConflictError
from audit.signing import KeyRing, PublicKeys

_KIND = "warden-audit-checkpoint"


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement of (size, Merkle root, chain head, time)."""

    size: int
    root: bytes
    head: bytes
    ts: str
    key_id: str
    signature: bytes

    def message(self) -> bytes:
        """The exact bytes the signature covers."""
        return signed_message(self.size, self.root, self.head, self.ts, self.key_id)

    def is_signed_by(self, keys: PublicKeys) -> bool:
        """True when the signature is valid under a trusted key with this key id."""
        return keys.verify(self.key_id, self.message(), self.signature)

    def to_json(self) -> dict[str, Any]:
        """JSON form used in exports, WORM files and the API."""
        return {
            "size": self.size,
            "root": self.root.hex(),
            "head": self.head.hex(),
            "ts": self.ts,
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Checkpoint:
        """Inverse of ``to_json``; raises ``ValueError``/``KeyError`` on malformed input."""
        return cls(
            size=int(data["size"]),
            root=bytes.fromhex(data["root"]),
            head=bytes.fromhex(data["head"]),
            ts=str(data["ts"]),
            key_id=str(data["key_id"]),
            signature=base64.b64decode(data["signature"], validate=True),
        )


def signed_message(size: int, root: bytes, head: bytes, ts: str, kid: str) -> bytes:
    """JCS of the checkpoint statement (see the module docstring)."""
    body: dict[str, str | int] = {
        "kind": _KIND,
        "v": 1,
        "size": size,
        "root": root.hex(),
        "head": head.hex(),
        "ts": ts,
        "key_id": kid,
    }
    return rfc8785.dumps(body)


def sign_checkpoint(keys: KeyRing, size: int, root: bytes, head: bytes, ts: str) -> Checkpoint:
    """Sign (size, root, head, ts) with the ring's active key."""
    kid = keys.active_key_id
    _, signature = keys.sign(signed_message(size, root, head, ts, kid))
    return Checkpoint(size, root, head, ts, kid, signature)


class WormDirectory:
    """Write-once checkpoint files outside the database."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def path_for(self, size: int) -> Path:
        return self.directory / f"{size:020d}.json"

    def write(self, checkpoint: Checkpoint) -> Path:
        """Create the file for this checkpoint; identical content already there is fine.

        Raises:
            WormConflictError: a file for this size exists with different content.
        """
        path = self.path_for(checkpoint.size)
        content = rfc8785.dumps(checkpoint.to_json()) + b"\n"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        except FileExistsError:
            if path.read_bytes() != content:
                raise WormConflictError(f"{path.name} exists with other content") from None
            return path
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            with contextlib.suppress(OSError):
                os.fsync(handle.fileno())
        return path

    def read_all(self) -> list[Checkpoint]:
        """Every checkpoint file, by size."""
        found = []
        for path in sorted(self.directory.glob("*.json")):
            found.append(Checkpoint.from_json(json.loads(path.read_bytes())))
        return sorted(found, key=lambda cp: cp.size)
