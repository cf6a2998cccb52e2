"""``warden sessions …``: drive sessions on a Warden server.

Every command that takes a session accepts its full id or any prefix naming one session.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from runner.commands.client import ApiClient
from runner.commands.output import print_rows
from runner.commands.packing import packed, split_git
from runner.commands.session_ref import resolve_session
from runner.commands.stream import events, print_until
from runner.core import PermissionMode, WorkspaceMode

app = typer.Typer(
    help="Create, inspect and drive sessions on a Warden server.", no_args_is_help=True
)
console = Console(soft_wrap=True, highlight=False)

Server = Annotated[str | None, typer.Option("--server", help="Warden URL (env WARDEN_SERVER).")]
Token = Annotated[str | None, typer.Option("--token", help="API token (env WARDEN_TOKEN).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
SessionArg = Annotated[str, typer.Argument(help="Session id, or a prefix naming one session.")]


def _session(server: str | None, token: str | None, ref: str) -> tuple[ApiClient, str]:
    client = ApiClient(server, token)
    return client, resolve_session(client, ref)


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def _print_session(session: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(_json(session))
        return
    typer.echo(f"{session['id']}  {session['state']}  {session['workDir']}")
    typer.echo(f"policy {session['policy']}, image {session['image']}, "
               f"workspace {session['workspaceMode']}")  # fmt: skip
    details = session.get("details") or {}
    if details:
        typer.echo(_json(details))


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
    client = ApiClient(server, token)
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
    """List sessions (full ids; tab-separated when piped)."""
    sessions = ApiClient(server, token).call("GET", "/v1/sessions")["sessions"]
    if as_json:
        typer.echo(_json(sessions))
        return
    rows = [[s["id"], s["state"], s["workDir"], s["policy"], s["createdAt"]] for s in sessions]
    print_rows(console, ["id", "state", "workDir", "policy", "created"], rows)


@app.command()
def show(session: SessionArg, server: Server = None, token: Token = None,
         as_json: AsJson = False) -> None:  # fmt: skip
    """Show one session and its current screen."""
    client, sid = _session(server, token, session)
    _print_session(client.call("GET", f"/v1/sessions/{sid}"), as_json)
    if not as_json:
        typer.echo(client.call("GET", f"/v1/sessions/{sid}/pane")["text"])


@app.command()
def pane(session: SessionArg, server: Server = None, token: Token = None) -> None:
    """Print the session's screen as text."""
    client, sid = _session(server, token, session)
    typer.echo(client.call("GET", f"/v1/sessions/{sid}/pane")["text"])


@app.command()
def send(session: SessionArg, text: str, server: Server = None, token: Token = None) -> None:
    """Send a prompt to an idle session."""
    client, sid = _session(server, token, session)
    result = client.call("POST", f"/v1/sessions/{sid}/send", json={"text": text})
    typer.echo(f"sent; session is {result['state']}")


@app.command()
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
    body = {"request": request} if request else None
    result = client.call("POST", f"/v1/sessions/{sid}/approve", json=body)
    typer.echo(f"approved with option {result['option']}; session is {result['state']}")


@app.command()
def reject(session: SessionArg, server: Server = None, token: Token = None) -> None:
    """Reject the permission prompt."""
    client, sid = _session(server, token, session)
    result = client.call("POST", f"/v1/sessions/{sid}/reject")
    typer.echo(f"rejected; session is {result['state']}")


@app.command()
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
    body = {"option": option} if option is not None else {"text": text}
    result = client.call("POST", f"/v1/sessions/{sid}/answer", json=body)
    typer.echo(f"answered; session is {result['state']}")


@app.command()
def kill(session: SessionArg, server: Server = None, token: Token = None) -> None:
    """Delete a session: artifacts are collected, the container removed."""
    client, sid = _session(server, token, session)
    result = client.call("DELETE", f"/v1/sessions/{sid}")
    typer.echo(f"deleted; final state {result['state']}")


@app.command()
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
        typer.echo(client.call("GET", f"/v1/sessions/{sid}/patch"), nl=False)
        return
    size = client.download(f"/v1/sessions/{sid}/patch", out)
    typer.echo(f"wrote {out} ({size} bytes)", err=True)


@app.command()
def recording(
    session: SessionArg,
    out: Annotated[Path | None, typer.Option(help="File to write (default: ID.cast).")] = None,
    server: Server = None,
    token: Token = None,
) -> None:
    """Download the terminal recording (asciicast v2; play it, or `warden detect` it)."""
    client, sid = _session(server, token, session)
    target = out or Path(f"{sid}.cast")
    size = client.download(f"/v1/sessions/{sid}/recording", target)
    typer.echo(f"wrote {target} ({size} bytes)")


@app.command()
def artifacts(
    session: SessionArg,
    out: Annotated[Path | None, typer.Option(help="Download every artifact into DIR.")] = None,
    server: Server = None,
    token: Token = None,
) -> None:
    """List the session's collected artifacts, or download them all with --out DIR."""
    client, sid = _session(server, token, session)
    listed = client.call("GET", f"/v1/sessions/{sid}/artifacts")["artifacts"]
    if out is None:
        print_rows(console, ["name", "bytes"], [[a["name"], str(a["size"])] for a in listed])
        return
    for item in listed:
        # Names come from the server: keep only the last path part, never climb out of DIR.
        target = out / Path(str(item["name"])).name
        size = client.download(str(item["url"]), target)
        typer.echo(f"wrote {target} ({size} bytes)")


@app.command()
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

    def ended(event: dict[str, Any]) -> bool:
        return event.get("type") == "session.ended"

    stream = events(client, f"/v1/sessions/{sid}/events", {}, retry_seconds=interval)
    print_until(stream, as_json, ended, lambda text: console.print(text, markup=False))
