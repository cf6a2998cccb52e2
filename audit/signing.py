"""Ed25519 signing keys for checkpoints: ids, a key directory, rotation, verification.

A key id is the first 16 hex digits of SHA-256 of the raw 32-byte public key, so anyone
holding a public key can recompute its id. The key directory holds::

    <kid>.key   PKCS#8 PEM private key, mode 0600 (only the active key keeps one)
    <kid>.pem   SubjectPublicKeyInfo PEM public key (kept forever: old checkpoints need it)
    ACTIVE      the id of the key that signs new checkpoints

Rotation writes a new key pair, switches ``ACTIVE`` atomically and deletes the old
private key; checkpoints signed by older keys still verify with their ``.pem``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit.errors import KeyStoreError

_ACTIVE = "ACTIVE"


def key_id(public_raw: bytes) -> str:
    """First 16 hex digits of SHA-256 of the raw public key."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_pem(public_raw: bytes) -> bytes:
    """The SubjectPublicKeyInfo PEM of a raw Ed25519 public key."""
    key = Ed25519PublicKey.from_public_bytes(public_raw)
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@dataclass(frozen=True)
class PublicKeys:
    """The public keys a verifier trusts, by key id."""

    keys: dict[str, bytes]

    @classmethod
    def from_dir(cls, directory: Path) -> PublicKeys:
        """Every ``*.pem`` in ``directory``; a file whose name is not its key id is refused."""
        keys: dict[str, bytes] = {}
        for path in sorted(directory.glob("*.pem")):
            try:
                loaded = serialization.load_pem_public_key(path.read_bytes())
            except (ValueError, OSError) as exc:
                raise KeyStoreError(f"{path.name}: not a PEM public key: {exc}") from exc
            if not isinstance(loaded, Ed25519PublicKey):
                raise KeyStoreError(f"{path.name}: not an Ed25519 public key")
            raw = _raw(loaded)
            if key_id(raw) != path.stem:
                raise KeyStoreError(f"{path.name}: file name is not the key's id {key_id(raw)}")
            keys[path.stem] = raw
        return cls(keys)

    def verify(self, kid: str, message: bytes, signature: bytes) -> bool:
        """True when ``kid`` is trusted and ``signature`` is its signature of ``message``."""
        raw = self.keys.get(kid)
        if raw is None:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(raw).verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def write(self, directory: Path) -> None:
        """Write each key as ``<kid>.pem`` into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        for kid, raw in sorted(self.keys.items()):
            (directory / f"{kid}.pem").write_bytes(public_pem(raw))


class KeyRing:
    """The signing side: the active private key plus every public key ever used."""

    def __init__(self, directory: Path, active: Ed25519PrivateKey, public: PublicKeys) -> None:
        self.directory = directory
        self._active = active
        self.active_key_id = key_id(_raw(active.public_key()))
        self.public = public

    @classmethod
    def open(cls, directory: Path, *, create: bool = True) -> KeyRing:
        """Load the key directory, generating the first key when it is empty and ``create``.

        Raises:
            KeyStoreError: the directory or its active key is missing or unreadable.
        """
        active_file = directory / _ACTIVE
        if not active_file.exists():
            if not create:
                raise KeyStoreError(f"no signing key in {directory}")
            _make_dir(directory)
            _write_key_pair(directory, Ed25519PrivateKey.generate(), switch=False)
        try:
            kid = active_file.read_text(encoding="ascii").strip()
            pem = (directory / f"{kid}.key").read_bytes()
            private = serialization.load_pem_private_key(pem, password=None)
        except (OSError, ValueError) as exc:
            raise KeyStoreError(
                f"cannot load the active signing key in {directory}: {exc}"
            ) from exc
        if not isinstance(private, Ed25519PrivateKey):
            raise KeyStoreError(f"{kid}.key is not an Ed25519 private key")
        return cls(directory, private, PublicKeys.from_dir(directory))

    def sign(self, message: bytes) -> tuple[str, bytes]:
        """Sign with the active key; returns (key id, 64-byte signature)."""
        return self.active_key_id, self._active.sign(message)

    def rotate(self) -> str:
        """Make a new active key, retire the old private key; returns the new key id."""
        old = self.active_key_id
        new_key = Ed25519PrivateKey.generate()
        _write_key_pair(self.directory, new_key, switch=True)
        # The retired private key is deleted: it must never sign again, and a stolen
        # copy of the directory then cannot forge checkpoints in the old key's name.
        with contextlib.suppress(FileNotFoundError):
            (self.directory / f"{old}.key").unlink()
        self._active = new_key
        self.active_key_id = key_id(_raw(new_key.public_key()))
        self.public = PublicKeys.from_dir(self.directory)
        return self.active_key_id


def _make_dir(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)  # private keys live here: owner only


def _write_key_pair(directory: Path, private: Ed25519PrivateKey, *, switch: bool) -> None:
    raw = _raw(private.public_key())
    kid = key_id(raw)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key_path = directory / f"{kid}.key"
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    (directory / f"{kid}.pem").write_bytes(public_pem(raw))
    tmp = directory / f".{_ACTIVE}.{kid}"
    tmp.write_text(kid + "\n", encoding="ascii")
    if switch:
        tmp.replace(directory / _ACTIVE)
        return
    try:
        # First key: link() fails if another process created ACTIVE meanwhile; theirs wins.
        os.link(tmp, directory / _ACTIVE)
    except FileExistsError:
        key_path.unlink()
        (directory / f"{kid}.pem").unlink()
    finally:
        tmp.unlink()
