"""``warden model``: the scripted model, a local Messages API for tests and offline demos."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from runner.errors import InvalidInputError
from runner.scripted.script import Script, load_script
from runner.scripted.server import ScriptedModelServer

app = typer.Typer(help="Model endpoints: the scripted model.", no_args_is_help=True)


@app.command()
def scripted(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0 picks a free one).")] = 8089,
    script: Annotated[
        Path | None, typer.Option(help="YAML script: turns played by prompts without directives.")
    ] = None,
) -> None:
    """Serve the scripted model until interrupted (point ANTHROPIC_BASE_URL at it)."""
    console = Console(stderr=True)
    try:
        loaded = load_script(script) if script is not None else Script()
    except InvalidInputError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from exc
    try:
        asyncio.run(_serve(host, port, loaded, console))
    except KeyboardInterrupt:
        console.print("stopped")


async def _serve(host: str, port: int, script: Script, console: Console) -> None:
    async with ScriptedModelServer(script, host=host, port=port) as server:
        console.print(f"scripted model listening on [bold]{server.url}[/bold] (Ctrl+C to stop)")
        console.print(f"  ANTHROPIC_BASE_URL={server.url}")
        await asyncio.Event().wait()
