"""A small HTTP client for the CLI commands that talk to a Warden server."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NoReturn

import httpx
import typer

DEFAULT_SERVER = "http://127.0.0.1:9100"


class ApiClient:
    """Calls the API and turns its JSON errors into one clear line and exit code 1."""

    def __init__(self, server: str | None, token: str | None) -> None:
        self.server = (server or os.environ.get("WARDEN_SERVER") or DEFAULT_SERVER).rstrip("/")
        token = token or os.environ.get("WARDEN_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=self.server, headers=headers, timeout=60)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            self._unreachable(exc)
        self._check(response)
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text

    def download(self, path: str, target: Path) -> int:
        """Stream ``path`` into the file ``target``; returns the bytes written."""
        written = 0
        try:
            with self.http.stream("GET", path) as response:
                if response.status_code >= 400:
                    response.read()
                    self._check(response)
                target.parent.mkdir(parents=True, exist_ok=True)
                with target.open("wb") as sink:
                    for chunk in response.iter_bytes():
                        written += sink.write(chunk)
        except httpx.HTTPError as exc:
            self._unreachable(exc)
        return written

    def _unreachable(self, exc: httpx.HTTPError) -> NoReturn:
        typer.echo(f"cannot reach Warden at {self.server}: {exc}", err=True)
        raise typer.Exit(1) from exc

    def _check(self, response: httpx.Response) -> None:
        if response.status_code >= 400:
            self.fail(response)

    def fail(self, response: httpx.Response) -> NoReturn:
        """Print the API's error for a failed response and exit 1."""
        try:
            error = response.json()["error"]
            message = f"{error['code']}: {error['message']}"
        except (ValueError, KeyError, TypeError):
            message = response.text[:500]
        typer.echo(f"error {response.status_code}: {message}", err=True)
        raise typer.Exit(1)
