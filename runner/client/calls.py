"""The request-building layer both clients share.

Each API operation is written once, as a method of ``Operations`` (``runner.client.ops``)
that builds a ``Call`` (path arguments, query, body, how to read the answer) under a
decorator naming its route. The decorator makes the method a descriptor: on a
``WardenClient`` it runs the call at once and returns the result, on an
``AsyncWardenClient`` it returns an awaitable (or an async iterator for streams). So
the two clients differ only in their transports (``sync.py``, ``aio.py``), and the
route table (``Route`` on each descriptor) is what the coverage test reads.
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from runner.client.errors import WardenArgumentError, WardenResponseError, error_from

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
P = ParamSpec("P")


@dataclass(frozen=True)
class Route:
    """One operation of the API: its method and path template (as in the OpenAPI)."""

    method: str
    template: str

    def path(self, args: Mapping[str, str | int]) -> str:
        """The path with ``args`` filled in, each as exactly one segment.

        Raises:
        WardenArgumentError: an argument that is empty, ``.``/``..`` or holds a slash.
        """
        return self.template.format(**{k: _segment(k, v) for k, v in args.items()})


def _segment(name: str, value: str | int) -> str:
    # Refused, not escaped: the server decodes %2F before routing, and httpx removes
    # dot segments, so "x/pane" or ".." would reach another route than the one named
    # (no id, key or name the API hands out has either).
    text = str(value)
    if not text or text in {".", ".."} or "/" in text:
        raise WardenArgumentError(f"{name} {text!r} is not a single path segment")
    return quote(text, safe="")


@dataclass(frozen=True)
class Resume:
    """How an event stream starts and resumes (``Last-Event-ID``)."""

    last_event_id: int | None = None
    #: Seconds to wait before reconnecting after a drop; None: a drop raises.
    retry_seconds: float | None = None
    #: Told of each drop (the error and the id the stream resumes after).
    on_drop: Callable[[Exception, int | None], None] | None = None
    #: Told each time the server has answered (its cursor is fixed from then on), with
    #: the id the stream resumes after (None: no event yet).
    on_open: Callable[[int | None], None] | None = None


@dataclass(frozen=True)
class Call(Generic[T]):
    """A request to make and how to read its answer."""

    parse: Callable[[httpx.Response], T]
    path: Mapping[str, str | int] = field(default_factory=dict)
    params: list[tuple[str, str]] = field(default_factory=list)
    json: Any = None
    content: bytes | Iterable[bytes] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    resume: Resume = field(default_factory=Resume)

    def request(self, route: Route) -> dict[str, Any]:
        """Keyword arguments for ``httpx.Client.request`` / ``.stream`` / ``connect_sse``."""
        kwargs: dict[str, Any] = {"method": route.method, "url": route.path(self.path)}
        if self.params:
            kwargs["params"] = self.params
        if self.json is not None:
            kwargs["json"] = self.json
        if self.content is not None:
            kwargs["content"] = self.content
        if self.headers:
            kwargs["headers"] = dict(self.headers)
        return kwargs


@dataclass(frozen=True)
class Event:
    """One server-sent event: ``id`` is its ledger seq (resume after it)."""

    id: int | None
    type: str
    data: dict[str, Any]
    session: str | None
    timestamp: str | None
    #: The whole JSON body as sent (``id``, ``type``, ``timestamp``, ``session``,
    #: ``tenant``, ``actor``, ``data``).
    body: dict[str, Any]


def decode_event(sse_id: str, sse_event: str, sse_data: str) -> Event | None:
    """The event an SSE message carries; None for a keep-alive (no data)."""
    if not sse_data:
        return None  # httpx-sse reports a keep-alive comment as an empty event
    body = json.loads(sse_data)
    if not isinstance(body, dict):
        raise WardenResponseError(f"an SSE message that is not a JSON object: {sse_data[:200]}")
    raw_id = sse_id or body.get("id")
    return Event(
        id=int(raw_id) if raw_id not in (None, "") else None,
        type=str(body.get("type") or sse_event),
        data=dict(body.get("data") or {}),
        session=body.get("session"),
        timestamp=body.get("timestamp"),
        body=body,
    )


# -- reading answers ---------------------------------------------------------------


def answer(response: httpx.Response, call: Call[T]) -> T:
    """The call's result, or the API's error as ``WardenApiError``."""
    if response.status_code >= 400:
        raise error_from(response)
    return call.parse(response)


def model(schema: type[M]) -> Callable[[httpx.Response], M]:
    """Read the answer as ``schema``, ignoring fields this client does not know yet.

    The schemas forbid unknown fields (to refuse bad requests); a newer server may
    answer with more fields than this client's copy knows, which is no error.
    """

    def parse(response: httpx.Response) -> M:
        return validate(schema, _json(response))

    return parse


def validate(schema: type[M], data: Any) -> M:
    """``schema.model_validate(data)``, dropping fields the schema does not know."""
    for _ in range(50):  # each round drops at least one unknown field
        try:
            return schema.model_validate(data)
        except ValidationError as exc:
            errors = exc.errors()
            unknown = [e["loc"] for e in errors if e["type"] == "extra_forbidden"]
            if len(unknown) != len(errors):
                raise WardenResponseError(
                    f"the server's answer is not a {schema.__name__}: {exc}"
                ) from exc
            data = _without(data, unknown)
    raise WardenResponseError(f"the server's answer is not a {schema.__name__}")


def _without(data: Any, locations: list[tuple[int | str, ...]]) -> Any:
    data = json.loads(json.dumps(data))  # a copy; the answer is plain JSON
    for loc in locations:
        node = data
        for key in loc[:-1]:
            node = node[key]
        node.pop(loc[-1], None)
    return data


def json_object(response: httpx.Response) -> dict[str, Any]:
    """Read the answer as a JSON object (routes without a schema)."""
    found = _json(response)
    if not isinstance(found, dict):
        raise WardenResponseError(f"expected a JSON object, got {type(found).__name__}")
    return found


def as_text(response: httpx.Response) -> str:
    """Read the answer as text."""
    return response.text


def nothing(response: httpx.Response) -> None:
    """A 204 answer."""


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise WardenResponseError(
            f"expected JSON from {response.request.url}, got {response.text[:200]!r}"
        ) from exc


def body_of(value: BaseModel | Mapping[str, Any]) -> dict[str, Any]:
    """A request body: a schema as the API spells it (camelCase, only the fields set),
    or a mapping sent as it is."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return dict(value)


def query(**values: Any) -> list[tuple[str, str]]:
    """Query parameters (camelCase names as given; lists repeat; None is left out)."""
    out: list[tuple[str, str]] = []
    for name, value in values.items():
        items = value if isinstance(value, list | tuple | set | frozenset) else [value]
        for item in items:
            if item is None:
                continue
            if isinstance(item, bool):
                item = "true" if item else "false"
            out.append((name, str(getattr(item, "value", item))))
    return out


# -- the two kinds of client ------------------------------------------------------


class SyncSender:
    """What a blocking client provides to the operations."""

    def _send(self, route: Route, call: Call[T]) -> T:
        raise NotImplementedError

    def _download(self, route: Route, call: Call[Any]) -> Iterator[bytes]:
        raise NotImplementedError

    def _events(self, route: Route, call: Call[Any]) -> Iterator[Event]:
        raise NotImplementedError


class AsyncSender:
    """What an asyncio client provides to the operations."""

    async def _send(self, route: Route, call: Call[T]) -> T:
        raise NotImplementedError

    def _download(self, route: Route, call: Call[Any]) -> AsyncIterator[bytes]:
        raise NotImplementedError

    def _events(self, route: Route, call: Call[Any]) -> AsyncIterator[Event]:
        raise NotImplementedError


Builder = Callable[Concatenate[Any, P], Call[T]]


class _Operation(Generic[P, T]):
    """A route and the method that builds its call; bound to a client on access."""

    kind = "_send"

    def __init__(self, route: Route, build: Builder[P, T]) -> None:
        self.route = route
        self._build = build
        self.__doc__ = build.__doc__
        self.__name__ = getattr(build, "__name__", "operation")

    def _bind(self, client: Any) -> Any:
        run = getattr(client, self.kind)

        @functools.wraps(self._build)
        def bound(*args: Any, **kwargs: Any) -> Any:
            return run(self.route, self._build(client, *args, **kwargs))

        if self.kind != "_send" or not isinstance(client, AsyncSender):
            return bound

        @functools.wraps(self._build)
        async def awaited(*args: Any, **kwargs: Any) -> Any:
            # Built when awaited: a refused argument surfaces where the call is awaited.
            return await run(self.route, self._build(client, *args, **kwargs))

        return awaited


class Endpoint(_Operation[P, T]):
    """An operation answered by one response."""

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Endpoint[P, T]: ...
    @overload
    def __get__(self, obj: SyncSender, owner: type[Any]) -> Callable[P, T]: ...
    @overload
    def __get__(self, obj: AsyncSender, owner: type[Any]) -> Callable[P, Awaitable[T]]: ...
    def __get__(self, obj: Any, owner: type[Any]) -> Any:
        return self if obj is None else self._bind(obj)


class Download(_Operation[P, T]):
    """An operation whose answer is bytes, streamed (never held whole in memory)."""

    kind = "_download"

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Download[P, T]: ...
    @overload
    def __get__(self, obj: SyncSender, owner: type[Any]) -> Callable[P, Iterator[bytes]]: ...
    @overload
    def __get__(self, obj: AsyncSender, owner: type[Any]) -> Callable[P, AsyncIterator[bytes]]: ...
    def __get__(self, obj: Any, owner: type[Any]) -> Any:
        return self if obj is None else self._bind(obj)


class EventStream(_Operation[P, T]):
    """An operation whose answer is a server-sent event stream."""

    kind = "_events"

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> EventStream[P, T]: ...
    @overload
    def __get__(self, obj: SyncSender, owner: type[Any]) -> Callable[P, Iterator[Event]]: ...
    @overload
    def __get__(self, obj: AsyncSender, owner: type[Any]) -> Callable[P, AsyncIterator[Event]]: ...
    def __get__(self, obj: Any, owner: type[Any]) -> Any:
        return self if obj is None else self._bind(obj)


def endpoint(method: str, template: str) -> Callable[[Builder[P, T]], Endpoint[P, T]]:
    """Make a ``Call``-building method the operation ``method template``."""
    return lambda build: Endpoint(Route(method, template), build)


def download(method: str, template: str) -> Callable[[Builder[P, T]], Download[P, T]]:
    """The same for an operation whose answer is streamed bytes."""
    return lambda build: Download(Route(method, template), build)


def sse(template: str) -> Callable[[Builder[P, T]], EventStream[P, T]]:
    """The same for an SSE stream (``GET``)."""
    return lambda build: EventStream(Route("GET", template), build)


def routes(cls: type[Any]) -> dict[str, Route]:
    """Each operation of ``cls`` (by attribute name) and its route."""
    found: dict[str, Route] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if isinstance(value, _Operation):
                found[name] = value.route
    return found
