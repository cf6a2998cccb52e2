"""Verification of part of a log: a contiguous seq range, or a sparse subset (one session).

Without the events before the slice the Merkle root cannot be recomputed, so every
event must be tied to a signed checkpoint another way:

* in a contiguous range, an event is tied when the chain runs from it to an event whose
  ``chain_hash`` is the head of a signed checkpoint (size = that seq + 1): the hash
  chain then authenticates every event before it in the run;
* otherwise it must carry an RFC 6962 inclusion proof against a signed checkpoint.

Checkpoints in a slice are tied to each other by consistency proofs. A subset cannot
prove it is complete (that no event of the session was left out); a full export can.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

from audit.chain import Record
from audit.checkpoint import Checkpoint
from audit.columns import disagreement
from audit.event import is_canonical
from audit.merkle import verify_inclusion
from audit.signing import PublicKeys
from audit.verify import InclusionProof, VerifyFailure, VerifyResult, check_checkpoints


class _SliceChecker:
    def __init__(
        self,
        signed: list[Checkpoint],
        proofs: Mapping[int, InclusionProof],
        *,
        start_prev: bytes | None,
        end_seq: int | None,
        check_canonical: bool,
    ) -> None:
        self.by_size = {cp.size: cp for cp in signed}
        self.proofs = proofs
        self.start_prev = start_prev
        self.end_seq = end_seq
        self.check_canonical = check_canonical
        self.count = 0
        self.untied: list[int] = []

    def run(self, records: Iterable[Record]) -> int:
        last: Record | None = None
        for record in records:
            self._check_order(last, record)
            self._check_hashes(record)
            self._tie(record)
            last = record
            self.count += 1
        if self.start_prev is not None and self.end_seq is not None:
            reached = last.seq if last is not None else None
            if reached != self.end_seq:
                missing = self.end_seq if reached is None else reached + 1
                raise VerifyFailure(
                    missing, f"the range should end at seq {self.end_seq}: truncated"
                )
        if self.untied:
            raise VerifyFailure(
                self.untied[0], "not tied to any signed checkpoint (no covering head or proof)"
            )
        return self.count

    def _check_order(self, last: Record | None, record: Record) -> None:
        if last is None:
            if self.start_prev is not None and record.prev_hash != self.start_prev:
                raise VerifyFailure(record.seq, "prev_hash differs from the range's start_prev")
            return
        if self.start_prev is None:
            if record.seq <= last.seq:
                raise VerifyFailure(record.seq, "seq out of order or repeated")
            return
        if record.seq != last.seq + 1:
            raise VerifyFailure(last.seq + 1, f"seq {last.seq + 1} is missing from the range")
        if record.prev_hash != last.chain_hash:
            raise VerifyFailure(record.seq, "prev_hash is not the chain hash of the previous event")

    def _check_hashes(self, record: Record) -> None:
        leaf = hashlib.sha256(b"\x00" + record.canonical).digest()
        if self.check_canonical and not is_canonical(record.canonical):
            raise VerifyFailure(record.seq, "canonical bytes are not a valid RFC 8785 event")
        if leaf != record.leaf_hash:
            raise VerifyFailure(record.seq, "leaf_hash does not match the canonical bytes")
        if hashlib.sha256(record.prev_hash + leaf).digest() != record.chain_hash:
            raise VerifyFailure(record.seq, "chain_hash is not SHA-256(prev_hash ‖ leaf_hash)")
        if record.columns is not None and (why := disagreement(record.canonical, record.columns)):
            raise VerifyFailure(record.seq, why)

    def _tie(self, record: Record) -> None:
        proof = self.proofs.get(record.seq)
        if proof is not None:
            cp = self.by_size.get(proof.size)
            if cp is None or not verify_inclusion(
                record.leaf_hash, record.seq, proof.size, proof.path, cp.root
            ):
                raise VerifyFailure(
                    record.seq, "inclusion proof does not verify against a signed root"
                )
            tied_by_proof = True
        else:
            tied_by_proof = False
        if self.start_prev is None:
            if not tied_by_proof:
                self.untied.append(record.seq)
            return
        cp = self.by_size.get(record.seq + 1)
        if cp is not None:
            if cp.head != record.chain_hash:
                raise VerifyFailure(
                    self.untied[0] if self.untied else record.seq,
                    f"chain does not reach the head signed at size {cp.size} (events rewritten)",
                )
            self.untied.clear()
        elif not tied_by_proof:
            self.untied.append(record.seq)


def verify_slice(
    records: Iterable[Record],
    checkpoints: Sequence[Checkpoint],
    keys: PublicKeys,
    *,
    start_prev: bytes | None,
    end_seq: int | None,
    proofs: Mapping[int, InclusionProof],
    consistency: Mapping[int, Sequence[bytes]],
    check_canonical: bool = True,
) -> VerifyResult:
    """Verify a contiguous range (``start_prev`` given, ending at ``end_seq``) or a subset.

    ``consistency[n]`` proves checkpoint ``n`` extends the previous included checkpoint.
    """
    try:
        signed = check_checkpoints(checkpoints, keys, consistency)
    except VerifyFailure as failure:
        return VerifyResult(False, 0, len(checkpoints), failure.seq, failure.reason)
    checker = _SliceChecker(
        signed, proofs, start_prev=start_prev, end_seq=end_seq, check_canonical=check_canonical
    )
    last = signed[-1].size if signed else 0
    try:
        count = checker.run(records)
    except VerifyFailure as failure:
        return VerifyResult(False, checker.count, len(signed), failure.seq, failure.reason, last)
    return VerifyResult(True, count, len(signed), signed_size=last)
