"""How the CLI prints tables: a Rich table for a person, whole tab-separated lines for a pipe."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import typer
from rich.console import Console
from rich.table import Table


def print_rows(console: Console, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print ``rows`` under ``headers``; never truncates a value.

    On a terminal, a table whose cells wrap instead of being cut with "…"; into a pipe or
    a file, one tab-separated line per row with a header line, so ``cut``/``awk`` get
    whole ids.
    """
    if not console.is_terminal:
        typer.echo("\t".join(headers))
        for row in rows:
            typer.echo("\t".join(" ".join(cell.split()) for cell in row))
        return
    table = Table(*headers)
    for column in table.columns:
        column.overflow = "fold"
    # The first column is the id: keep it on one line so it can be copied whole.
    table.columns[0].no_wrap = True
    for row in rows:
        table.add_row(*row, end_section=False)
    console.print(table)


def stamp(value: datetime | None) -> str:
    """A time as the API spells it (RFC 3339, Z for UTC), or - for none."""
    return value.isoformat().replace("+00:00", "Z") if value else "-"
