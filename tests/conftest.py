"""Shared test plumbing: real Docker, real PostgreSQL, the real Claude Code binary.

Outside CI a missing daemon, database or binary skips the tests that need it. With
``CI`` set, the same absence is a failure: CI must prove the integration, not skip it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

IN_CI = bool(os.environ.get("CI"))

#: Label put on every container a test makes, so cleanup can find them all. Its value
#: names this pytest run, so two runs on one Docker daemon never remove each other's.
TEST_LABEL = "warden.test"
TEST_RUN = uuid.uuid4().hex[:12]
TEST_LABELS = {TEST_LABEL: TEST_RUN}

DEFAULT_TEST_POSTGRES_URL = "postgresql://warden:warden@127.0.0.1:5432/warden_test"


def require(condition: bool, why: str) -> None:
    """Skip (or, in CI, fail) the current test unless ``condition`` holds."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI requires this, but: {why}", pytrace=False)
    pytest.skip(why)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[object]:
    """A docker-py client to a running daemon."""
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:
        require(False, f"no Docker daemon: {exc}")
    yield client
    remove_test_containers(client)
    client.close()


def remove_test_containers(client: object) -> None:
    """Remove every container this pytest run made (and their anonymous volumes)."""
    mine = {"label": f"{TEST_LABEL}={TEST_RUN}"}
    for container in client.containers.list(all=True, filters=mine):  # type: ignore[attr-defined]
        container.remove(force=True, v=True)  # v: anonymous volumes too


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of a real PostgreSQL (``WARDEN_TEST_POSTGRES_URL``), reachable now."""
    url = os.environ.get("WARDEN_TEST_POSTGRES_URL", DEFAULT_TEST_POSTGRES_URL)
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3):
            pass
    except Exception as exc:
        require(False, f"no PostgreSQL at {url}: {exc}")
    return url


@pytest.fixture(scope="session")
def claude_binary() -> Path:
    """The pinned real Claude Code binary (downloaded from PyPI into the cache)."""
    from runner.sandbox.claude_binary import ensure_claude_binary
    from runner.settings import Settings

    settings = Settings()
    try:
        return ensure_claude_binary(settings.cache_dir, settings.claude_sdk_version)
    except Exception as exc:
        require(False, f"no Claude Code binary: {exc}")
        raise


@pytest.fixture
def fresh_postgres_url(postgres_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for one test, dropped afterwards."""
    import uuid

    import psycopg

    name = f"warden_t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = postgres_url.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs once on SQLite and once on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warden.db'}"
    url: str = request.getfixturevalue("fresh_postgres_url")
    return url
