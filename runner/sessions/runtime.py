"""The pieces of one running session that live only in the controller process."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from runner.sandbox.statedir import SessionLayout, new_session_token
from runner.sessions.driver import Driver
from runner.sessions.live import LiveSession
from runner.sessions.ports import GatewayHandle

#: Where Claude Code runs inside the sandbox; the transcript directory is named after it.
SANDBOX_WORKDIR = "/workspace"


@dataclass
class Running:
    """A session's live screen, its input driver and its gateway."""

    live: LiveSession
    driver: Driver
    gateway: GatewayHandle
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass(frozen=True)
class SessionPaths(SessionLayout):
    """The per-session host directory (DESIGN.md step 3), with the controller's own files."""

    @property
    def recording(self) -> Path:
        return self.root / "recording.cast"

    def new_recording(self) -> Path:
        """The first free recording file: a re-adopted session records into a new segment."""
        if not self.recording.exists():
            return self.recording
        n = 1
        while (self.root / f"recording.{n}.cast").exists():
            n += 1
        return self.root / f"recording.{n}.cast"

    def recordings(self) -> list[Path]:
        """All recording segments, oldest first."""
        segments = sorted(self.root.glob("recording.*.cast"), key=lambda p: int(p.suffixes[0][1:]))
        return ([self.recording] if self.recording.exists() else []) + segments

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def token_file(self) -> Path:
        # Outside home/, run/ and workspace/: never mounted into the container.
        return self.root / "token"

    def token(self) -> str:
        """The session's gateway token, made once and kept for re-adoption."""
        if self.token_file.is_file():
            return self.token_file.read_text(encoding="utf-8").strip()
        self.root.mkdir(parents=True, exist_ok=True)
        token = new_session_token()
        self.token_file.touch(mode=0o600)
        self.token_file.write_text(token, encoding="utf-8")
        return token
