"""The webhook outbox: catalogue events become durable deliveries, sent with retries.

Two loops. The *filler* reads the ledger after its stored cursor, makes one delivery
per (event, matching webhook) and moves the cursor in the same transaction, so an event
is enqueued exactly once even when the controller dies half-way. The *dispatcher* hands
due deliveries to one worker per webhook: a receiver that hangs (up to the timeout) or
keeps failing holds up only its own queue, never another webhook, a session or the bus.
A failed attempt is retried after an exponential backoff with jitter; after
``max_attempts`` the delivery is ``dead`` (a person may replay it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from standardwebhooks import Webhook as Signer

from runner.core import utcnow
from runner.events.bus import EventBus
from runner.events.catalogue import PublicEvent, matches
from runner.events.feed import EventFeed, Selection
from runner.events.targets import TargetPolicy, TargetRefusedError
from runner.events.webhooks import (
    DEAD,
    DELIVERED,
    PENDING,
    Attempt,
    Delivery,
    Webhook,
    WebhookStore,
    delivery_id,
)
from runner.telemetry.traces import SessionTraces

log = logging.getLogger(__name__)

CURSOR = "webhooks"


@dataclass(frozen=True)
class OutboxConfig:
    max_attempts: int = 8
    backoff_seconds: float = 2.0
    backoff_cap_seconds: float = 600.0
    timeout_seconds: float = 10.0
    poll_seconds: float = 1.0


def backoff(attempts: int, config: OutboxConfig) -> float:
    """Seconds before the next try after ``attempts`` failures: exponential, full jitter
    over its upper half, so receivers coming back are not hit by every sender at once."""
    ceiling = min(config.backoff_cap_seconds, config.backoff_seconds * 2.0 ** (attempts - 1))
    return float(ceiling) * (0.5 + random.random() / 2)  # noqa: S311 (jitter, not a secret)


def headers(hook: Webhook, message_id: str, at: datetime, payload: str) -> dict[str, str]:
    """The Standard Webhooks headers for one attempt."""
    return {
        "content-type": "application/json",
        "user-agent": "warden-webhooks",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Signer(hook.secret).sign(message_id, at, payload),
    }


class Outbox:
    """Fills and drains the outbox until cancelled (``run``)."""

    def __init__(
        self,
        store: WebhookStore,
        feed: EventFeed,
        bus: EventBus,
        targets: TargetPolicy,
        client: httpx.AsyncClient,
        config: OutboxConfig | None = None,
        traces: SessionTraces | None = None,
    ) -> None:
        self._store = store
        self._feed = feed
        self._bus = bus
        self._targets = targets
        self._client = client
        self.config = config or OutboxConfig()
        self._traces = traces or SessionTraces()
        self._wake = asyncio.Event()
        self._in_flight: set[str] = set()
        self._workers: dict[str, tuple[asyncio.Queue[Delivery], asyncio.Task[None]]] = {}

    async def run(self) -> None:
        filler = asyncio.create_task(self._fill_forever(), name="outbox-fill")
        try:
            await self._dispatch_forever()
        finally:
            filler.cancel()
            for _, task in self._workers.values():
                task.cancel()
            for task in [filler, *(t for _, t in self._workers.values())]:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def wake(self) -> None:
        """Look for due deliveries now (after a replay)."""
        self._wake.set()

    # -- filling ---------------------------------------------------------------------

    async def _fill_forever(self) -> None:
        with self._bus.listen(64) as listener:
            while True:
                try:
                    more = await asyncio.to_thread(self.fill_once)
                except Exception:
                    log.exception("the webhook outbox could not read the ledger")
                    more = False
                if not more:
                    await listener.wait(self.config.poll_seconds)
                    listener.take()
                    listener.lost = False

    def fill_once(self) -> bool:
        """Enqueue one page of events after the cursor; True when more may follow."""
        cursor = self._store.cursor(CURSOR)
        if cursor is None:
            # A new outbox starts at the present: webhooks get what happens from now on.
            cursor = self._feed.head()
            self._store.enqueue([], name=CURSOR, reached=cursor)
            return False
        events, reached, more = self._feed.page(Selection(), cursor)
        if reached == cursor:
            return False
        hooks = [h for h in self._store.find(None) if h.enabled]
        now = utcnow()
        deliveries = [
            _delivery(hook, event, now)
            for event in events
            for hook in hooks
            if hook.tenant == event.tenant and event.id > hook.after_seq
            if matches(hook.events, event.type)
        ]
        self._store.enqueue(deliveries, name=CURSOR, reached=reached)
        if deliveries:
            self._wake.set()
        return more

    # -- sending ---------------------------------------------------------------------

    async def _dispatch_forever(self) -> None:
        while True:
            try:
                due = await asyncio.to_thread(
                    self._store.due, utcnow(), exclude=set(self._in_flight), limit=200
                )
            except Exception:
                log.exception("the webhook outbox could not read due deliveries")
                due = []
            for delivery in due:
                self._in_flight.add(delivery.id)
                self._worker(delivery.webhook_id).put_nowait(delivery)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(0.25, self.config.poll_seconds)):
                    await self._wake.wait()

    def _worker(self, webhook_id: str) -> asyncio.Queue[Delivery]:
        worker = self._workers.get(webhook_id)
        if worker is None or worker[1].done():
            queue: asyncio.Queue[Delivery] = asyncio.Queue()
            task = asyncio.create_task(self._work(queue), name=f"webhook-{webhook_id}")
            worker = self._workers[webhook_id] = (queue, task)
        return worker[0]

    async def _work(self, queue: asyncio.Queue[Delivery]) -> None:
        while True:
            delivery = await queue.get()
            try:
                await self.attempt(delivery)
            except Exception:
                log.exception("webhook delivery %s failed unexpectedly", delivery.id)
            finally:
                self._in_flight.discard(delivery.id)

    async def attempt(self, delivery: Delivery) -> str:
        """Try one delivery once; record the attempt; return the delivery's new status."""
        hook = await asyncio.to_thread(self._store.get, delivery.webhook_id)
        if hook is None:
            return DEAD  # deleted meanwhile: its deliveries went with it
        number = delivery.attempts + 1
        at, started = utcnow(), time.monotonic()
        attributes: dict[str, str | int] = {
            "warden.webhook.id": hook.id,
            "warden.delivery.id": delivery.id,
            "warden.delivery.attempt": number,
        }
        # In the session's trace (when the event has a session), and its traceparent
        # goes along, so the receiver's work joins the same trace.
        with self._traces.span(_session_of(delivery), "webhook.delivery", attributes):
            code, error = await self._post(hook, delivery, at)
        duration = int((time.monotonic() - started) * 1000)
        if code is not None and 200 <= code < 300:
            status, retry_at = DELIVERED, None
        elif number >= self.config.max_attempts:
            status, retry_at = DEAD, None
        else:
            status = PENDING
            retry_at = utcnow() + timedelta(seconds=backoff(number, self.config))
        attempt = Attempt(number, at, code, error, duration)
        await asyncio.to_thread(
            self._store.record_attempt,
            delivery.id,
            attempt,
            status=status,
            next_attempt_at=retry_at,
        )
        if status == DEAD:
            log.warning("webhook delivery %s to %s is dead: %s", delivery.id, hook.url, error)
        return status

    async def _post(
        self, hook: Webhook, delivery: Delivery, at: datetime
    ) -> tuple[int | None, str | None]:
        sent = headers(hook, delivery.id, at, delivery.payload)
        self._traces.inject(sent)
        try:
            await self._targets.check(hook.url)
            response = await self._client.post(
                hook.url,
                content=delivery.payload.encode(),
                headers=sent,
                timeout=self.config.timeout_seconds,
            )
        except TargetRefusedError as exc:
            return None, exc.message
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:500]
        error = None if response.is_success else f"HTTP {response.status_code}"
        return response.status_code, error


def _session_of(delivery: Delivery) -> str | None:
    try:
        session = json.loads(delivery.payload).get("session")
    except (ValueError, AttributeError):
        return None
    return session if isinstance(session, str) else None


def _delivery(hook: Webhook, event: PublicEvent, now: datetime) -> Delivery:
    payload = json.dumps(event.body(), separators=(",", ":"), ensure_ascii=False)
    return Delivery(
        id=delivery_id(hook.id, event.id),
        webhook_id=hook.id,
        seq=event.id,
        event_type=event.type,
        payload=payload,
        next_attempt_at=now,
        created_at=now,
    )
