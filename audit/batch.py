"""One group-commit batch: the tickets the writer took from the queue, and their answers.

A batch is placed as its distinct events (a producer's retry may queue the same event id
twice), in queue order. Once the store answers, every ticket gets its record, or the
error when the id turned out to hold another event, or the batch's error when nothing
was recorded: the producers must then refuse the action they wanted to record.
"""

from __future__ import annotations

import time

from audit.chain import Record, leaf_hash
from audit.errors import InvalidEventError, LedgerUnavailableError
from audit.stores.base import Pending
from audit.ticket import Ticket, notify


class Batch:
    """Tickets taken together, the distinct events they place, and when placing began."""

    __slots__ = ("began", "pendings", "tickets")

    def __init__(self, tickets: list[Ticket]) -> None:
        self.tickets = tickets
        unique: dict[str, Pending] = {}
        for ticket in tickets:
            unique.setdefault(ticket.pending.event.id, ticket.pending)
        #: The distinct events, in queue order: what the store is asked to place.
        self.pendings = list(unique.values())
        self.began = time.perf_counter()

    def answer(self, records: list[Record]) -> None:
        """Deliver the stored records (aligned with ``pendings``) to every ticket."""
        by_id = {
            pending.event.id: record for pending, record in zip(self.pendings, records, strict=True)
        }
        for ticket in self.tickets:
            record = by_id[ticket.pending.event.id]
            if record.leaf_hash != leaf_hash(ticket.pending.canonical):
                ticket.fail(
                    InvalidEventError(
                        f"event id {ticket.pending.event.id} was used for another event"
                    )
                )
            else:
                ticket.resolve(record)
        notify(self.tickets)

    def fail(self, exc: BaseException) -> None:
        """Tell every ticket that its event was not recorded (fail closed)."""
        error = LedgerUnavailableError(f"the audit ledger could not record the event: {exc}")
        error.__cause__ = exc
        for ticket in self.tickets:
            ticket.fail(error)
        notify(self.tickets)
