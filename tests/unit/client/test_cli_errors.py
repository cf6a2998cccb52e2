"""The CLI on the client: its results printed, its errors one line on stderr, exit 1."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from typer.testing import CliRunner

from runner.cli import app
from runner.core import SessionState
from runner.sessions.requests import SessionRequest
from tests.unit.events.support import ALICE, free_port, reach, serve, work_dir

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_cli_prints_results_and_reports_api_errors(tmp_path: Path) -> None:
    """``sessions list --json`` prints the API's camelCase shape; an unknown session is
    ``error 404: not_found: …`` and exit 1, with no traceback."""

    async def scenario() -> None:
        async with serve(tmp_path) as served:
            record, _ = await served.services.manager.create(
                SessionRequest(work_dir=str(work_dir(tmp_path)), prompt="hello"), ALICE
            )
            await reach(served.services, record.id, SessionState.IDLE)
            code, out, _ = await asyncio.to_thread(
                _cli, "sessions", "list", "--json", "--server", served.url
            )
            assert code == 0
            listed = json.loads(out)
            assert [s["id"] for s in listed] == [record.id] and "workDir" in listed[0]
            code, out, _ = await asyncio.to_thread(
                _cli, "sessions", "pane", record.id[:8], "--server", served.url
            )
            assert code == 0 and out.strip()
            code, _, err = await asyncio.to_thread(
                _cli, "sessions", "show", UNKNOWN, "--server", served.url
            )
            assert code == 1 and err.startswith("error 404: not_found: ")
            assert "Traceback" not in err
            await served.services.manager.delete(record.id, ALICE)

    asyncio.run(scenario())


def test_cli_reports_an_unreachable_server() -> None:
    """No server: ``cannot reach Warden at URL`` and exit 1."""
    url = f"http://127.0.0.1:{free_port()}"
    code, _, err = _cli("tokens", "list", "--server", url)
    assert code == 1 and f"cannot reach Warden at {url}" in err
