"""After a restart, the hook calls still waiting for a person, rebuilt from the ledger.

Approvals bind to the PreToolUse call the hook answered ``ask`` (runner.sessions.hooklog),
and the controller keeps those in memory. Claude Code, in the container that outlived the
controller, still shows the prompt for that very call: without its pending request the
prompt could never be approved. The ledger has both halves (the ``tool.decision`` with
its request id and tool input, the ``permission.decided`` naming the request answered),
so what is still open is read back from it, the signed record, not from the screen.
A replica that takes a session over from another (which died, or was cut off) has the
same gap for that one session, and fills it the same way (``restore_session_asks``).
"""

from __future__ import annotations

from audit.ledger import Ledger
from audit.stores.base import EventFilter
from runner.core import FINAL_STATES, SessionState
from runner.sessions.hooklog import HookLog
from runner.sessions.model import SessionStore

_PAGE = 500


def restore_pending_asks(ledger: Ledger, hooks: HookLog, store: SessionStore) -> int:
    """Record again every ``ask`` of a live session no decision answered; how many."""
    live = [state for state in SessionState if state not in FINAL_STATES]
    return sum(restore_session_asks(ledger, hooks, record.id) for record in store.find(states=live))


def restore_session_asks(ledger: Ledger, hooks: HookLog, session_id: str) -> int:
    """Record again the session's ``ask`` calls no decision answered; how many."""
    asks = _events(ledger, session_id, "tool.decision")
    answered = {
        str(data.get("request"))
        for data in _events(ledger, session_id, "permission.decided")
        if data.get("request")
    }
    restored = 0
    for data in asks:
        if data.get("decision") == "ask" and data.get("request") not in answered:
            hooks.record(session_id, data)
            restored += 1
    return restored


def _events(ledger: Ledger, session_id: str, event_type: str) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    after: int | None = None
    while True:
        page = ledger.query(
            EventFilter(session=session_id, type=event_type), after_seq=after, limit=_PAGE
        )
        found.extend(dict(entry.event.data) for entry in page.entries)
        if page.next_cursor is None:
            return found
        after = page.next_cursor
