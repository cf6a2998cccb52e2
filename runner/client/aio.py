"""``AsyncWardenClient``: the asyncio client (``httpx.AsyncClient``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any, TypeVar

import httpx
from httpx_sse import SSEError, aconnect_sse

from runner.client.calls import AsyncSender, Call, Event, Route, answer, decode_event
from runner.client.config import DEFAULT_TIMEOUT, client_headers, server_url, stream_timeout
from runner.client.errors import WardenUnreachable, error_from
from runner.client.ops import Operations

T = TypeVar("T")


class AsyncWardenClient(Operations, AsyncSender):
    """Every route of the Warden REST API, for asyncio: each operation is awaited,
    downloads and event streams are async iterators. Arguments as ``WardenClient``
    (``transport`` an ``httpx.AsyncBaseTransport``, ``http`` an ``httpx.AsyncClient``).
    """

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        http: httpx.AsyncClient | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._timeout = timeout
        self._owns_http = http is None
        if http is None:
            self.base_url = server_url(base_url)
            http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, transport=transport)
        else:
            self.base_url = str(http.base_url).rstrip("/")
        http.headers.update(client_headers(token, headers))
        self._http = http

    @property
    def headers(self) -> httpx.Headers:
        """The headers sent with every request (change them here)."""
        return self._http.headers

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncWardenClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _send(self, route: Route, call: Call[T]) -> T:
        try:
            response = await self._http.request(**call.request(route))
        except httpx.HTTPError as exc:
            raise WardenUnreachable(self.base_url, exc) from exc
        return answer(response, call)

    async def _download(self, route: Route, call: Call[Any]) -> AsyncIterator[bytes]:
        timeout = stream_timeout(self._timeout)
        try:
            async with self._http.stream(**call.request(route), timeout=timeout) as r:
                if r.status_code >= 400:
                    await r.aread()
                    raise error_from(r)
                async for chunk in r.aiter_bytes():
                    yield chunk
        except httpx.HTTPError as exc:
            raise WardenUnreachable(self.base_url, exc) from exc

    async def _events(self, route: Route, call: Call[Any]) -> AsyncIterator[Event]:
        last, retry = call.resume.last_event_id, call.resume.retry_seconds
        timeout = stream_timeout(self._timeout)
        while True:
            request = call.request(route)
            if last is not None:
                request["headers"] = {**request.get("headers", {}), "Last-Event-ID": str(last)}
            try:
                async with aconnect_sse(self._http, **request, timeout=timeout) as source:
                    if source.response.status_code >= 400:
                        await source.response.aread()
                        raise error_from(source.response)
                    if call.resume.on_open is not None:
                        call.resume.on_open(last)
                    async for message in source.aiter_sse():
                        event = decode_event(message.id, message.event, message.data)
                        if event is not None:
                            last = event.id if event.id is not None else last
                            yield event
                if retry is None:
                    return  # the server ended the stream (follow=false, or it stopped)
            except (httpx.TransportError, SSEError) as exc:
                if retry is None:
                    raise WardenUnreachable(self.base_url, exc) from exc
                if call.resume.on_drop is not None:
                    call.resume.on_drop(exc, last)
            await asyncio.sleep(retry)
