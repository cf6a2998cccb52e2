"""``warden sessions …``: drive sessions on a Warden server.

Every command that takes a session accepts its full id or any prefix naming one session.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from runner.api.schemas import SessionOut
from runner.client import Event, WardenClient
from runner.commands.client import api_command, connect, save
from runner.commands.output import print_rows, stamp
from runner.commands.packing import packed, split_git
from runner.commands.session_ref import resolve_session
from runner.commands.stream import drop_notice, print_until
from runner.core import PermissionMode, WorkspaceMode

app = typer.Typer(
    help="Create, inspect and drive sessions on a Warden server.", no_args_is_help=True
)
console = Console(soft_wrap=True, highlight=False)

Server = Annotated[str | None, typer.Option("--server", help="Warden URL (env WARDEN_SERVER).")]
Token = Annotated[str | None, typer.Option("--token", help="API token (env WARDEN_TOKEN).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
SessionArg = Annotated[str, typer.Argument(help="Session id, or a prefix naming one session.")]


def _session(server: str | None, token: str | None, ref: str) -> tuple[WardenClient, str]:
    client = connect(server, token)
    return client, resolve_session(client, ref)


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def _print_session(session: SessionOut, as_json: bool) -> None:
    if as_json:
        typer.echo(_json(session.model_dump(mode="json", by_alias=True)))
        return
    typer.echo(f"{session.id}  {session.state}  {session.work_dir}")
    typer.echo(f"policy {session.policy}, image {session.image}, "
               f"workspace {session.workspace_mode}")  # fmt: skip
    if session.details:
        typer.echo(_json(session.details))


@app.command()
@api_command
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
    image: Annotated[
        str | None, typer.Option(help="Sandbox image, e.g. warden-sandbox:python.")
    ] = None,
    workspace_mode: Annotated[
        WorkspaceMode | None, typer.Option(help="copy, ro or rw (default: the policy's).")
    ] = None,
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
    client = connect(server, token)
    body: dict[str, Any] = {
        "prompt": prompt,
        "policy": policy,
        "image": image,
        "workspaceMode": workspace_mode.value if workspace_mode else None,
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
    _print_session(client.create_session(body), as_json)


def _upload(client: WardenClient, path: Path) -> str:
    """Upload ``path`` (a directory is tarred first); the upload's id."""
    skipped: list[str] = []
    try:
        with packed(path, skipped) as (data, media):
            for line in skipped:
                typer.echo(f"not uploaded: {line}", err=True)
            uploaded = client.upload_workspace(data, media)
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--archive") from exc
    return uploaded.id


@app.command("list")
@api_command
def list_(server: Server = None, token: Token = None, as_json: AsJson = False) -> None:
    """List sessions (full ids; tab-separated when piped)."""
    sessions = connect(server, token).list_sessions().sessions
    if as_json:
        typer.echo(_json([s.model_dump(mode="json", by_alias=True) for s in sessions]))
        return
    rows = [[s.id, s.state, s.work_dir, s.policy, stamp(s.created_at)] for s in sessions]
    print_rows(console, ["id", "state", "workDir", "policy", "created"], rows)


@app.command()
@api_command
def show(session: SessionArg, server: Server = None, token: Token = None,
         as_json: AsJson = False) -> None:  # fmt: skip
    """Show one session and its current screen."""
    client, sid = _session(server, token, session)
    _print_session(client.get_session(sid), as_json)
    if not as_json:
        typer.echo(client.pane(sid).text)


@app.command()
@api_command
def pane(session: SessionArg, server: Server = None, token: Token = None) -> None:
    """Print the session's screen as text."""
    client, sid = _session(server, token, session)
    typer.echo(client.pane(sid).text)


@app.command()
@api_command
def send(session: SessionArg, text: str, server: Server = None, token: Token = None) -> None:
    """Send a prompt to an idle session."""
    client, sid = _session(server, token, session)
    result = client.send(sid, text)
    typer.echo(f"sent; session is {result.state}")


@app.command()
@api_command
def approve(
    session: SessionArg,
    request: Annotated[
        str | None, typer.Option(help="The hook request id (from its tool.decision) to approve.")
    ] = None,
    server: Server = None,
    token: Token = None,
) -> None:
    """Approve the pending tool call once (refused if the screen shows another)."""
    client, sid = _session(server, token, session)
    result = client.approve(sid, request)
    typer.echo(f"approved with option {result.option}; session is {result.state}")


@app.command()
@api_command
def reject(session: SessionArg, server: Server = None, token: Token = None) -> None:
    """Reject the permission prompt."""
    client, sid = _session(server, token, session)
    result = client.reject(sid)
    typer.echo(f"rejected; session is {result.state}")


@app.command()
@api_command
def answer(
    session: SessionArg,
    option: Annotated[int | None, typer.Option(help="The option's number (1-based).")] = None,
    text: Annotated[str | None, typer.Option(help="A free-text answer instead.")] = None,
    server: Server = None,
    token: Token = None,
) -> None:
    """Answer the question the agent is asking: --option N or --text T."""
    if (option is None) == (text is None):
        raise typer.BadParameter("give exactly one of --option or --text")
    client, sid = _session(server, token, session)
    result = client.answer(sid, option=option, text=text)
    typer.echo(f"answered; session is {result.state}")


@app.command()
@api_command
def kill(session: SessionArg, server: Server = None, token: Token = None) -> None:
    """Delete a session: artifacts are collected, the container removed."""
    client, sid = _session(server, token, session)
    result = client.delete_session(sid)
    typer.echo(f"deleted; final state {result.state}")


@app.command()
@api_command
def patch(
    session: SessionArg,
    out: Annotated[Path | None, typer.Option(help="Write it to this file (default: stdout).")] = (
        None
    ),
    server: Server = None,
    token: Token = None,
) -> None:
    """The session's workspace changes as a unified diff (git apply-able)."""
    client, sid = _session(server, token, session)
    if out is None:
        typer.echo(client.patch(sid), nl=False)
        return
    size = save(client.download_patch(sid), out)
    typer.echo(f"wrote {out} ({size} bytes)", err=True)


@app.command()
@api_command
def recording(
    session: SessionArg,
    out: Annotated[Path | None, typer.Option(help="File to write (default: ID.cast).")] = None,
    server: Server = None,
    token: Token = None,
) -> None:
    """Download the terminal recording (asciicast v2; play it, or `warden detect` it)."""
    client, sid = _session(server, token, session)
    target = out or Path(f"{sid}.cast")
    size = save(client.recording(sid), target)
    typer.echo(f"wrote {target} ({size} bytes)")


@app.command()
@api_command
def artifacts(
    session: SessionArg,
    out: Annotated[Path | None, typer.Option(help="Download every artifact into DIR.")] = None,
    server: Server = None,
    token: Token = None,
) -> None:
    """List the session's collected artifacts, or download them all with --out DIR."""
    client, sid = _session(server, token, session)
    listed = client.artifacts(sid).artifacts
    if out is None:
        print_rows(console, ["name", "bytes"], [[a.name, str(a.size)] for a in listed])
        return
    for item in listed:
        # Names come from the server: keep only the last path part, never climb out of DIR.
        target = out / Path(item.name).name
        size = save(client.artifact(sid, item.name), target)
        typer.echo(f"wrote {target} ({size} bytes)")


@app.command()
@api_command
def watch(
    session: SessionArg,
    interval: Annotated[
        float, typer.Option(help="Seconds to wait before resuming a dropped stream.")
    ] = 1.0,
    as_json: AsJson = False,
    server: Server = None,
    token: Token = None,
) -> None:
    """Follow a session's events (SSE) until it ends (Ctrl-C to stop)."""
    client, sid = _session(server, token, session)  # a unique prefix, or a clear 404 first

    def ended(event: Event) -> bool:
        return event.type == "session.ended"

    stream = client.session_events(sid, retry_seconds=interval, on_drop=drop_notice)
    print_until(stream, as_json, ended, lambda text: console.print(text, markup=False))
