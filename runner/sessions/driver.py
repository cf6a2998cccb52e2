"""Typing into a session: tmux inside the container, reached through exec.

Delivery never presses a key it did not mean to press. Text is text (control bytes are
refused before anything is sent); it goes into an empty input box as one bracketed
paste; Enter is pressed only while the screen is the idle input box holding exactly
that text, and pressed again only while that is still so. A paste that went wrong (the
text was read as keys, a dialog opened meanwhile) is therefore never submitted, and
an Enter can never answer a permission prompt.

With replicas, every command into the sandbox first asks whether this replica's tenure
of the session (the lease it held when the driver was made) still lasts (``may_act``):
an action that began while it did (its audit write then hung on an unreachable
database, say) must not type once another replica may have taken the session over, or
the session would get its input twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from runner.core import SessionState
from runner.errors import ConflictError, SandboxError
from runner.sandbox.backend import SandboxBackend
from runner.sessions.input_text import check_text
from runner.sessions.live import LiveSession, Observed
from runner.sessions.ownership import FencedError
from runner.terminal.keys import Key, send_keys_argv

TMUX_TARGET = "main"
_SUBMIT_ATTEMPTS = 3
_TYPED_SECONDS = 5.0
#: How long a taken input waits for the state to catch up with the screen (it settles).
_STEADY_SECONDS = 2.0
#: How Claude Code shows a long paste in its input box instead of the text itself.
_PASTED = re.compile(r"\[Pasted text #\d+(?: \+(\d+) lines)?\]")


class Driver:
    """Sends text and keys to one session and checks they landed."""

    def __init__(
        self,
        backend: SandboxBackend,
        live: LiveSession,
        *,
        submit_seconds: float = 15.0,
        on_retry: Callable[[], None] | None = None,
        may_act: Callable[[], bool] | None = None,
    ) -> None:
        self._backend = backend
        #: Whether this controller may still type into the session (its tenure); None: alone.
        self._may_act = may_act
        self._live = live
        self._submit_seconds = submit_seconds
        #: Told each time Enter is pressed again (the metrics count it).
        self._on_retry = on_retry

    async def keys(self, *names: Key) -> None:
        """Press keys (``Key.ENTER``, ``Key.ESCAPE``, ``Key.DOWN`` …)."""
        await self._run(send_keys_argv(TMUX_TARGET, *names))

    async def shift_tab(self) -> None:
        """Press Shift+Tab (Claude Code cycles its permission mode): the mode pin's key."""
        await self._run(["tmux", "send-keys", "-t", TMUX_TARGET, "BTab"])

    async def kill(self) -> None:
        """End Claude Code and its terminal: the session exits."""
        # tmux may die before it answers; the screen's [exited] is what counts.
        await self._backend.exec(self._live.container_id, ["tmux", "kill-server"])

    async def paste(self, text: str) -> None:
        """Put ``text`` into the input as one bracketed paste (newlines do not submit).

        Raises:
            InvalidInputError: the text holds control characters (they would be keys).
        """
        check_text(text)
        await self._run(["tmux", "set-buffer", "-b", "warden", "--", text])
        await self._run(["tmux", "paste-buffer", "-p", "-d", "-b", "warden", "-t", TMUX_TARGET])

    async def submit(self, text: str) -> None:
        """Type ``text`` and press Enter, verifying the agent took it within the time given.

        Raises:
            InvalidInputError: the text holds control characters.
            ConflictError: the input box was not empty, did not show exactly the text
                (nothing was submitted), or the agent never took it.
        """
        check_text(text)
        observed = self._live.screen_now
        if observed.state == SessionState.IDLE and str(observed.details.get("draft") or ""):
            raise ConflictError(
                "the input box already holds a draft; nothing was typed (clear it first)",
                details={"draft": str(observed.details.get("draft"))[:200]},
            )
        await self.paste(text)
        if not await self._live.wait_for(
            lambda _o, _p: holds(self._live.screen_now, text), seconds=_TYPED_SECONDS
        ):
            raise ConflictError(
                "the text was typed but the input box does not show exactly it; Enter was"
                " not pressed, nothing was submitted",
                details={
                    "state": self._live.screen_now.state,
                    "draft": str(self._live.screen_now.details.get("draft") or "")[:200],
                },
            )
        for attempt in range(_SUBMIT_ATTEMPTS):
            if not holds(self._live.screen_now, text):
                # It moved on, or the text left the input box: it was taken. Return once
                # the state says so too, so a caller reading the state right after never
                # sees the idle box this input has left.
                await self._live.steady(_STEADY_SECONDS)
                return
            if attempt and self._on_retry is not None:
                self._on_retry()
            await self.keys(Key.ENTER)
            if await self._live.wait_for(
                lambda _o, _p: _left_idle(self._live.screen_now),
                self._submit_seconds / _SUBMIT_ATTEMPTS,
            ):
                await self._live.steady(_STEADY_SECONDS)
                return
        raise ConflictError(
            "the prompt was typed but the agent did not take it",
            details={"state": self._live.screen_now.state},
        )

    async def _run(self, argv: list[str]) -> None:
        # Checked before each command, not once per action: the lease can lapse between
        # the paste and the Enter, and an Enter from a replica that lost it is input twice.
        if self._may_act is not None and not self._may_act():
            raise FencedError(
                "this replica no longer holds the session's lease; nothing more was typed"
            )
        result = await self._backend.exec(self._live.container_id, argv)
        if result.exit_code != 0:
            raise SandboxError(
                f"tmux {argv[1]} failed in the sandbox",
                details={"exitCode": result.exit_code, "output": result.output[-500:]},
            )


def _left_idle(observed: Observed) -> bool:
    return observed.state not in (SessionState.IDLE, SessionState.STARTING)


def holds(observed: Observed, text: str) -> bool:
    """Whether the screen is the idle input box holding exactly ``text``.

    The box wraps long lines and indents continuation rows, so whitespace is not
    compared; every other character is. A long paste shows as ``[Pasted text #N +K
    lines]``: that counts when it is the whole draft and K matches the text.
    """
    if observed.state != SessionState.IDLE:
        return False
    draft = str(observed.details.get("draft") or "")
    pasted = _PASTED.fullmatch(draft.strip())
    if pasted is not None:
        lines = pasted.group(1)
        return lines is None or int(lines) in (text.count("\n"), text.count("\n") + 1)
    return "".join(draft.split()) == "".join(text.split()) != ""
