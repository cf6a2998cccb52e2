"""The controller image's content hash: what changes it and what does not."""

from __future__ import annotations

import shutil
from pathlib import Path

from runner.sandbox.controller_image import content_hash, source_root

_PARTS = ("Dockerfile", "pyproject.toml", "README.md", "images/controller", "runner", "audit",
          "policies")  # fmt: skip


def _copy_checkout(tmp_path: Path) -> Path:
    root = source_root()
    target = tmp_path / "checkout"
    for part in _PARTS:
        source = root / part
        if source.is_dir():
            shutil.copytree(source, target / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.mkdir(exist_ok=True)
            shutil.copyfile(source, target / part)
    return target


def test_hash_is_stable_and_ignores_bytecode(tmp_path: Path) -> None:
    """A copy hashes like the checkout; compiled bytecode and egg-info change nothing."""
    copy = _copy_checkout(tmp_path)
    assert content_hash(copy) == content_hash(source_root())
    before = content_hash(copy)
    (copy / "runner" / "__pycache__").mkdir(exist_ok=True)
    (copy / "runner" / "__pycache__" / "cli.cpython-311.pyc").write_bytes(b"\0")
    (copy / "runner" / "stray.egg-info").mkdir()
    (copy / "runner" / "stray.egg-info" / "PKG-INFO").write_text("x")
    assert content_hash(copy) == before


def test_hash_changes_with_every_input(tmp_path: Path) -> None:
    """The Dockerfile, packages, healthcheck, Python sources, metadata and policies all count."""
    copy = _copy_checkout(tmp_path)
    before = content_hash(copy)
    assert content_hash(copy, base="debian:bookworm-slim") != before
    seen = {before}
    for name in ("Dockerfile", "images/controller/packages.txt",
                 "images/controller/warden-healthcheck", "runner/settings.py",
                 "audit/ledger.py", "pyproject.toml", "policies/default.yaml"):  # fmt: skip
        path = copy / name
        original = path.read_bytes()
        path.write_bytes(original + b"\n")
        changed = content_hash(copy)
        assert changed not in seen, name
        seen.add(changed)
        path.write_bytes(original)
    (copy / "runner" / "new_module.py").write_text("")
    assert content_hash(copy) not in seen
    (copy / "runner" / "new_module.py").unlink()
    assert content_hash(copy) == before


def test_hash_sees_the_healthcheck_exec_bit(tmp_path: Path) -> None:
    """A healthcheck that lost its exec bit is a different image."""
    copy = _copy_checkout(tmp_path)
    before = content_hash(copy)
    (copy / "images/controller/warden-healthcheck").chmod(0o644)
    assert content_hash(copy) != before
