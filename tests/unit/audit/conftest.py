"""Fixtures for the audit ledger's unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.signing import KeyRing


@pytest.fixture(scope="module")
def keyring(tmp_path_factory: pytest.TempPathFactory) -> KeyRing:
    """A signing key directory shared by one test module."""
    return KeyRing.open(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    """A fresh (empty) signing key directory."""
    return tmp_path / "keys"
