"""Proof values the ledger hands out (and the API serialises)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from audit.checkpoint import Checkpoint
from audit.merkle import verify_consistency, verify_inclusion


@dataclass(frozen=True)
class InclusionBundle:
    """Event ``seq`` (leaf ``leaf_hash``) is in the tree signed by ``checkpoint``."""

    seq: int
    leaf_hash: bytes
    path: tuple[bytes, ...]
    checkpoint: Checkpoint

    def verify(self) -> bool:
        """Check the path against the checkpoint root (not the signature)."""
        cp = self.checkpoint
        return verify_inclusion(self.leaf_hash, self.seq, cp.size, self.path, cp.root)

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "leaf_hash": self.leaf_hash.hex(),
            "tree_size": self.checkpoint.size,
            "path": [p.hex() for p in self.path],
            "checkpoint": self.checkpoint.to_json(),
        }


@dataclass(frozen=True)
class ConsistencyBundle:
    """The tree of ``old_size`` (``old_root``) is a prefix of the tree of ``new_size``."""

    old_size: int
    new_size: int
    old_root: bytes
    new_root: bytes
    path: tuple[bytes, ...]

    def verify(self) -> bool:
        return verify_consistency(
            self.old_size, self.new_size, self.old_root, self.new_root, self.path
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "old_size": self.old_size,
            "new_size": self.new_size,
            "old_root": self.old_root.hex(),
            "new_root": self.new_root.hex(),
            "path": [p.hex() for p in self.path],
        }
