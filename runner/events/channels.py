"""Notification channels: Slack incoming webhooks, Telegram bots, email over SMTP.

Each sender is a small client over the protocol itself (``httpx`` for Slack and
Telegram, ``smtplib`` for mail): apprise, the obvious library, hard-codes the Slack and
Telegram hosts, and a channel must be pointable at a self-hosted Telegram Bot API or a
local stand-in. Every outbound address is checked by the ``TargetPolicy`` first.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

import httpx

from runner.errors import InvalidInputError
from runner.events.targets import TargetPolicy

KINDS = ("slack", "telegram", "email")
#: What a channel can be told about (``notify``).
TOPICS = ("prompt", "question", "stall", "error", "completion")
#: Config keys that are secrets: stored, used, never shown again.
SECRET_KEYS = frozenset({"webhookUrl", "botToken", "password"})


@dataclass(frozen=True)
class Channel:
    id: str
    tenant: str
    kind: str
    config: Mapping[str, Any]
    notify: tuple[str, ...]
    approval_links: bool
    created_by: str
    created_at: datetime

    def shown_config(self) -> dict[str, Any]:
        """The config with its secrets masked."""
        return {k: ("***" if k in SECRET_KEYS else v) for k, v in self.config.items()}


@dataclass(frozen=True)
class Message:
    subject: str
    text: str


class ChannelStore(Protocol):
    def add(self, channel: Channel) -> None: ...

    def get(self, channel_id: str) -> Channel | None: ...

    def find(self, tenant: str | None) -> list[Channel]: ...

    def delete(self, channel_id: str) -> None: ...


def check_config(kind: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """The config if it has what ``kind`` needs (and nothing else).

    Raises:
        InvalidInputError: naming the missing or unknown keys.
    """
    required, optional = {
        "slack": ({"webhookUrl"}, set()),
        "telegram": ({"botToken", "chatId"}, {"baseUrl"}),
        "email": ({"host", "from", "to"}, {"port", "username", "password", "starttls"}),
    }[kind]
    missing, unknown = required - set(config), set(config) - required - optional
    if missing or unknown:
        raise InvalidInputError(
            f"a {kind} channel needs {', '.join(sorted(required))}"
            + (f" (missing {', '.join(sorted(missing))})" if missing else "")
            + (f"; unknown {', '.join(sorted(unknown))}" if unknown else "")
        )
    if kind == "email":
        if not isinstance(config["to"], list) or not config["to"]:
            raise InvalidInputError("an email channel's 'to' is a list of addresses")
        if config.get("starttls") is False and config.get("password"):
            # Never send a password in clear text.
            raise InvalidInputError("an email channel with a password must use STARTTLS")
    return dict(config)


def channel_url(channel: Channel) -> str:
    """The URL (or ``smtp://host:port``) the channel sends to, for the address check."""
    config = channel.config
    if channel.kind == "slack":
        return str(config["webhookUrl"])
    if channel.kind == "telegram":
        base = str(config.get("baseUrl") or "https://api.telegram.org").rstrip("/")
        return f"{base}/bot{config['botToken']}/sendMessage"
    return f"http://{config['host']}:{int(config.get('port') or 587)}/"


class Senders:
    """Sends one message over one channel (raises on failure)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        targets: TargetPolicy,
        *,
        timeout: float,
        ca_file: Path | None = None,
    ) -> None:
        self._client = client
        self._targets = targets
        self._timeout = timeout
        self._ca_file = ca_file

    async def send(self, channel: Channel, message: Message) -> None:
        url = channel_url(channel)
        await self._targets.check(url)
        if channel.kind == "slack":
            await self._post(url, {"text": f"*{message.subject}*\n{message.text}"})
        elif channel.kind == "telegram":
            body = {
                "chat_id": channel.config["chatId"],
                "text": f"{message.subject}\n\n{message.text}",
                "disable_web_page_preview": True,
            }
            await self._post(url, body)
        else:
            await asyncio.to_thread(self._mail, channel.config, message)

    async def _post(self, url: str, body: dict[str, Any]) -> None:
        response = await self._client.post(url, json=body, timeout=self._timeout)
        response.raise_for_status()

    def _mail(self, config: Mapping[str, Any], message: Message) -> None:
        mail = EmailMessage()
        mail["Subject"] = message.subject
        mail["From"] = str(config["from"])
        mail["To"] = ", ".join(str(a) for a in config["to"])
        mail.set_content(message.text)
        port = int(config.get("port") or 587)
        with smtplib.SMTP(str(config["host"]), port, timeout=self._timeout) as smtp:
            smtp.ehlo()
            if config.get("starttls", True):
                context = ssl.create_default_context(
                    cafile=str(self._ca_file) if self._ca_file else None
                )
                smtp.starttls(context=context)
                smtp.ehlo()
            if config.get("username"):
                smtp.login(str(config["username"]), str(config.get("password") or ""))
            smtp.send_message(mail)
