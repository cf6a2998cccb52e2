"""Webhooks from the durable outbox: signatures, retries, isolation, restarts, the allowlist."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from runner.core import SessionState
from runner.sessions.requests import SessionRequest
from tests.receivers import Receiver, serve_receiver
from tests.unit.events.support import ALICE, Served, reach, serve, until, work_dir

FAST = {
    "outbound_allow_networks": ["127.0.0.0/8"],
    "webhook_backoff_seconds": 0.05,
    "webhook_timeout_seconds": 1.0,
}


async def _hook(served: Served, url: str, **body: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=served.url) as client:
        response = await client.post("/v1/webhooks", json={"url": url, **body})
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created


async def _deliveries(served: Served, hook_id: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=served.url) as client:
        response = await client.get(f"/v1/webhooks/{hook_id}/deliveries")
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["deliveries"]
        return found


async def _status(served: Served, hook_id: str, status: str) -> dict[str, Any]:
    """The webhook's only delivery once it reached ``status`` (recorded after the reply)."""
    found: list[dict[str, Any]] = []

    async def reached() -> bool:
        found[:] = await _deliveries(served, hook_id)
        return len(found) == 1 and found[0]["status"] == status

    await until(reached)
    return found[0]


async def _session(served: Served, root: Path) -> str:
    record, _ = await served.services.manager.create(
        SessionRequest(work_dir=str(work_dir(root)), prompt="hello"), ALICE
    )
    await reach(served.services, record.id, SessionState.IDLE)
    return record.id


def test_a_receiver_down_for_three_tries_gets_the_event_on_the_fourth(tmp_path: Path) -> None:
    """Every request is signed (Standard Webhooks); three 503s, then delivered; the attempts
    are listed with their status codes."""

    async def scenario() -> None:
        receiver = Receiver(fail_first=3)
        with serve_receiver(receiver):
            async with serve(tmp_path, **FAST) as served:
                hook = await _hook(served, receiver.url, events=["session.created"])
                assert hook["secret"].startswith("whsec_")
                receiver.secret = hook["secret"]
                session = await _session(served, tmp_path)
                await asyncio.to_thread(receiver.wait_for, 1)
                delivery = await _status(served, hook["id"], "delivered")
                assert delivery["attempts"] == 4
                codes = [a["statusCode"] for a in delivery["history"]]
                assert codes == [503, 503, 503, 200]
                ids = {r.headers["webhook-id"] for r in receiver.requests}
                assert ids == {delivery["id"]}  # every retry is the same message
                body = receiver.requests[-1].json()
                assert body["type"] == "session.created" and body["session"] == session
                assert receiver.bad_signatures == 0

    asyncio.run(scenario())


def test_a_hanging_receiver_does_not_delay_another(tmp_path: Path) -> None:
    """One target that never answers in time; the other gets every event at once."""

    async def scenario() -> None:
        hanging, quick = Receiver(hang_seconds=3), Receiver()
        with serve_receiver(hanging), serve_receiver(quick):
            async with serve(tmp_path, **FAST) as served:
                await _hook(served, hanging.url)
                hook = await _hook(served, quick.url, events=["session.state"])
                quick.secret = hook["secret"]
                started = asyncio.get_running_loop().time()
                await _session(served, tmp_path)
                await asyncio.to_thread(quick.wait_for, 2, 5)
                assert asyncio.get_running_loop().time() - started < 2.5
                assert len(hanging.accepted) == 0

    asyncio.run(scenario())


def test_a_pending_delivery_survives_a_restart_and_arrives_once(tmp_path: Path) -> None:
    """Receiver down while the controller stops; a new controller on the same database
    delivers it when the receiver is back, with the same webhook-id, exactly once."""

    async def scenario() -> None:
        receiver = Receiver(fail_first=1000)
        with serve_receiver(receiver):
            async with serve(tmp_path, **FAST) as served:
                hook = await _hook(served, receiver.url, events=["session.created"])
                await _session(served, tmp_path)
                await until(lambda: _has_requests(receiver))
            pending = receiver.requests[0].headers["webhook-id"]
            receiver.fail_first = 0
            receiver.secret = hook["secret"]
            async with serve(tmp_path, **FAST) as served:
                await asyncio.to_thread(receiver.wait_for, 1)
                await asyncio.sleep(0.5)
                assert receiver.accepted == [pending]
                await _status(served, hook["id"], "delivered")

    asyncio.run(scenario())


async def _has_requests(receiver: Receiver) -> bool:
    return bool(receiver.requests)


def test_dead_after_the_last_try_and_replayed_on_request(tmp_path: Path) -> None:
    """After ``webhook_max_attempts`` failures a delivery is dead; a replay sends it again."""

    async def scenario() -> None:
        receiver = Receiver(fail_first=2)
        with serve_receiver(receiver):
            async with serve(tmp_path, webhook_max_attempts=2, **FAST) as served:
                hook = await _hook(served, receiver.url, events=["session.created"])
                await _session(served, tmp_path)

                async def dead() -> bool:
                    found = await _deliveries(served, hook["id"])
                    return bool(found) and found[0]["status"] == "dead"

                await until(dead)
                (delivery,) = await _deliveries(served, hook["id"])
                async with httpx.AsyncClient(base_url=served.url) as client:
                    url = f"/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/replay"
                    assert (await client.post(url)).status_code == 200
                await asyncio.to_thread(receiver.wait_for, 1)
                again = await _status(served, hook["id"], "delivered")
                assert len(again["history"]) == 3

    asyncio.run(scenario())


def test_loopback_and_metadata_targets_are_refused_by_default(tmp_path: Path) -> None:
    """Without an allowlist entry, loopback and link-local (metadata) URLs get a 422."""

    async def scenario() -> None:
        async with serve(tmp_path) as served, httpx.AsyncClient(base_url=served.url) as client:
            for url in ("http://127.0.0.1:9/hook", "http://169.254.169.254/latest/meta-data"):
                response = await client.post("/v1/webhooks", json={"url": url})
                assert response.status_code == 422, response.text
                assert "not a public address" in response.json()["error"]["message"]
            response = await client.post("/v1/webhooks", json={"url": "ftp://example.org/x"})
            assert response.status_code == 422

    asyncio.run(scenario())
