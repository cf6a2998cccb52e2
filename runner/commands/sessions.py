"""``warden sessions …``: drive sessions on a Warden server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from runner.commands.client import ApiClient
from runner.commands.packing import packed, split_git
from runner.commands.stream import events, print_until
from runner.core import PermissionMode

app = typer.Typer(
    help="Create, inspect and drive sessions on a Warden server.", no_args_is_help=True
)
console = Console()

Server = Annotated[str | None, typer.Option("--server", help="Warden URL (env WARDEN_SERVER).")]
Token = Annotated[str | None, typer.Option("--token", help="API token (env WARDEN_TOKEN).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _print_session(session: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(session, indent=2))
        return
    console.print(f"[bold]{session['id']}[/bold]  {session['state']}  {session['workDir']}")
    details = session.get("details") or {}
    if details:
        console.print(json.dumps(details, indent=2))


@app.command()
def create(
    work_dir: Annotated[
        Path | None, typer.Argument(help="A directory on the server host (under its roots).")
    ] = None,
    archive: Annotated[
        Path | None,
        typer.Option(
            "--archive", help="Upload this directory (tarred here) or .tar/.tar.gz/.zip file."
        ),
    ] = None,
    git: Annotated[
        str | None, typer.Option("--git", help="Have the server clone URL@REF (REF optional).")
    ] = None,
    prompt: Annotated[str | None, typer.Option(help="First prompt.")] = None,
    policy: Annotated[str, typer.Option(help="Policy name or path.")] = "default",
    permission_mode: Annotated[
        PermissionMode, typer.Option(help="Claude Code permission mode.")
    ] = PermissionMode.DEFAULT,
    model: Annotated[str | None, typer.Option(help="Model name.")] = None,
    server: Server = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Start a session on WORK_DIR, an uploaded --archive, or a --git repository."""
    if sum(x is not None for x in (work_dir, archive, git)) != 1:
        raise typer.BadParameter("give exactly one of WORK_DIR, --archive or --git")
    client = ApiClient(server, token)
    body: dict[str, Any] = {
        "prompt": prompt,
        "policy": policy,
        "permissionMode": permission_mode.value,
        "model": model,
    }
    if work_dir is not None:
        body["workDir"] = str(work_dir.resolve())
    elif archive is not None:
        body["workspace"] = {"archive": _upload(client, archive)}
    elif git is not None:
        url, ref = split_git(git)
        body["workspace"] = {"git": {"url": url, "ref": ref}}
    _print_session(client.call("POST", "/v1/sessions", json=body), as_json)


def _upload(client: ApiClient, path: Path) -> str:
    """Upload ``path`` (a directory is tarred first); the upload's id."""
    skipped: list[str] = []
    try:
        with packed(path, skipped) as (data, media):
            for line in skipped:
                typer.echo(f"not uploaded: {line}", err=True)
            uploaded = client.call(
                "POST", "/v1/workspaces", content=data, headers={"Content-Type": media}
            )
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--archive") from exc
    upload_id: str = uploaded["id"]
    return upload_id


@app.command("list")
def list_(server: Server = None, token: Token = None, as_json: AsJson = False) -> None:
    """List sessions."""
    sessions = ApiClient(server, token).call("GET", "/v1/sessions")["sessions"]
    if as_json:
        typer.echo(json.dumps(sessions, indent=2))
        return
    table = Table("id", "state", "workDir", "policy", "created")
    for s in sessions:
        table.add_row(s["id"], s["state"], s["workDir"], s["policy"], s["createdAt"])
    console.print(table)


@app.command()
def show(
    session_id: str, server: Server = None, token: Token = None, as_json: AsJson = False
) -> None:
    """Show one session and its current screen."""
    client = ApiClient(server, token)
    _print_session(client.call("GET", f"/v1/sessions/{session_id}"), as_json)
    if not as_json:
        console.print(client.call("GET", f"/v1/sessions/{session_id}/pane")["text"], markup=False)


@app.command()
def send(session_id: str, text: str, server: Server = None, token: Token = None) -> None:
    """Send a prompt to an idle session."""
    result = ApiClient(server, token).call(
        "POST", f"/v1/sessions/{session_id}/send", json={"text": text}
    )
    console.print(f"sent; session is {result['state']}")


@app.command()
def approve(session_id: str, server: Server = None, token: Token = None) -> None:
    """Approve the permission prompt once."""
    result = ApiClient(server, token).call("POST", f"/v1/sessions/{session_id}/approve")
    console.print(f"approved with option {result['option']}; session is {result['state']}")


@app.command()
def reject(session_id: str, server: Server = None, token: Token = None) -> None:
    """Reject the permission prompt."""
    result = ApiClient(server, token).call("POST", f"/v1/sessions/{session_id}/reject")
    console.print(f"rejected; session is {result['state']}")


@app.command()
def kill(session_id: str, server: Server = None, token: Token = None) -> None:
    """Delete a session: artifacts are collected, the container removed."""
    result = ApiClient(server, token).call("DELETE", f"/v1/sessions/{session_id}")
    console.print(f"deleted; final state {result['state']}")


@app.command()
def watch(
    session_id: str,
    interval: Annotated[
        float, typer.Option(help="Seconds to wait before resuming a dropped stream.")
    ] = 1.0,
    as_json: AsJson = False,
    server: Server = None,
    token: Token = None,
) -> None:
    """Follow a session's events (SSE) until it ends (Ctrl-C to stop)."""
    client = ApiClient(server, token)
    client.call("GET", f"/v1/sessions/{session_id}")  # a clear 404 before streaming

    def ended(event: dict[str, Any]) -> bool:
        return event.get("type") == "session.ended"

    stream = events(client, f"/v1/sessions/{session_id}/events", {}, retry_seconds=interval)
    print_until(stream, as_json, ended, lambda text: console.print(text, markup=False))
