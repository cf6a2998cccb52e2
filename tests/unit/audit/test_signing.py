"""Signing keys and checkpoints: key ids, rotation, WORM copies."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from audit import Ledger
from audit.checkpoint import Checkpoint, WormDirectory, sign_checkpoint
from audit.errors import KeyStoreError, WormConflictError
from audit.merkle import EMPTY_ROOT
from audit.signing import KeyRing, PublicKeys

TS = "2025-01-31T12:00:00.000000Z"


def test_key_id_is_a_prefix_of_the_public_key_hash(key_dir: Path) -> None:
    """The key id is the first 16 hex digits of SHA-256 of the raw public key."""
    ring = KeyRing.open(key_dir)
    raw = ring.public.keys[ring.active_key_id]
    assert ring.active_key_id == hashlib.sha256(raw).hexdigest()[:16]
    assert stat.S_IMODE((key_dir / f"{ring.active_key_id}.key").stat().st_mode) == 0o600
    assert KeyRing.open(key_dir).active_key_id == ring.active_key_id  # reloads, no new key


def test_missing_key_dir_is_refused_without_create(tmp_path: Path) -> None:
    """Opening a key directory with no key and create=False raises KeyStoreError."""
    with pytest.raises(KeyStoreError):
        KeyRing.open(tmp_path / "none", create=False)


def test_checkpoint_signature_covers_every_field(key_dir: Path) -> None:
    """A signed checkpoint verifies; changing size, root, head or time breaks it."""
    ring = KeyRing.open(key_dir)
    cp = sign_checkpoint(ring, 3, EMPTY_ROOT, bytes(32), TS)
    assert cp.is_signed_by(ring.public)
    assert Checkpoint.from_json(cp.to_json()) == cp
    for change in (
        {"size": 4},
        {"root": bytes(32)},
        {"head": b"\x01" * 32},
        {"ts": TS[:-2] + "1Z"},
    ):
        forged = Checkpoint(**{**vars(cp), **change})
        assert not forged.is_signed_by(ring.public)


def test_rotation_keeps_old_checkpoints_verifiable(key_dir: Path, tmp_path: Path) -> None:
    """After rotation new checkpoints use the new key and old ones still verify."""
    ledger = Ledger.open(tmp_path / "audit.db", key_dir)
    try:
        ledger.append("t", actor="system")
        first = ledger.checkpoint_now()
        old_kid = ledger.keys.active_key_id
        new_kid = ledger.rotate_key()
        ledger.append("t", actor="system")
        second = ledger.checkpoint_now()
        assert first is not None and second is not None
        assert (first.key_id, second.key_id) == (old_kid, new_kid) and old_kid != new_kid
        assert not (key_dir / f"{old_kid}.key").exists()  # the retired private key is gone
        trusted = PublicKeys.from_dir(key_dir)
        assert first.is_signed_by(trusted) and second.is_signed_by(trusted)
        result = ledger.verify_db()
        assert result.ok, result.describe()
        assert result.checkpoints >= 2
    finally:
        ledger.close()


def test_misnamed_public_key_file_is_refused(key_dir: Path) -> None:
    """A .pem whose file name is not its key id is refused (ids cannot be spoofed)."""
    ring = KeyRing.open(key_dir)
    (key_dir / f"{ring.active_key_id}.pem").rename(key_dir / "0000000000000000.pem")
    with pytest.raises(KeyStoreError, match="not the key's id"):
        PublicKeys.from_dir(key_dir)


def test_worm_files_are_write_once(key_dir: Path, tmp_path: Path) -> None:
    """A WORM copy is read-only; the same checkpoint again is fine; a different one is refused."""
    ring = KeyRing.open(key_dir)
    worm = WormDirectory(tmp_path / "worm")
    cp = sign_checkpoint(ring, 5, EMPTY_ROOT, bytes(32), TS)
    path = worm.write(cp)
    assert path.name == "00000000000000000005.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    worm.write(cp)
    with pytest.raises(WormConflictError):
        worm.write(sign_checkpoint(ring, 5, EMPTY_ROOT, b"\x02" * 32, TS))
    assert worm.read_all() == [cp]
