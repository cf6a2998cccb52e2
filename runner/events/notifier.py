"""Tells people when a session needs them or is done, over the tenant's channels.

Listens to the bus (live events; best effort, with a few retries per message: the
durable path for machines is the webhook outbox). Topics: ``prompt`` (a permission
prompt, optionally with approve/reject links), ``question``, ``stall``, ``error`` and
``completion`` (back to idle after work). Each message carries the session's link.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from runner.core import BUSY_STATES, Actor, EventSink, SessionState
from runner.events.bus import Event, EventBus
from runner.events.channels import Channel, ChannelStore, Message, Senders
from runner.events.feed import TenantOf
from runner.events.links import ApprovalLinks

log = logging.getLogger(__name__)

_TRIES = 3


class Notifier:
    def __init__(
        self,
        *,
        bus: EventBus,
        channels: ChannelStore,
        senders: Senders,
        links: ApprovalLinks,
        tenant_of: TenantOf,
        events: EventSink,
        public_url: str,
    ) -> None:
        self._bus = bus
        self._channels = channels
        self._senders = senders
        self._links = links
        self._tenant_of = tenant_of
        self._events = events
        self._public_url = public_url.rstrip("/")
        self._last_state: dict[str, str] = {}
        self._sending: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        with self._bus.listen(256) as listener:
            try:
                while True:
                    await listener.wait(5.0)
                    listener.lost = False  # best effort: a burst may lose notifications
                    for event in listener.take():
                        try:
                            await self._consider(event)
                        except Exception:
                            log.exception("could not notify about %s", event.type)
            finally:
                for task in self._sending:
                    task.cancel()

    def topic(self, event: Event) -> str | None:
        """Which topic an event is news for (and remember the session's state)."""
        if event.session is None:
            return None
        if event.type == "permission.asked":
            return "prompt"
        if event.type == "session.error":
            return "error"
        if event.type != "session.state":
            return None
        state = str(event.data.get("state"))
        previous = self._last_state.get(event.session)
        self._last_state[event.session] = state
        if state == SessionState.IDLE:
            return "completion" if previous in BUSY_STATES else None
        topics: dict[str, str] = {SessionState.ASKING: "question", SessionState.STALLED: "stall"}
        return topics.get(state)

    async def _consider(self, event: Event) -> None:
        topic = self.topic(event)
        if topic is None or event.session is None:
            return
        tenant = await asyncio.to_thread(self._tenant_of, event.session) or event.tenant
        channels = await asyncio.to_thread(self._channels.find, tenant)
        for channel in channels:
            if topic in channel.notify:
                message = await self.message(channel, topic, event.session, event.data)
                task = asyncio.create_task(self._deliver(channel, topic, event.session, message))
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)

    async def message(
        self, channel: Channel, topic: str, session: str, data: Mapping[str, Any]
    ) -> Message:
        link = f"{self._public_url}/v1/sessions/{session}"
        short = session[:8]
        if topic == "prompt":
            prompt = dict(data.get("prompt") or {})
            target = prompt.get("command") or prompt.get("path") or ""
            lines = [f"{prompt.get('tool', 'A tool')} wants to run: {target}", f"Session: {link}"]
            if channel.approval_links:
                for decision in ("approve", "reject"):
                    token = await asyncio.to_thread(self._links.issue, session, prompt, decision)
                    lines.append(
                        f"{decision.capitalize()} (log in, then POST): "
                        f"{self._public_url}/v1/approval-links/{token}"
                    )
            return Message(f"Warden: session {short} asks for permission", "\n".join(lines))
        details = dict(data.get("details") or {})
        text = {
            "question": f"Question: {details.get('question', '')}",
            "stall": "The agent has shown no progress for a while.",
            "error": f"Error: {data.get('error') or details.get('error') or 'the session failed'}",
            "completion": "The agent finished its turn and waits for input.",
        }[topic]
        subject = {
            "question": "asks a question",
            "stall": "is stalled",
            "error": "failed",
            "completion": "is done",
        }[topic]
        return Message(f"Warden: session {short} {subject}", f"{text}\nSession: {link}")

    async def _deliver(self, channel: Channel, topic: str, session: str, message: Message) -> None:
        error = ""
        for attempt in range(1, _TRIES + 1):
            try:
                await self._senders.send(channel, message)
                error = ""
                break
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"[:300]
                log.warning(
                    "%s channel %s: try %d failed: %s", channel.kind, channel.id, attempt, error
                )
                await asyncio.sleep(0.5 * 2**attempt)
        kind = "notification.failed" if error else "notification.sent"
        data = {"channel": channel.id, "kind": channel.kind, "topic": topic, "error": error or None}
        await self._events.emit(kind, actor=Actor.system(), session=session, data=data)
