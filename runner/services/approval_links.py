"""Acting on a remote approval link: who follows it, for which prompt, audited each time.

The link proves where it came from and what it is for (``runner.events.links``); this
adds the person: they must be logged in, see the session (same tenant), hold an
approver role of the session's policy, and the prompt on screen must still be the one
the link was made for. Every use and every refusal is in the ledger with their identity.
"""

from __future__ import annotations

import asyncio

from runner.core import Actor, EventSink, SessionState
from runner.errors import WardenError
from runner.events.links import ApprovalLink, ApprovalLinks, prompt_hash
from runner.sessions.manager import SessionManager
from runner.sessions.model import SessionRecord


class LinkDesk:
    def __init__(self, links: ApprovalLinks, manager: SessionManager, events: EventSink) -> None:
        self.links = links
        self._manager = manager
        self._events = events

    async def describe(self, token: str, actor: Actor) -> tuple[ApprovalLink, SessionRecord]:
        """What the link would do (nothing is done: a link preview must not approve)."""
        link = await asyncio.to_thread(self.links.resolve, token)
        return link, await self._manager.get(link.session_id, actor)

    async def use(self, token: str, actor: Actor) -> tuple[ApprovalLink, int | None]:
        """Carry out the link's decision once, as ``actor``.

        Raises:
            NotFoundError: not a valid link, or the session is not the actor's to see.
            AuthorizationError: not an approver of the session's policy.
            ConflictError: used, expired, or the prompt changed.
        """
        link = await asyncio.to_thread(self.links.resolve, token)
        session = link.session_id
        try:
            await self._manager.check_approver(session, actor)
            record = await self._manager.get(session, actor)
            current = record.details if record.state == SessionState.PERMISSION_PROMPT else None
            link = await asyncio.to_thread(self.links.redeem, token, actor.subject, current)
        except WardenError as exc:
            await self._audit("approval_link.refused", actor, link, reason=exc.message)
            raise
        await self._audit("approval_link.used", actor, link)

        def same_prompt(details: object) -> bool:
            return isinstance(details, dict) and prompt_hash(details) == link.prompt_hash

        if link.decision == "approve":
            return link, await self._manager.approve(session, actor, expect=same_prompt)
        return link, await self._manager.reject(session, actor, expect=same_prompt)

    async def _audit(
        self, kind: str, actor: Actor, link: ApprovalLink, reason: str | None = None
    ) -> None:
        data = {"link": link.id, "decision": link.decision, "reason": reason}
        await self._events.emit(kind, actor=actor, session=link.session_id, data=data)
