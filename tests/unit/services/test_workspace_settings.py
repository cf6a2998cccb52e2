"""Workspace roots and protected paths as the server builds them from its settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from runner.services.workspaces import default_roots, protected_paths
from runner.settings import Settings


def test_roots_are_colon_separated_absolute_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """WARDEN_WORKSPACE_ROOTS=/a:/b gives two roots; a relative entry is refused."""
    monkeypatch.setenv("WARDEN_WORKSPACE_ROOTS", "/srv/a:/srv/b")
    assert Settings().workspace_roots == [Path("/srv/a"), Path("/srv/b")]
    monkeypatch.setenv("WARDEN_WORKSPACE_ROOTS", "")
    assert Settings().workspace_roots == []
    monkeypatch.setenv("WARDEN_WORKSPACE_ROOTS", "/srv/a:relative")
    with pytest.raises(ValidationError, match="absolute paths"):
        Settings()


def test_loopback_defaults_to_the_start_directory(tmp_path: Path) -> None:
    """Unset on loopback: the directory the server started in is the one root."""
    assert default_roots(Settings(data_dir=tmp_path), tmp_path)[0] == [tmp_path]


def test_a_non_loopback_server_allows_no_host_path_by_default(tmp_path: Path) -> None:
    """Unset on 0.0.0.0: no root at all, and the hint names the setting."""
    anywhere = "0.0.0.0"  # noqa: S104 (the server under test would bind it; nothing binds here)
    roots, hint = default_roots(Settings(data_dir=tmp_path, host=anywhere), tmp_path)
    assert roots == [] and "WARDEN_WORKSPACE_ROOTS" in hint and anywhere in hint


def test_a_server_started_in_slash_gets_no_default_root(tmp_path: Path) -> None:
    """Started in / (a service manager's default): / is never a default root."""
    roots, hint = default_roots(Settings(data_dir=tmp_path), Path("/"))
    assert roots == [] and "started in /" in hint


def test_protected_paths_cover_data_keys_socket_and_credentials(tmp_path: Path) -> None:
    """The data dir, the Docker socket's dir, the key file and ~/.ssh are all protected."""
    key = tmp_path / "keyfile"
    settings = Settings(data_dir=tmp_path / "data", upstream_api_key_file=key)
    guarded = {str(p.path) for p in protected_paths(settings)}
    assert {str(tmp_path / "data"), "/var/run", str(key), str(Path.home() / ".ssh")} <= guarded


def test_git_tokens_are_secrets(tmp_path: Path) -> None:
    """Tokens for git hosts are secret strings: never printed with the settings."""
    settings = Settings(data_dir=tmp_path, git_tokens={"git.example.com": SecretStr("t0k")})
    assert "t0k" not in repr(settings)
