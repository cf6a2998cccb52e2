"""A small HTTP client for the CLI commands that talk to a Warden server."""

from __future__ import annotations

import os
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
            typer.echo(f"cannot reach Warden at {self.server}: {exc}", err=True)
            raise typer.Exit(1) from exc
        if response.status_code >= 400:
            self.fail(response)
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text

    def fail(self, response: httpx.Response) -> NoReturn:
        """Print the API's error for a failed response and exit 1."""
        try:
            error = response.json()["error"]
            message = f"{error['code']}: {error['message']}"
        except (ValueError, KeyError, TypeError):
            message = response.text[:500]
        typer.echo(f"error {response.status_code}: {message}", err=True)
        raise typer.Exit(1)
