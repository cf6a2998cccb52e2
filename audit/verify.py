"""Verification of a log (or a slice of it) against its signed checkpoints.

Checks, in seq order, stopping at the first failure:

1. every checkpoint is signed by a trusted key, and checkpoints of one size agree;
   consecutive checkpoints are consistent (recomputed roots, or RFC 6962 proofs for slices);
2. seq numbers run without gaps or repeats from the first expected seq;
3. each event's canonical bytes re-encode identically under RFC 8785 (``check_canonical``);
4. ``leaf_hash = SHA-256(0x00 ‖ canonical)``, ``prev_hash`` is the previous chain hash
   (GENESIS for seq 0), ``chain_hash = SHA-256(prev_hash ‖ leaf_hash)``;
   the columns a database keeps beside the bytes (ts, actor, tenant, session, type, id)
   say what the bytes say (``audit.columns``);
5. at each checkpoint size, the recomputed Merkle root and the chain head equal the signed
   ones (whole logs), or the chain head does (slices); events a slice cannot tie to a
   checkpoint head carry RFC 6962 inclusion proofs, which must verify;
6. the log is not shorter than its last signed checkpoint (truncation).

The result names the first bad seq and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from audit.chain import GENESIS, Record
from audit.checkpoint import Checkpoint
from audit.merkle import EMPTY_ROOT, verify_consistency, verify_inclusion
from audit.signing import PublicKeys
from audit.verify_walk import VerifyFailure, walk_log


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of a verification; ``first_bad_seq`` is None when the fault is not an event."""

    ok: bool
    events: int
    checkpoints: int
    first_bad_seq: int | None = None
    reason: str | None = None
    signed_size: int = 0

    def describe(self) -> str:
        """One line for people."""
        if self.ok:
            return (
                f"OK: {self.events} events, {self.checkpoints} signed checkpoints "
                f"(signed up to size {self.signed_size})"
            )
        where = f"seq {self.first_bad_seq}" if self.first_bad_seq is not None else "log"
        return f"FAILED at {where}: {self.reason}"


@dataclass(frozen=True)
class InclusionProof:
    """Leaf ``seq`` is in the tree of checkpoint ``size`` via ``path``."""

    seq: int
    size: int
    path: tuple[bytes, ...]


def check_checkpoints(
    checkpoints: Sequence[Checkpoint],
    keys: PublicKeys,
    consistency: Mapping[int, Sequence[bytes]] | None = None,
) -> list[Checkpoint]:
    """Signature-checked checkpoints by size; with ``consistency`` also checks proofs between them.

    ``consistency[n]`` proves the checkpoint of size ``n`` extends the previous one.
    """
    ordered = sorted(checkpoints, key=lambda cp: cp.size)
    previous: Checkpoint | None = None
    for cp in ordered:
        if not cp.is_signed_by(keys):
            raise VerifyFailure(
                None,
                f"checkpoint at size {cp.size}: signature invalid or key {cp.key_id} untrusted",
            )
        if previous is not None and previous.size == cp.size:
            if (previous.root, previous.head) != (cp.root, cp.head):
                raise VerifyFailure(
                    None, f"two signed checkpoints at size {cp.size} disagree (fork)"
                )
        elif previous is not None and consistency is not None:
            proof = consistency.get(cp.size)
            if proof is None or not verify_consistency(
                previous.size, cp.size, previous.root, cp.root, proof
            ):
                raise VerifyFailure(
                    None, f"checkpoint {cp.size} is not consistent with checkpoint {previous.size}"
                )
        previous = cp
    return ordered


def verify_log(
    records: Iterable[Record],
    checkpoints: Sequence[Checkpoint],
    keys: PublicKeys,
    *,
    check_canonical: bool = True,
) -> VerifyResult:
    """Verify a whole log from seq 0: chain, canonical bytes, roots, signatures, truncation."""
    try:
        signed = check_checkpoints(checkpoints, keys)
    except VerifyFailure as failure:
        return VerifyResult(False, 0, len(checkpoints), failure.seq, failure.reason)
    last = signed[-1].size if signed else 0
    pending = [cp for cp in signed if cp.size > 0]  # ascending; the next one to meet is [0]
    expected = 0
    try:
        if (
            signed
            and signed[0].size == 0
            and (signed[0].root, signed[0].head)
            != (
                EMPTY_ROOT,
                GENESIS,
            )
        ):
            raise VerifyFailure(None, "the checkpoint of the empty log is not empty")
        expected, _ = walk_log(records, pending, signed, GENESIS, check_canonical)
        if expected < last:
            raise VerifyFailure(
                expected,
                f"log ends at {expected} events but a checkpoint was signed at size {last}: "
                f"seq {expected} onward is missing (truncated)",
            )
    except VerifyFailure as failure:
        seen = failure.seq if failure.seq is not None else expected
        return VerifyResult(False, seen, len(signed), failure.seq, failure.reason, last)
    return VerifyResult(True, expected, len(signed), signed_size=last)


__all__ = [
    "InclusionProof",
    "VerifyFailure",
    "VerifyResult",
    "check_checkpoints",
    "verify_inclusion",
    "verify_log",
]
