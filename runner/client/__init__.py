"""A typed Python client for the Warden REST API, blocking and asyncio (docs/client.md).

::

    from runner.client import WardenClient

    with WardenClient("https://warden.example", token="wdn_…") as warden:
        session = warden.create_session({"workDir": "/srv/app", "prompt": "Fix the tests"})
        for event in warden.session_events(session.id):
            print(event.type, event.data)
"""

from runner.client.aio import AsyncWardenClient
from runner.client.calls import Event
from runner.client.errors import (
    WardenApiError,
    WardenArgumentError,
    WardenClientError,
    WardenResponseError,
    WardenUnreachable,
)
from runner.client.sync import WardenClient

__all__ = [
    "AsyncWardenClient",
    "Event",
    "WardenApiError",
    "WardenArgumentError",
    "WardenClient",
    "WardenClientError",
    "WardenResponseError",
    "WardenUnreachable",
]
