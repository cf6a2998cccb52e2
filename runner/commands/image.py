"""``warden image build|status|list|manifest``: the sandbox image, its toolchain profiles,
and with ``--controller`` the controller's image."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import docker
import docker.errors
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from runner.commands.output import print_rows
from runner.errors import SandboxError, WardenError
from runner.sandbox.catalog import list_images, read_manifest
from runner.sandbox.controller_image import build_controller_image, controller_image_status
from runner.sandbox.image import build_image, image_status
from runner.sandbox.image_build import BuildResult
from runner.sandbox.profile_build import build_profile
from runner.sandbox.profiles import load_profiles, profile
from runner.settings import Settings

app = typer.Typer(
    help="Build and inspect the sandbox image, its toolchain profiles and the controller image.",
    no_args_is_help=True,
)

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


def _fail(console: Console, what: str, exc: WardenError) -> NoReturn:
    console.print(f"[red]{what}:[/red] {escape(exc.message)}", highlight=False)
    if isinstance(exc, SandboxError):  # the builder's output says what went wrong
        for key, value in exc.details.items():
            console.print(f"[dim]{key}:[/dim] {escape(str(value))}", highlight=False)
    raise typer.Exit(1) from exc


@contextmanager
def _client(console: Console, what: str) -> Iterator[docker.DockerClient]:
    """A Docker client; any Warden error inside becomes one clear line and exit 1."""
    try:
        try:
            client = docker.from_env()
        except docker.errors.DockerException as exc:
            raise SandboxError(f"cannot reach the Docker daemon: {exc}") from exc
        try:
            yield client
        finally:
            client.close()
    except WardenError as exc:
        _fail(console, what, exc)


def _report(console: Console, result: BuildResult) -> None:
    if result.is_skipped:
        console.print(f"[green]up to date[/green]: {result.hash_tag} is already built "
                      f"(cache hit, {result.seconds:.1f}s); tagged {result.tag}")  # fmt: skip
    else:
        console.print(f"[green]built[/green] {result.hash_tag} as {result.tag} "
                      f"in {result.seconds:.0f}s")  # fmt: skip


@app.command()
def build(
    profiles: Annotated[
        list[str] | None,
        typer.Option("--profile", "-p", help="Also build this toolchain profile (repeatable)."),
    ] = None,
    build_all: Annotated[bool, typer.Option("--all", help="Build every profile.")] = False,
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
    """Build the sandbox image offline, and the profiles asked for (each skipped when cached).

    With --controller, the controller image, tagged warden-controller:<version> and :latest.
    """
    if controller and (profiles or build_all):
        raise typer.BadParameter("--profile and --all build sandbox profiles, not --controller")
    console = Console(soft_wrap=True)
    settings = Settings()
    columns = (SpinnerColumn(finished_text="[green]✓"), TextColumn("{task.description}"),
               TimeElapsedColumn())  # fmt: skip
    with _client(console, "image build failed") as client:
        known = load_profiles()
        chosen = list(known.values()) if build_all else [profile(p) for p in profiles or ()]
        with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
            steps = _RichProgress(progress, verbose)
            if controller:
                results = [build_controller_image(
                    client, settings.cache_dir, force=force, base=base, mirror=mirror,
                    source=source, extra_tag=tag, progress=steps,
                )]  # fmt: skip
            else:
                results = [build_image(
                    client, settings, force=force, tag=tag, base=base, mirror=mirror,
                    image_dir=context, progress=steps,
                )]  # fmt: skip
                for each in chosen:
                    results.append(build_profile(
                        client, settings, each, results[0], force=force, mirror=mirror,
                        progress=steps,
                    ))  # fmt: skip
    for result in results:
        _report(console, result)


@app.command()
def status(
    context: ContextOption = None, base: BaseOption = None, controller: ControllerOption = False
) -> None:
    """Say whether the image for the current definition is built, and its hash."""
    console = Console(soft_wrap=True)
    with _client(console, "image status failed") as client:
        if controller:
            _controller_status(console, client, base)
            return
        state = image_status(client, Settings(), image_dir=context, base=base)
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
    state = controller_image_status(client, base=base)
    console.print(f"content hash: {state.content_hash}")
    if not state.is_built:
        console.print(f"[yellow]not built[/yellow]: {state.hash_tag} is missing; "
                      "run `warden image build --controller`")  # fmt: skip
        raise typer.Exit(1)
    console.print(f"[green]built[/green]: {state.hash_tag} ({state.image_id}), "
                  f"named {', '.join(sorted(state.tags))}")  # fmt: skip


@app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The sandbox images on this engine: tags, profile, id, size, Claude Code, what they hold."""
    console = Console(soft_wrap=True)
    with _client(console, "image list failed") as client:
        entries = list_images(client)
    if as_json:
        typer.echo(json.dumps([e.to_json() for e in entries], indent=2))
        return
    rows = [
        [" ".join(e.tags), e.profile or "-", e.id, f"{e.size_bytes / 1e6:.0f} MB",
         e.claude_version or "-", e.holds]
        for e in entries
    ]  # fmt: skip
    print_rows(console, ["tags", "profile", "id", "size", "claude", "holds"], rows)


@app.command()
def manifest(
    image: Annotated[str, typer.Argument(help="Image name or id, e.g. warden-sandbox:python.")],
) -> None:
    """Print an image's manifest: every Debian package and version, Claude Code's version."""
    console = Console(soft_wrap=True)
    with _client(console, "cannot read the manifest") as client:
        found = read_manifest(client, image)
    typer.echo(json.dumps(found, indent=2, ensure_ascii=False))
