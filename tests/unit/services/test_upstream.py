"""Picking the model upstream from the settings."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from runner.services.upstream import open_upstream
from runner.settings import Settings

pytestmark = pytest.mark.anyio


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"


async def test_scripted_setting_runs_the_scripted_model() -> None:
    """model_upstream=scripted serves a working scripted model without a key."""
    async with open_upstream(Settings(model_upstream="scripted")) as upstream:
        assert upstream.key is None
        async with httpx.AsyncClient() as client:
            body = {"model": "m", "messages": [{"role": "user", "content": "ping"}]}
            reply = await client.post(f"{upstream.url}/v1/messages", json=body)
    assert reply.json()["content"][0]["text"] == "Scripted reply to: ping"


async def test_real_upstream_carries_the_configured_key() -> None:
    """Any other model_upstream is used as the URL with the configured key."""
    settings = Settings(model_upstream="https://models.example", upstream_api_key=SecretStr("k1"))
    async with open_upstream(settings) as upstream:
        assert (upstream.url, upstream.key) == ("https://models.example", "k1")
