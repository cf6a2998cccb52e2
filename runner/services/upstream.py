"""Choosing the model upstream the gateways relay to, from the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from runner.gateway.relay import Upstream
from runner.scripted.server import ScriptedModelServer
from runner.settings import Settings

#: ``WARDEN_MODEL_UPSTREAM`` value that runs the scripted model in-process.
SCRIPTED = "scripted"


@asynccontextmanager
async def open_upstream(settings: Settings) -> AsyncIterator[Upstream]:
    """The upstream for every session's gateway, for as long as the controller runs.

    ``scripted`` starts the scripted model on a free loopback port (offline demo, tests);
    anything else is the URL of a real Messages API, used with the configured key.
    """
    if settings.model_upstream == SCRIPTED:
        async with ScriptedModelServer() as server:
            yield Upstream(server.url, None)
        return
    yield Upstream(settings.model_upstream, settings.upstream_key())
