"""One controller per SQLite database: the lock file refuses a second holder, with a message."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runner.store.controller_lock import ControllerLockedError, claim_controller

_HOLD = textwrap.dedent(
    """
    import sys, time
    from runner.store.controller_lock import claim_controller
    lock = claim_controller(sys.argv[1])
    print("held", flush=True)
    time.sleep(60)
    """
)


def _holder(url: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", _HOLD, url], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "held"
    return process


def test_second_claim_is_refused_naming_the_holder(tmp_path: Path) -> None:
    """While another process holds the lock, a claim fails saying its pid and what to do."""
    url = f"sqlite:///{tmp_path / 'warden.db'}"
    holder = _holder(url)
    try:
        with pytest.raises(ControllerLockedError) as raised:
            claim_controller(url)
        message = raised.value.message
        assert f"(pid {holder.pid})" in message
        assert str(tmp_path / "warden.db") in message
        assert "PostgreSQL" in message
    finally:
        holder.kill()
        holder.wait()


def test_lock_is_free_again_when_its_holder_is_killed(tmp_path: Path) -> None:
    """SIGKILL of the holder frees the lock (the kernel drops it): no stale lock file."""
    url = f"sqlite:///{tmp_path / 'warden.db'}"
    holder = _holder(url)
    holder.kill()
    holder.wait()
    lock = claim_controller(url)
    assert lock is not None
    lock.release()
    again = claim_controller(url)  # released: claimable again
    assert again is not None
    again.release()


def test_postgres_takes_no_lock() -> None:
    """PostgreSQL URLs are not locked: replicas share the work through leases."""
    assert claim_controller("postgresql://warden@127.0.0.1/warden") is None
    assert claim_controller("sqlite:///:memory:") is None
