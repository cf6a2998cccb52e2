"""JSON log lines (``WARDEN_LOG_FORMAT=json``): one object a line, with the request id
and the trace and span ids of the code that logged it."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

from runner.telemetry import request_id


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", "requestId", "traceId", "spanId", "exc"}``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        current = request_id.current()
        if current is not None:
            line["requestId"] = current
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            line["traceId"] = format(context.trace_id, "032x")
            line["spanId"] = format(context.span_id, "016x")
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure(level: str, log_format: str) -> None:
    """The root logger: JSON lines or the plain text format."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
