"""The audit stream to a syslog collector over TLS: the real services over the in-memory
sandbox, a real TLS collector on loopback whose certificate a CA made in the test signed."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
from pathlib import Path

import pytest

from audit.ledger import Ledger
from runner.core import SessionState
from runner.events.siem import CURSOR, SyslogForwarder, parse_target
from runner.store.webhooks import SqlWebhookStore
from tests.receivers import SyslogReceiver
from tests.tls import make_ca_and_cert, server_context
from tests.unit.events.siem_support import (
    assert_every_event_in_order,
    idle_session,
    ledger_head,
    until_stored,
    until_streamed,
)
from tests.unit.events.support import ALICE, reach, serve, until


def _pki(root: Path, name: str) -> tuple[Path, Path, Path]:
    directory = root / name
    directory.mkdir()
    return make_ca_and_cert(directory)


def test_every_event_reaches_a_tls_collector_in_order_and_resumes_after_a_restart(
    tmp_path: Path,
) -> None:
    """Over tls:// with the collector's CA configured: every event of a session arrives in
    sequence order; the collector restarts mid-session and the stream resumes, none missing,
    and the stored position reaches the ledger's head."""
    ca, cert, key = _pki(tmp_path, "pki")

    async def scenario() -> None:
        receiver = SyslogReceiver(tls=server_context(cert, key)).start()
        try:
            url = f"tls://127.0.0.1:{receiver.port}"
            async with serve(tmp_path, siem_syslog_url=url, siem_ca_file=ca) as served:
                services = served.services
                session_id = await idle_session(services, tmp_path)
                await until_streamed(receiver, services, 15)
                before = len(receiver.messages)
                receiver.stop()
                await services.manager.send(session_id, "while the collector restarts", ALICE)
                await reach(services, session_id, SessionState.IDLE)
                await asyncio.sleep(1.5)
                receiver.start()
                await until_streamed(receiver, services, 30)
                assert len(receiver.messages) > before  # the events of the send came after
                head = ledger_head(services)
                await until_stored(services, head)
        finally:
            receiver.stop()
        assert_every_event_in_order(receiver, head)
        assert not receiver.failed_handshakes

    asyncio.run(scenario())


def test_a_collector_whose_certificate_the_ca_did_not_sign_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The collector shows a certificate from another CA (same name, another key): the
    forwarder refuses it and keeps trying, nothing is sent and no position is stored."""
    ca, _, _ = _pki(tmp_path, "trusted")
    _, other_cert, other_key = _pki(tmp_path, "other")

    async def scenario() -> None:
        receiver = SyslogReceiver(tls=server_context(other_cert, other_key)).start()
        try:
            url = f"tls://127.0.0.1:{receiver.port}"
            async with serve(tmp_path, siem_syslog_url=url, siem_ca_file=ca) as served:
                services = served.services
                await idle_session(services, tmp_path)

                async def retried() -> bool:
                    return len(receiver.failed_handshakes) >= 2

                await until(retried, 15)  # refused, and tried again (with backoff)
                await asyncio.sleep(1.5)  # longer than the forwarder's confirm window
                assert SqlWebhookStore(services.engine).cursor(CURSOR) is None
        finally:
            receiver.stop()
        assert receiver.messages == []
        # Refused by the forwarder's certificate check, not by a broken connection.
        assert "CERTIFICATE_VERIFY_FAILED" in caplog.text

    asyncio.run(scenario())


def test_a_configured_ca_is_the_only_one_trusted(tmp_path: Path) -> None:
    """With siem_ca_file, the TLS context trusts that CA alone (not the system store): a
    collector's certificate must come from the CA its operator named."""
    ca, _, _ = _pki(tmp_path, "pki")
    target = parse_target("tls://127.0.0.1:6514", str(ca))
    assert target.tls is not None
    assert target.tls.verify_mode == ssl.CERT_REQUIRED and target.tls.check_hostname
    trusted = target.tls.get_ca_certs()
    assert [dict(c["subject"][0])["commonName"] for c in trusted] == ["warden test CA"]  # type: ignore[index]


def test_a_collector_that_never_finishes_the_handshake_is_left_and_retried(
    tmp_path: Path,
) -> None:
    """A listener that accepts TCP and never answers the TLS handshake does not hold the
    stream: the forwarder gives up after its connect timeout and tries again."""
    ca, _, _ = _pki(tmp_path, "pki")
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path / "keys")
    ledger.append("session.created", actor="user:alice", data={})
    silent = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                accepted.append(silent.accept()[0])  # and never a byte back

    threading.Thread(target=accept, daemon=True).start()
    stored: list[int] = []
    forwarder = SyslogForwarder(
        ledger, lambda: None, stored.append,
        parse_target(f"tls://127.0.0.1:{silent.getsockname()[1]}", str(ca)),
        connect_seconds=0.5,
    )  # fmt: skip

    async def scenario() -> None:
        task = asyncio.create_task(forwarder.run())
        try:

            async def retried() -> bool:
                return len(accepted) >= 2

            await until(retried, 5)  # the default handshake timeout would be 60 s
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    try:
        asyncio.run(scenario())
    finally:
        silent.close()
        for connection in accepted:
            connection.close()
        ledger.close()
    assert stored == []


def test_a_collector_reached_by_a_name_its_certificate_does_not_carry_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The certificate is for 127.0.0.1 and the URL says localhost: signed by the trusted CA
    but for another host, so the forwarder refuses it (host name checked) and sends nothing."""
    ca, cert, key = _pki(tmp_path, "pki")
    receiver = SyslogReceiver(tls=server_context(cert, key)).start()
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path / "keys")
    ledger.append("session.created", actor="user:alice", data={})
    stored: list[int] = []
    # localhost reaches the receiver on 127.0.0.1 (an address ::1 first is tried, then it).
    target = parse_target(f"tls://localhost:{receiver.port}", str(ca))
    forwarder = SyslogForwarder(ledger, lambda: None, stored.append, target, confirm_seconds=0.2)

    async def scenario() -> None:
        task = asyncio.create_task(forwarder.run())
        try:

            async def refused() -> bool:
                return bool(receiver.failed_handshakes)

            await until(refused, 5)
            await asyncio.sleep(0.5)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    try:
        asyncio.run(scenario())
    finally:
        receiver.stop()
        ledger.close()
    assert receiver.messages == [] and stored == []
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text and "mismatch" in caplog.text
