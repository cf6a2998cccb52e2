"""``WardenClient``: the blocking client (``httpx.Client``)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Any, TypeVar

import httpx
from httpx_sse import SSEError, connect_sse

from runner.client.calls import Call, Event, Route, SyncSender, answer, decode_event
from runner.client.config import DEFAULT_TIMEOUT, client_headers, server_url, stream_timeout
from runner.client.errors import WardenUnreachable, error_from
from runner.client.ops import Operations

T = TypeVar("T")


class WardenClient(Operations, SyncSender):
    """Every route of the Warden REST API, blocking.

    Args:
        base_url: the server (default ``WARDEN_SERVER``, else http://127.0.0.1:9100).
        token: a bearer token (default ``WARDEN_TOKEN``; none: anonymous).
        timeout: seconds per request (streams: per connect).
        transport: an httpx transport to send through (tests: the app in-process).
        http: an ``httpx.Client`` to use as it is configured (then ``base_url`` and
            ``transport`` are its own; the token and ``headers`` are added to it).
        headers: more headers for every request.
    """

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        http: httpx.Client | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._timeout = timeout
        self._owns_http = http is None
        if http is None:
            self.base_url = server_url(base_url)
            http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)
        else:
            self.base_url = str(http.base_url).rstrip("/")
        http.headers.update(client_headers(token, headers))
        self._http = http

    @property
    def headers(self) -> httpx.Headers:
        """The headers sent with every request (change them here)."""
        return self._http.headers

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> WardenClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _send(self, route: Route, call: Call[T]) -> T:
        try:
            response = self._http.request(**call.request(route))
        except httpx.HTTPError as exc:
            raise WardenUnreachable(self.base_url, exc) from exc
        return answer(response, call)

    def _download(self, route: Route, call: Call[Any]) -> Iterator[bytes]:
        timeout = stream_timeout(self._timeout)
        try:
            with self._http.stream(**call.request(route), timeout=timeout) as r:
                if r.status_code >= 400:
                    r.read()
                    raise error_from(r)
                yield from r.iter_bytes()
        except httpx.HTTPError as exc:
            raise WardenUnreachable(self.base_url, exc) from exc

    def _events(self, route: Route, call: Call[Any]) -> Iterator[Event]:
        last, retry = call.resume.last_event_id, call.resume.retry_seconds
        timeout = stream_timeout(self._timeout)
        while True:
            request = call.request(route)
            if last is not None:
                request["headers"] = {**request.get("headers", {}), "Last-Event-ID": str(last)}
            try:
                with connect_sse(self._http, **request, timeout=timeout) as source:
                    if source.response.status_code >= 400:
                        source.response.read()
                        raise error_from(source.response)
                    if call.resume.on_open is not None:
                        call.resume.on_open(last)
                    for message in source.iter_sse():
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
            time.sleep(retry)
