"""Steps the SIEM stream tests share: an idle session, the ledger's head, and waiting
until a collector holds every event and the stream's stored position reaches the head."""

from __future__ import annotations

import itertools
from pathlib import Path

from audit.stores.base import EventFilter
from runner.core import SessionState
from runner.events.siem import CURSOR
from runner.services import Services
from runner.sessions.requests import SessionRequest
from runner.store.webhooks import SqlWebhookStore
from tests.receivers import SyslogReceiver
from tests.unit.events.support import ALICE, reach, until, work_dir


def ledger_head(services: Services) -> int:
    page = services.ledger.query(EventFilter(), limit=100_000)
    return page.entries[-1].record.seq


async def idle_session(services: Services, root: Path) -> str:
    """A new session of alice's over ``root``'s work dir, once it is idle."""
    record, _ = await services.manager.create(
        SessionRequest(work_dir=str(work_dir(root)), prompt="hello"), ALICE
    )
    await reach(services, record.id, SessionState.IDLE)
    return record.id


async def until_streamed(receiver: SyslogReceiver, services: Services, seconds: float) -> None:
    """Until the collector holds every event up to the ledger's head."""

    async def caught_up() -> bool:
        return set(receiver.seqs()) >= set(range(ledger_head(services) + 1))

    await until(caught_up, seconds)


async def until_stored(services: Services, head: int, seconds: float = 10) -> None:
    """Until the stream's stored position (its acknowledged sequence) is ``head``."""
    cursors = SqlWebhookStore(services.engine)

    async def stored() -> bool:
        return cursors.cursor(CURSOR) == head

    await until(stored, seconds)


def assert_every_event_in_order(receiver: SyslogReceiver, head: int) -> None:
    """Every event up to ``head`` arrived, none missing, in sequence order: each message
    is the next one, or a resend after an outage."""
    seqs = receiver.seqs()
    assert set(seqs) == set(range(head + 1))
    assert seqs[0] == 0
    assert all(b == a + 1 or b <= a for a, b in itertools.pairwise(seqs))
