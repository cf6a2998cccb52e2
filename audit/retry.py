"""Retrying a store call through transient faults (a restarting PostgreSQL), reconnecting."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

log = logging.getLogger(__name__)
_T = TypeVar("_T")


class Reconnecting(Protocol):
    def reconnect(self) -> None: ...


def retrying(
    call: Callable[[], _T],
    store: Reconnecting,
    transient: type[BaseException] | tuple[type[BaseException], ...],
    deadline: float,
) -> _T:
    """``call()``, again after each transient error (backing off) until ``deadline`` (monotonic).

    Raises:
        The last transient error once the deadline would pass, or any other at once.
    """
    delay = 0.05
    while True:
        try:
            return call()
        except transient as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("audit store unavailable (%s); retrying in %.2fs", exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
            try:
                store.reconnect()
            except transient as again:
                log.warning("audit store reconnect failed: %s", again)
