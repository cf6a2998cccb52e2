"""Notifications to Slack, Telegram and email stand-ins, and their approval links."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx

from runner.core import SessionState
from runner.sessions.requests import SessionRequest
from tests.receivers import Receiver, serve_receiver
from tests.smtp_server import smtp_server
from tests.unit.events.support import ALICE, reach, recorded, serve, until, work_dir

_LINK = re.compile(r"(http://\S+/v1/approval-links/(\S+))")


def _links(text: str) -> dict[str, str]:
    """decision → token, from a message's text."""
    found = {}
    for line in text.splitlines():
        match = _LINK.search(line)
        if match:
            found[line.split(" ", 1)[0].lower()] = match.group(2)
    return found


def test_prompt_notifications_reach_every_channel_and_their_links_work_once(
    tmp_path: Path,
) -> None:
    """Slack, Telegram and email (STARTTLS) get the prompt with the session link; the
    approve link approves once; used again, or for a prompt that changed, it is refused."""

    async def scenario() -> None:
        slack, telegram = Receiver(), Receiver()
        with (
            serve_receiver(slack),
            serve_receiver(telegram),
            smtp_server(tmp_path) as (mailbox, ca_file),
        ):
            overrides: dict[str, Any] = {
                "outbound_allow_networks": ["127.0.0.0/8"],
                "notify_ca_file": ca_file,
                "public_url": "http://warden.example",
            }
            async with (
                serve(tmp_path, **overrides) as served,
                httpx.AsyncClient(base_url=served.url) as client,
            ):
                channels = [
                    {"kind": "slack", "config": {"webhookUrl": f"{slack.url}/services/T/B/X"}},
                    {
                        "kind": "telegram",
                        "config": {"botToken": "123:abc", "chatId": "42", "baseUrl": telegram.url},
                    },
                    {
                        "kind": "email",
                        "config": {
                            "host": "127.0.0.1",
                            "port": mailbox.port,
                            "from": "warden@example.org",
                            "to": ["oncall@example.org"],
                        },
                    },
                ]
                for body in channels:
                    body |= {"notify": ["prompt"], "approvalLinks": True}
                    response = await client.post("/v1/notifications/channels", json=body)
                    assert response.status_code == 201, response.text
                listed = (await client.get("/v1/notifications/channels")).json()["channels"]
                assert listed[0]["config"]["webhookUrl"] == "***"

                manager = served.services.manager
                record, _ = await manager.create(
                    SessionRequest(work_dir=str(work_dir(tmp_path)), prompt="[[bash: ls -la]]"),
                    ALICE,
                )
                await recorded(served.services, record.id, "permission.asked")
                await asyncio.to_thread(slack.wait_for, 1)
                await asyncio.to_thread(telegram.wait_for, 1)
                await until(lambda: _has(mailbox.messages))

                session_link = f"http://warden.example/v1/sessions/{record.id}"
                slack_text = slack.requests[0].json()["text"]
                assert "ls -la" in slack_text and session_link in slack_text
                tg = telegram.requests[0]
                assert tg.path == "/bot123:abc/sendMessage" and tg.json()["chat_id"] == "42"
                mail = mailbox.messages[0]
                assert mailbox.encrypted == [True]
                assert mail["To"] == "oncall@example.org"
                mail_text = mail.get_payload(decode=True).decode()
                assert session_link in mail_text and "/v1/approval-links/" in mail_text

                approve = _links(slack_text)["approve"]
                described = await client.get(f"/v1/approval-links/{approve}")
                assert described.status_code == 200 and described.json()["decision"] == "approve"
                assert served.claude.ran == []  # looking at a link does nothing

                used = await client.post(f"/v1/approval-links/{approve}")
                assert used.status_code == 200, used.text
                await reach(served.services, record.id, SessionState.IDLE)
                assert served.claude.ran == ["ls -la"]
                again = await client.post(f"/v1/approval-links/{approve}")
                assert again.status_code == 409 and "already used" in again.text

                # A second prompt: the first prompt's (unused) telegram link must not fit it.
                stale = _links(tg.json()["text"])["approve"]
                await manager.send(record.id, "[[bash: rm -rf build]]", ALICE)
                await recorded(served.services, record.id, "permission.asked", 2)
                refused = await client.post(f"/v1/approval-links/{stale}")
                assert refused.status_code == 409 and "no longer on screen" in refused.text
                assert served.claude.ran == ["ls -la"]
                forged = await client.post(f"/v1/approval-links/{approve[:-4]}beef")
                assert forged.status_code == 404

                types = [e.type for e in _ledger(served, record.id)]
                assert types.count("approval_link.used") == 1
                assert types.count("approval_link.refused") == 2

    asyncio.run(scenario())


async def _has(items: list[Any]) -> bool:
    return bool(items)


def _ledger(served: Any, session_id: str) -> list[Any]:
    from audit.stores.base import EventFilter

    page = served.services.ledger.query(EventFilter(session=session_id), limit=1000)
    return [e.event for e in page.entries]
