"""The audit stream to a syslog collector: the real services over the in-memory
sandbox, a real TCP collector on loopback that goes away for 10 s and comes back."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

from audit.stores.base import EventFilter
from runner.core import SessionState
from runner.events.siem import CURSOR
from runner.services import Services
from runner.sessions.requests import SessionRequest
from runner.store.webhooks import SqlWebhookStore
from tests.receivers import SyslogReceiver
from tests.unit.events.support import ALICE, reach, serve, until, work_dir


def _head(services: Services) -> int:
    page = services.ledger.query(EventFilter(), limit=100_000)
    return page.entries[-1].record.seq


def test_every_event_reaches_the_collector_across_a_ten_second_outage(tmp_path: Path) -> None:
    """RFC 5424 messages with each event's seq and chain hash; the collector stops for
    10 s while the session goes on: in the end every event arrived (some twice), none is
    missing, and the stored position reached the ledger's head."""

    async def scenario() -> None:
        receiver = SyslogReceiver().start()
        try:
            url = f"tcp://127.0.0.1:{receiver.port}"
            async with serve(tmp_path, siem_syslog_url=url) as served:
                services = served.services
                record, _ = await services.manager.create(
                    SessionRequest(work_dir=str(work_dir(tmp_path)), prompt="hello"), ALICE
                )
                await reach(services, record.id, SessionState.IDLE)

                async def caught_up() -> bool:
                    return set(receiver.seqs()) >= set(range(_head(services) + 1))

                await until(caught_up, 10)
                receiver.stop()
                stopped = time.monotonic()
                await services.manager.send(record.id, "while the collector is down", ALICE)
                await reach(services, record.id, SessionState.IDLE)
                await asyncio.sleep(10 - (time.monotonic() - stopped))
                receiver.start()
                await until(caught_up, 30)
                head = _head(services)
                cursors = SqlWebhookStore(services.engine)

                async def stored() -> bool:
                    return cursors.cursor(CURSOR) == head

                await until(stored, 10)
                message = receiver.messages[0]
        finally:
            receiver.stop()
        seqs = receiver.seqs()
        assert set(seqs) == set(range(head + 1))  # every event, none missing
        # In sequence order: each message is the next one, or a resend after the outage.
        assert seqs[0] == 0
        assert all(b == a + 1 or b <= a for a, b in itertools.pairwise(seqs))
        assert message.startswith(b"<110>1 ")
        assert b'chainHash="' in message and b'type="' in message
        assert b"\xef\xbb\xbf{" in message  # the event's canonical JSON is the body

    asyncio.run(scenario())
