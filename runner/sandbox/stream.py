"""A terminal stream fed through an asyncio queue (by a reader thread, or in memory)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator


class QueuedStream:
    """Yields what is ``put`` until ``None`` arrives; subclasses say how to disconnect."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    def put(self, chunk: bytes | None) -> None:
        """Hand over output (``None``: the stream ended). Call from the loop's thread."""
        self._queue.put_nowait(chunk)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            while (chunk := await self._queue.get()) is not None:
                yield chunk
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Disconnect; the base has nothing to release."""
