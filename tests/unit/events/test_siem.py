"""The audit stream to a syslog collector: the real services over the in-memory
sandbox, a real TCP collector on loopback that goes away for 10 s and comes back."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from runner.core import SessionState
from tests.receivers import SyslogReceiver
from tests.unit.events.siem_support import (
    assert_every_event_in_order,
    idle_session,
    ledger_head,
    until_stored,
    until_streamed,
)
from tests.unit.events.support import ALICE, reach, serve


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
                session_id = await idle_session(services, tmp_path)
                await until_streamed(receiver, services, 10)
                receiver.stop()
                stopped = time.monotonic()
                await services.manager.send(session_id, "while the collector is down", ALICE)
                await reach(services, session_id, SessionState.IDLE)
                await asyncio.sleep(10 - (time.monotonic() - stopped))
                receiver.start()
                await until_streamed(receiver, services, 30)
                head = ledger_head(services)
                await until_stored(services, head)
                message = receiver.messages[0]
        finally:
            receiver.stop()
        assert_every_event_in_order(receiver, head)
        assert message.startswith(b"<110>1 ")
        assert b'chainHash="' in message and b'type="' in message
        assert b"\xef\xbb\xbf{" in message  # the event's canonical JSON is the body

    asyncio.run(scenario())
