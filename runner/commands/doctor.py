"""``warden doctor``: is this machine ready to run sessions? Says how to fix each problem."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from runner.doctor.checks import CHECKS
from runner.doctor.probe import Probe
from runner.settings import Settings

app = typer.Typer()


@app.command()
def doctor() -> None:
    """Check Docker, the image, Claude Code, the model, the database and free disk."""
    console = Console(soft_wrap=True, highlight=False)
    probe = Probe(Settings())
    failed = 0
    try:
        for name, check in CHECKS:
            result = check(probe)
            mark = "[green]ok[/green]  " if result.ok else "[red]FAIL[/red]"
            if result.skipped:
                mark = "[yellow]skip[/yellow]"
            console.print(f"{mark} {name:9} {escape(result.what)}", markup=True)
            if result.fix:
                console.print(f"           fix: {result.fix}", markup=False)
            failed += not result.ok
    finally:
        probe.close()
    raise typer.Exit(1 if failed else 0)
