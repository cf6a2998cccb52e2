"""``warden image build|status``: the sandbox image, or with ``--controller`` the controller's."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import docker
import docker.errors
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from runner.errors import SandboxError
from runner.sandbox.controller_image import build_controller_image, controller_image_status
from runner.sandbox.image import build_image, image_status
from runner.sandbox.image_build import BuildResult
from runner.settings import Settings

app = typer.Typer(help="Build and inspect the sandbox and controller images.", no_args_is_help=True)

ContextOption = Annotated[
    Path | None, typer.Option("--context", help="Image definition dir (default images/sandbox).")
]
BaseOption = Annotated[
    str | None,
    typer.Option("--base", help="Registry base image instead of the offline debootstrap base."),
]
ControllerOption = Annotated[
    bool,
    typer.Option(
        "--controller", help="The controller image (top-level Dockerfile), not the sandbox's."
    ),
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
    controller: ControllerOption = False,
    source: Annotated[
        str | None,
        typer.Option("--source", help="Controller image's source label (default: git remote)."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show builder output.")] = False,
) -> None:
    """Build the sandbox image offline (skipped when its content hash is already built).

    With --controller, the controller image, tagged warden-controller:<version> and :latest.
    """
    console = Console()
    settings = Settings()
    client = _client()
    columns = (SpinnerColumn(finished_text="[green]✓"), TextColumn("{task.description}"),
               TimeElapsedColumn())  # fmt: skip
    result: BuildResult
    try:
        with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
            steps = _RichProgress(progress, verbose)
            if controller:
                result = build_controller_image(
                    client, settings.cache_dir, force=force, base=base, mirror=mirror,
                    source=source, extra_tag=tag, progress=steps,
                )  # fmt: skip
            else:
                result = build_image(
                    client, settings, force=force, tag=tag, base=base, mirror=mirror,
                    image_dir=context, progress=steps,
                )  # fmt: skip
    except SandboxError as exc:
        console.print(f"[red]image build failed:[/red] {exc.message}")
        for key, value in exc.details.items():
            console.print(f"[dim]{key}:[/dim] {escape(str(value))}", highlight=False)
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
def status(
    context: ContextOption = None, base: BaseOption = None, controller: ControllerOption = False
) -> None:
    """Say whether the image for the current definition is built, and its hash."""
    console = Console()
    client = _client()
    try:
        if controller:
            _controller_status(console, client, base)
            return
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


def _controller_status(console: Console, client: docker.DockerClient, base: str | None) -> None:
    try:
        state = controller_image_status(client, base=base)
    except SandboxError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"content hash: {state.content_hash}")
    if not state.is_built:
        console.print(f"[yellow]not built[/yellow]: {state.hash_tag} is missing; "
                      "run `warden image build --controller`")  # fmt: skip
        raise typer.Exit(1)
    console.print(f"[green]built[/green]: {state.hash_tag} ({state.image_id}), "
                  f"named {', '.join(sorted(state.tags))}")  # fmt: skip
