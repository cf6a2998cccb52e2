"""``warden tokens bootstrap``: the first admin token of an API-token-only deployment."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from runner.auth.tokens import ApiTokens
from runner.cli import app as cli
from runner.events.bus import EventBus
from runner.events.sink import EventRecorder
from runner.store.database import create_database_engine
from runner.store.tokens import SqlTokenStore


def test_bootstrap_creates_a_working_admin_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The printed secret authenticates as an admin of the chosen tenant, and only once
    stored as a hash."""
    monkeypatch.setenv("WARDEN_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("WARDEN_DATABASE_URL", raising=False)
    result = CliRunner().invoke(cli, ["tokens", "bootstrap", "--tenant", "acme"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    engine = create_database_engine(f"sqlite:///{tmp_path / 'warden.db'}")
    try:
        tokens = ApiTokens(SqlTokenStore(engine), EventRecorder(EventBus()))
        actor = asyncio.run(tokens.authenticate(secret))
        assert actor.tenant == "acme"
        assert "admin" in actor.roles
        assert "global_admin" not in actor.roles
        [stored] = SqlTokenStore(engine).find(tenant="acme")
        assert stored.created_by.startswith("bootstrap:")
        assert secret not in repr(stored)
    finally:
        engine.dispose()
