"""The columns stored beside each event, held to its canonical bytes.

A store keeps ``ts``, ``actor``, ``tenant``, ``session``, ``type`` and the event id in
columns of their own, so queries, tenant scoping and exports can select on them; the
canonical bytes are what the chain and the signatures commit to. A column that says
something else than the bytes was edited, and verification names the first such event
and column. (``seq`` needs no check here: it is the event's place in the chain.)

A valid event's canonical bytes are exactly (keys in JCS order)::

    {"actor":A,"data":D,"id":I,"session":S,"tenant":T,"ts":TS,"type":TY,"v":1}

so the columns agree with the bytes if and only if the bytes start with
``{"actor":A,"data":`` and end with ``,"id":I,…,"v":1}``, each value JCS-encoded from
its column: a JSON string holds no unescaped quote, so neither edge can match across a
member boundary. One ``startswith`` and one ``endswith`` per event, no JSON parsing.
The PostgreSQL CHECK constraint (``audit.stores.pg_schema``) is the same test in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from json.encoder import encode_basestring  # the C encoder audit.jcs writes strings with
from typing import Any

from audit.errors import InvalidEventError
from audit.event import EVENT_VERSION, decode_event

#: The stored columns, in the order stores return them.
COLUMNS = ("ts", "actor", "tenant", "session", "type", "event_id")

#: One event's stored column values, in ``COLUMNS`` order.
Columns = tuple[Any, ...]

_END = f',"v":{EVENT_VERSION}}}'


def _optional(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)


def edges(columns: Columns) -> tuple[bytes, bytes]:
    """The bytes a canonical event with these column values starts and ends with.

    Raises:
        TypeError, ValueError, UnicodeEncodeError: a value no event could hold.
    """
    ts, actor, tenant, session, kind, event_id = columns
    start = '{"actor":' + encode_basestring(actor) + ',"data":'
    end = (
        f',"id":{encode_basestring(event_id)},"session":{_optional(session)}'
        f',"tenant":{_optional(tenant)},"ts":{encode_basestring(ts)}'
        f',"type":{encode_basestring(kind)}{_END}'
    )
    return start.encode("utf-8"), end.encode("utf-8")


def all_agree(canonicals: Sequence[bytes], columns: Sequence[Columns]) -> bool:
    """True when every event's columns agree with its bytes (the bulk check, no details).

    The hot path of a database verify: the values that repeat (actor, session, tenant,
    type) are encoded once per call, and nothing is built but the two edges.
    """
    encoded: dict[Any, str] = {None: "null"}

    def once(value: Any) -> str:
        text = encoded.get(value)
        if text is None:
            text = encoded[value] = encode_basestring(value)
        return text

    try:
        for canonical, (ts, actor, tenant, session, kind, event_id) in zip(
            canonicals, columns, strict=True
        ):
            start = f'{{"actor":{once(actor)},"data":'
            end = (
                f',"id":{encode_basestring(event_id)},"session":{once(session)}'
                f',"tenant":{once(tenant)},"ts":{encode_basestring(ts)},"type":{once(kind)}{_END}'
            )
            if not (canonical.startswith(start.encode()) and canonical.endswith(end.encode())):
                return False
    except (TypeError, ValueError, UnicodeEncodeError):
        return False  # a value no event holds (a number, a lone surrogate…)
    return True


def disagreement(canonical: bytes, columns: Columns) -> str | None:
    """Why the columns disagree with the bytes (naming the first column), or None."""
    try:
        start, end = edges(columns)
        if canonical.startswith(start) and canonical.endswith(end):
            return None
    except (TypeError, ValueError, UnicodeEncodeError):
        pass
    try:
        event = decode_event(canonical)
    except InvalidEventError:
        return "the canonical bytes are not an event, so its stored columns cannot agree"
    said = (event.ts, event.actor, event.tenant, event.session, event.type, event.id)
    for name, stored, value in zip(COLUMNS, columns, said, strict=True):
        if stored != value or type(stored) is not type(value):
            return (
                f"stored column {name} is {_short(stored)} but the canonical bytes say "
                f"{_short(value)} (the row was edited)"
            )
    return "the stored columns do not match the canonical bytes"  # pragma: no cover


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
