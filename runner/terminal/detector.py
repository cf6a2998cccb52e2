"""A screen plus its classification, re-classified only when the visible text changes."""

from __future__ import annotations

from runner.terminal.classifier import classify
from runner.terminal.screen import TerminalScreen
from runner.terminal.states import ScreenState, State


class Detector:
    """Feed terminal bytes; read the state the screen shows."""

    def __init__(self, columns: int = 120, rows: int = 40) -> None:
        self.screen = TerminalScreen(columns, rows)
        self._state = ScreenState(State.STARTING)
        self._classified_version = -1
        self.classifications = 0

    def feed(self, data: bytes) -> ScreenState:
        """Feed raw output and return the current state (classified only if the text changed)."""
        self.screen.feed(data)
        return self.state

    def resize(self, columns: int, rows: int) -> ScreenState:
        """Resize the screen (the CLI will redraw) and return the current state."""
        self.screen.resize(columns, rows)
        return self.state

    @property
    def state(self) -> ScreenState:
        version = self.screen.version
        if version != self._classified_version:
            self._state = classify(self.screen.lines())
            self.classifications += 1
            self._classified_version = version
        return self._state
