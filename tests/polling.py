"""Waiting for text to show on a screen, however the screen is read."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for_text(read: Callable[[], str], text: str, *, timeout: float, interval: float) -> str:
    """Poll ``read()`` until it contains ``text``; return it, or fail with what it last showed."""
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = read()
        if text in screen:
            return screen
        time.sleep(interval)
    raise AssertionError(f"{text!r} did not appear within {timeout}s; the screen shows:\n{screen}")
