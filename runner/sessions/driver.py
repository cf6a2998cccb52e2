"""Typing into a session: tmux inside the container, reached through exec.

Delivery is verified: after Enter the state must leave ``idle`` or the text must show
up; Enter is retried only while the session is still idle with the text in its input
box, so a prompt is never submitted twice.
"""

from __future__ import annotations

from collections.abc import Callable

from runner.core import SessionState
from runner.errors import ConflictError, SandboxError
from runner.sandbox.backend import SandboxBackend
from runner.sessions.live import LiveSession, Observed
from runner.terminal.keys import Key, send_keys_argv

TMUX_TARGET = "main"
_SUBMIT_ATTEMPTS = 3


class Driver:
    """Sends text and keys to one session and checks they landed."""

    def __init__(
        self,
        backend: SandboxBackend,
        live: LiveSession,
        *,
        submit_seconds: float = 15.0,
        on_retry: Callable[[], None] | None = None,
    ) -> None:
        self._backend = backend
        self._live = live
        self._submit_seconds = submit_seconds
        #: Told each time Enter is pressed again (the metrics count it).
        self._on_retry = on_retry

    async def keys(self, *names: Key) -> None:
        """Press keys (``Key.ENTER``, ``Key.ESCAPE``, ``Key.DOWN`` …)."""
        await self._run(send_keys_argv(TMUX_TARGET, *names))

    async def paste(self, text: str) -> None:
        """Put ``text`` into the input as one bracketed paste (newlines do not submit)."""
        await self._run(["tmux", "set-buffer", "-b", "warden", "--", text])
        await self._run(["tmux", "paste-buffer", "-p", "-d", "-b", "warden", "-t", TMUX_TARGET])

    async def submit(self, text: str) -> None:
        """Type ``text`` and press Enter, verifying the agent took it within the time given.

        Raises:
            ConflictError: the prompt could not be delivered (the session never left idle).
        """
        probe = _probe(text)
        await self.paste(text)
        await self._live.wait_for(lambda _o, pane: probe in pane, seconds=3.0)
        for attempt in range(_SUBMIT_ATTEMPTS):
            if attempt and self._on_retry is not None:
                self._on_retry()
            await self.keys(Key.ENTER)
            if await self._live.wait_for(_left_idle, self._submit_seconds / _SUBMIT_ATTEMPTS):
                return
            draft = str(self._live.observed.details.get("draft") or "")
            if self._live.observed.state != SessionState.IDLE or probe not in draft:
                return  # it moved on, or the text left the input box: it was taken
        raise ConflictError(
            "the prompt was typed but the agent did not take it",
            details={"state": self._live.observed.state},
        )

    async def _run(self, argv: list[str]) -> None:
        result = await self._backend.exec(self._live.container_id, argv)
        if result.exit_code != 0:
            raise SandboxError(
                f"tmux {argv[1]} failed in the sandbox",
                details={"exitCode": result.exit_code, "output": result.output[-500:]},
            )


def _left_idle(observed: Observed, _pane: str) -> bool:
    return observed.state not in (SessionState.IDLE, SessionState.STARTING)


def _probe(text: str) -> str:
    """A short piece of the text that will be visible in the input box once typed."""
    first = next((line for line in text.splitlines() if line.strip()), text)
    return first.strip()[:40]
