"""``warden serve`` listens beyond loopback only when authentication is configured."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from runner.auth.config import is_loopback
from runner.cli import app as cli

ALL_INTERFACES = "0.0.0.0"  # noqa: S104 (the address the test expects to be refused)


@pytest.fixture
def root_logging() -> Iterator[None]:
    """``serve`` configures the root logger for its process (a handler on the stream it
    was given, here the runner's, closed afterwards): put back what the tests had."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("root_logging")
def test_non_loopback_bind_without_auth_refuses_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no issuer and auth not enabled, --host 0.0.0.0 exits 2 and says why."""
    monkeypatch.setenv("WARDEN_DATA_DIR", str(tmp_path))
    for name in ("WARDEN_AUTH_ISSUERS", "WARDEN_AUTH_ENABLED", "WARDEN_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(cli, ["serve", "--host", ALL_INTERFACES])
    assert result.exit_code == 2
    assert "no authentication is configured" in result.output


def test_loopback_addresses() -> None:
    """localhost, 127.x and ::1 are loopback; a LAN address or a name is not."""
    assert all(is_loopback(h) for h in ("localhost", "127.0.0.1", "127.0.0.2", "::1"))
    assert not any(is_loopback(h) for h in (ALL_INTERFACES, "10.0.0.5", "warden.example.com"))
