"""``warden detect``: replay a terminal recording and print the state its screen ends in."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from runner.errors import InvalidInputError
from runner.terminal.replay import replay_file

app = typer.Typer()

_SIZE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")
DEFAULT_RAW_SIZE = (120, 40)


@app.command()
def detect(
    file: Annotated[
        Path, typer.Argument(help="An asciicast v2 or v3 recording, or raw terminal bytes.")
    ],
    size: Annotated[
        str | None,
        typer.Option(
            help="COLSxROWS of a raw byte stream (default 120x40; casts carry their own)."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help='Print {"state", "details"} as one JSON object.')
    ] = False,
) -> None:
    """Replay FILE into the terminal classifier and print the final state."""
    err = Console(stderr=True)
    try:
        raw_size = parse_size(size) if size is not None else DEFAULT_RAW_SIZE
        state = replay_file(file, raw_size)
    except InvalidInputError as exc:
        err.print(f"[red]error:[/red] {exc.message}", highlight=False)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(state.to_json(), ensure_ascii=False))
    else:
        typer.echo(state.state.value)


def parse_size(text: str) -> tuple[int, int]:
    """``"120x40"`` -> ``(120, 40)``.

    Raises:
        InvalidInputError: the text is not COLSxROWS with both in 2..1000.
    """
    match = _SIZE.match(text)
    if match is None:
        raise InvalidInputError(f"--size must look like 120x40, not {text!r}")
    columns, rows = int(match.group(1)), int(match.group(2))
    if not (2 <= columns <= 1000 and 2 <= rows <= 1000):
        raise InvalidInputError(f"--size {text} is out of range (2..1000 each)")
    return columns, rows
