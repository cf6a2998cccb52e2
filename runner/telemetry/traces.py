"""One trace per session: its root span, the start phase, and the spans hung under them.

Only the OpenTelemetry API is used here; which provider records (or drops) the spans is
chosen by the composition root (``runner.services.telemetry``). With tracing off every
call returns at once, so an untraced controller pays a branch per step, nothing more.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, Status, StatusCode, Tracer, TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

#: The attribute every span of a session carries.
SESSION_ID = "warden.session.id"

_PROPAGATOR = TraceContextTextMapPropagator()

AttributeValue = str | int | float | bool
Attributes = Mapping[str, AttributeValue | None]


@dataclass
class _Trace:
    root: Span
    start: Span | None


class SessionTraces:
    """Keeps each live session's root span so later steps join the session's trace."""

    def __init__(self, provider: TracerProvider | None = None) -> None:
        #: False when no provider records spans: then nothing is ever created.
        self.enabled = provider is not None
        self._tracer: Tracer = (provider or trace.NoOpTracerProvider()).get_tracer("warden")
        self._traces: dict[str, _Trace] = {}

    @property
    def tracer(self) -> Tracer:
        """For spans that belong to no session (API requests)."""
        return self._tracer

    def begin(self, session_id: str, attributes: Attributes) -> None:
        """Open the session's trace (a new root) and its ``session.start`` phase."""
        if not self.enabled:
            return
        attrs = _clean({SESSION_ID: session_id, **attributes})
        # A new trace, not a child of the creating request: the session outlives it. The
        # request span is linked, so one leads to the other.
        links = [trace.Link(trace.get_current_span().get_span_context())]
        root = self._tracer.start_span("session", context=Context(), attributes=attrs, links=links)
        start = self._tracer.start_span(
            "session.start", context=trace.set_span_in_context(root), attributes=attrs
        )
        self._traces[session_id] = _Trace(root, start)

    def rename(self, old: str, new: str) -> None:
        """The session took another id (a pooled sandbox's): its trace goes with it."""
        entry = self._traces.pop(old, None)
        if entry is None:
            return
        for span in (entry.root, entry.start):
            if span is not None:
                span.set_attribute(SESSION_ID, new)
        self._traces[new] = entry

    def started(self, session_id: str, error: str | None = None) -> None:
        """The start phase is over (the first prompt is in, or the start failed)."""
        entry = self._traces.get(session_id)
        if entry is None or entry.start is None:
            return
        _finish(entry.start, error)
        entry.start = None

    def end(self, session_id: str, state: str, error: str | None = None) -> None:
        """Close the session's trace (it ended, or the controller stops watching it)."""
        entry = self._traces.pop(session_id, None)
        if entry is None:
            return
        if entry.start is not None:
            _finish(entry.start, error)
        entry.root.set_attribute("warden.session.state", state)
        _finish(entry.root, error)

    def close(self) -> None:
        """End every open trace: their sessions keep running, but this controller stops."""
        for session_id in list(self._traces):
            self.end(session_id, "detached")

    @contextlib.contextmanager
    def span(
        self, session_id: str | None, name: str, attributes: Attributes | None = None
    ) -> Iterator[Span]:
        """A span of the session around the block (an exception marks it failed); with no
        session, a span of the current trace."""
        if not self.enabled:
            yield trace.INVALID_SPAN
            return
        attrs = _clean({SESSION_ID: session_id, **(attributes or {})})
        parent = self._parent(session_id) if session_id is not None else None
        with self._tracer.start_as_current_span(name, context=parent, attributes=attrs) as span:
            yield span

    def inject(self, headers: dict[str, str]) -> None:
        """Add the current span's ``traceparent`` to outgoing headers (tracing on only)."""
        if self.enabled:
            _PROPAGATOR.inject(headers)

    def record(
        self,
        session_id: str | None,
        name: str,
        *,
        seconds: float,
        attributes: Attributes | None = None,
        error: str | None = None,
    ) -> None:
        """A span of the session that ended now and lasted ``seconds`` (told afterwards);
        with no session, a span of the current trace (a root where there is none)."""
        if not self.enabled:
            return
        end = time.time_ns()
        attrs = _clean({SESSION_ID: session_id, **(attributes or {})})
        span = self._tracer.start_span(
            name,
            context=self._parent(session_id) if session_id is not None else None,
            attributes=attrs,
            start_time=end - int(max(seconds, 0.0) * 1e9),
        )
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, error))
        span.end(end_time=end)

    def _parent(self, session_id: str) -> Context | None:
        """The current span if it is already in this session's trace (nesting), else the
        open start phase, else the root; the current context for a session not traced."""
        entry = self._traces.get(session_id)
        if entry is None:
            return None
        current = trace.get_current_span().get_span_context()
        if current.trace_id == entry.root.get_span_context().trace_id:
            return None
        return trace.set_span_in_context(entry.start or entry.root)


def _finish(span: Span, error: str | None) -> None:
    if error is not None:
        span.set_status(Status(StatusCode.ERROR, error))
    span.end()


def _clean(attributes: Attributes) -> dict[str, AttributeValue]:
    return {key: value for key, value in attributes.items() if value is not None}
