"""``warden image build|status``: the sandbox image."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import docker
import docker.errors
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from runner.errors import SandboxError
from runner.sandbox.image import build_image, image_status
from runner.settings import Settings

app = typer.Typer(help="Build and inspect the sandbox image.", no_args_is_help=True)

ContextOption = Annotated[
    Path | None, typer.Option("--context", help="Image definition dir (default images/sandbox).")
]
BaseOption = Annotated[
    str | None,
    typer.Option("--base", help="Registry base image instead of the offline debootstrap base."),
]


class _RichProgress:
    """Shows each build step as a line with a spinner, then its result."""

    def __init__(self, progress: Progress, verbose: bool) -> None:
        self._progress = progress
        self._verbose = verbose
        self._tasks: dict[str, TaskID] = {}

    def start(self, step: str) -> None:
        self._tasks[step] = self._progress.add_task(f"{step}…", total=1)

    def finish(self, step: str, detail: str) -> None:
        task = self._tasks.get(step) or self._progress.add_task(step, total=1)
        self._progress.update(task, description=f"{step}: {detail}", completed=1)
        if self._progress.disable:  # not a terminal (CI logs): one plain line per step
            self._progress.console.print(f"✓ {step}: {detail}", highlight=False)

    def log(self, line: str) -> None:
        if self._verbose:
            self._progress.console.print(line, markup=False, highlight=False, style="dim")


def _client() -> docker.DockerClient:
    try:
        return docker.from_env()
    except docker.errors.DockerException as exc:
        raise SandboxError(f"cannot reach the Docker daemon: {exc}") from exc


@app.command()
def build(
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if cached.")] = False,
    tag: Annotated[
        str | None, typer.Option("--tag", help="Image name (default: settings).")
    ] = None,
    base: BaseOption = None,
    mirror: Annotated[
        str | None, typer.Option("--mirror", help="Debian mirror URL (default: host apt sources).")
    ] = None,
    context: ContextOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show builder output.")] = False,
) -> None:
    """Build the sandbox image offline (skipped when its content hash is already built)."""
    console = Console()
    settings = Settings()
    client = _client()
    columns = (SpinnerColumn(finished_text="[green]✓"), TextColumn("{task.description}"),
               TimeElapsedColumn())  # fmt: skip
    try:
        with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
            result = build_image(
                client, settings, force=force, tag=tag, base=base, mirror=mirror,
                image_dir=context, progress=_RichProgress(progress, verbose),
            )  # fmt: skip
    except SandboxError as exc:
        console.print(f"[red]image build failed:[/red] {exc.message}")
        for key, value in exc.details.items():
            console.print(f"[dim]{key}:[/dim] {value}", markup=True, highlight=False)
        raise typer.Exit(1) from exc
    finally:
        client.close()
    if result.is_skipped:
        console.print(f"[green]up to date[/green]: {result.hash_tag} is already built "
                      f"(cache hit, {result.seconds:.1f}s); tagged {result.tag}")  # fmt: skip
    else:
        console.print(f"[green]built[/green] {result.hash_tag} as {result.tag} "
                      f"in {result.seconds:.0f}s")  # fmt: skip


@app.command()
def status(context: ContextOption = None, base: BaseOption = None) -> None:
    """Say whether the image for the current definition is built, and its hash."""
    console = Console()
    client = _client()
    try:
        state = image_status(client, Settings(), image_dir=context, base=base)
    finally:
        client.close()
    console.print(f"content hash: {state.content_hash}")
    if not state.is_built:
        console.print(f"[yellow]not built[/yellow]: {state.hash_tag} is missing; "
                      "run `warden image build`")  # fmt: skip
        raise typer.Exit(1)
    console.print(f"[green]built[/green]: {state.hash_tag} ({state.image_id}), "
                  f"Claude Code {state.claude_version}")  # fmt: skip
    if state.is_tagged:
        console.print(f"{state.tag} points at it")
    else:
        console.print(f"[yellow]{state.tag} points elsewhere[/yellow]; `warden image build` retags")
