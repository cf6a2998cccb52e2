"""The CLI's side of ``runner.client``: a client from ``--server``/``--token`` (or
``WARDEN_SERVER``/``WARDEN_TOKEN``), and its errors as one clear line and exit code 1."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import typer

from runner.client import WardenApiError, WardenClient, WardenClientError
from runner.client.config import DEFAULT_SERVER

__all__ = ["DEFAULT_SERVER", "api_command", "connect", "reported", "save"]

F = TypeVar("F", bound=Callable[..., Any])


def connect(server: str | None, token: str | None) -> WardenClient:
    """A client of the server the command names (its environment otherwise)."""
    return WardenClient(server, token)


@contextmanager
def reported() -> Iterator[None]:
    """Print a client error as ``error STATUS: CODE: MESSAGE`` (or why the server could
    not be reached) on stderr, and exit 1."""
    try:
        yield
    except WardenApiError as exc:
        typer.echo(f"error {exc.status}: {exc.code}: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    except WardenClientError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc


def api_command(command: F) -> F:
    """A command whose client errors are ``reported`` (put it under ``@app.command()``)."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        with reported():
            return command(*args, **kwargs)

    return cast(F, run)


def save(chunks: Iterator[bytes], target: Path) -> int:
    """Write a download into the file ``target``; the bytes written."""
    written = 0
    first = next(chunks, None)  # the request is made here: an error leaves no file behind
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as sink:
        if first is not None:
            written += sink.write(first)
        for chunk in chunks:
            written += sink.write(chunk)
    return written
