"""``warden doctor`` against a real PostgreSQL: the driver's own words on failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy.engine import make_url


def _database_line(tmp_path: Path, url: str) -> str:
    env = {**os.environ, "WARDEN_DATA_DIR": str(tmp_path / "data"),
           "WARDEN_DATABASE_URL": url, "WARDEN_MODEL_UPSTREAM": "scripted"}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "runner.cli", "doctor"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    return next(line for line in result.stdout.splitlines() if " database " in line)


def test_wrong_password_names_the_servers_reason(postgres_url: str, tmp_path: Path) -> None:
    """A refused login says what PostgreSQL said, once, with the password hidden."""
    wrong = make_url(postgres_url).set(password="not-the-password")
    line = _database_line(tmp_path, wrong.render_as_string(hide_password=False))
    assert line.startswith("FAIL database  postgresql://")
    assert "password authentication failed" in line
    assert line.count("password authentication failed") == 1
    assert "not-the-password" not in line and "OperationalError" not in line


def test_a_reachable_database_reports_its_schema(fresh_postgres_url: str, tmp_path: Path) -> None:
    """A reachable, empty database is ok and says it is migrated at the next start."""
    line = _database_line(tmp_path, fresh_postgres_url)
    assert line.startswith("ok   database  postgresql://")
    assert "schema at empty" in line and "migrated at the next start" in line
