"""``warden doctor``: is this machine ready to run sessions? Says how to fix each problem."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from runner.doctor.checks import CHECKS
from runner.doctor.limits import effective_limits
from runner.doctor.probe import Probe
from runner.settings import Settings

app = typer.Typer()


@app.command()
def doctor() -> None:
    """Check Docker, the image, Claude Code, the model, the database and free disk; then
    print the effective limits (quotas, rate limits, size limits)."""
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
    # What this server would enforce: what a client meeting a 429 or 413 runs into.
    console.print("limits (the setting that changes each):", markup=False)
    for what, limit, setting in effective_limits(probe.settings):
        console.print(f"     {what}: {limit}  ({setting})", markup=False)
    raise typer.Exit(1 if failed else 0)
