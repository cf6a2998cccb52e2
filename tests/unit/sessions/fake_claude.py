"""A stand-in for the Claude Code process inside an in-memory sandbox.

It is the far side of the process boundary the unit tests fake: it answers the
controller's ``tmux`` execs (set-buffer, paste-buffer, send-keys) the way the real CLI
does, and paints 80x24 screens copied from the real CLI's recorded fixtures, so the
real classifier reads them. Prompts carry the scripted model's directives:
``[[bash: CMD]]`` opens a Bash permission prompt, ``[[ask: Q | A | B]]`` a question,
``[[hang]]`` works forever without a screen change, anything else is a turn that works
briefly and ends idle. Like the real CLI (through ``warden-hook``), it asks the
session's gateway about each Bash call before it shows the prompt.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass, field

import httpx

from runner.sandbox.backend import ExecResult
from runner.sandbox.memory import ExecCall, MemoryBackend, MemorySandbox

RULE = "─" * 80
_BASH = re.compile(r"\[\[bash:\s*(.*?)\]\]")
_ASK = re.compile(r"\[\[ask:\s*(.*?)\]\]")
_BANNER = [
    "",
    " ▐▛███▛█   Claude Code v2.1.330",
    "▝▜██████▀  Opus 5.5 · API Usage Billing",
    " ▝▝   ▝▝   /workspace",
    "",
]


def _page(lines: list[str]) -> bytes:
    """A full repaint: clear, home, then one row per line (24 rows)."""
    rows = (lines + [""] * 24)[:24]
    return ("\x1b[H\x1b[2J" + "\r\n".join(rows)).encode()


def idle_screen(draft: str = "", *, footer: str = "⏸ manual mode on · ? for shortcuts") -> bytes:
    body = [*_BANNER] + [""] * 13
    return _page([*body, RULE, f"❯ {draft}".rstrip(), RULE, f"  {footer}"])


def working_screen(prompt: str) -> bytes:
    body = [*_BANNER, f"❯ {prompt}", "", "● Working on it"] + [""] * 9
    return _page(
        [
            *body,
            "* Orbiting… (1s · ↓ 5 tokens)",
            RULE,
            "❯",
            RULE,
            "  ⏸ manual mode on · esc to interrupt",
        ]
    )


def bash_prompt_screen(prompt: str, command: str, selected: int) -> bytes:
    options = [
        "Yes",
        "Yes, allow reading from /tmp from this project",
        "Yes, and switch to auto mode · auto mode handles these prompts for you",
        "No",
    ]
    rows = [f" {'❯' if n == selected else ' '} {n}. {label}" for n, label in enumerate(options, 1)]
    return _page(
        [
            *_BANNER,
            f"❯ {prompt}",
            "",
            f"● Running {command}",
            f"  ⎿  $ {command}",
            "",
            RULE,
            " Bash command",
            f" Run {command}",
            "╌" * 80,
            f" {command}",
            "╌" * 80,
            " Do you want to proceed?",
            *rows,
            "",
            " Esc to cancel · Tab to amend",
        ]
    )


def question_screen(prompt: str, question: str, answers: list[str], selected: int) -> bytes:
    rows: list[str] = []
    for n, label in enumerate(answers, 1):
        rows += [f"{'❯' if n == selected else ' '} {n}. {label}", f"     Choose {label}"]
    rows.append(
        f"{'❯' if selected == len(answers) + 1 else ' '} {len(answers) + 1}. Type something."
    )
    return _page(
        [
            *_BANNER[:4],
            f"❯ {prompt}",
            RULE,
            " ☐ Question",
            "",
            question,
            "",
            *rows,
            RULE,
            f"  {len(answers) + 2}. Chat about this",
            "",
            "Enter to select · ↑/↓ to navigate · Esc to cancel",
        ]
    )


@dataclass
class FakeClaude:
    """Plays Claude Code for every sandbox of one ``MemoryBackend``.

    ``ignore_enters``: how many Enter presses on the input box are swallowed (a CLI that
    was not ready); ``accepts_prompts`` False: it never takes a prompt at all.
    """

    backend: MemoryBackend
    turn_seconds: float = 0.05
    ignore_enters: int = 0
    accepts_prompts: bool = True
    prompts: list[str] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)
    _screens: dict[str, tuple[str, dict[str, object]]] = field(default_factory=dict)
    _buffers: dict[str, str] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.backend.program = self.exec
        self.backend.on_start = self.boot
        self.backend.on_resize = lambda sandbox: self.redraw(sandbox.id)

    # -- what the controller sees ------------------------------------------------------

    def boot(self, sandbox: MemorySandbox) -> None:
        self._show(sandbox.id, "idle", draft="")

    def redraw(self, sandbox_id: str) -> None:
        """Paint the current screen again (tmux does so on a resize)."""
        kind, state = self._screens[sandbox_id]
        self._show(sandbox_id, kind, **state)

    def _show(self, sandbox_id: str, kind: str, **state: object) -> None:
        self._screens[sandbox_id] = (kind, state)
        painters = {
            "idle": lambda: idle_screen(str(state.get("draft", ""))),
            "working": lambda: working_screen(str(state["prompt"])),
            "bash": lambda: bash_prompt_screen(
                str(state["prompt"]), str(state["command"]), int(str(state["selected"]))
            ),
            "ask": lambda: question_screen(
                str(state["prompt"]),
                str(state["question"]),
                list(state["answers"]),  # type: ignore[call-overload]
                int(str(state["selected"])),
            ),
        }
        self.backend.write(sandbox_id, painters[kind]())

    # -- what the controller does -------------------------------------------------------

    def exec(self, sandbox: MemorySandbox, call: ExecCall) -> ExecResult:
        argv = list(call.argv)
        if argv[:2] == ["tmux", "set-buffer"]:
            self._buffers[sandbox.id] = argv[-1]
        elif argv[:2] == ["tmux", "paste-buffer"]:
            kind, state = self._screens[sandbox.id]
            if kind == "idle":
                draft = str(state.get("draft", "")) + self._buffers.pop(sandbox.id, "")
                self._show(sandbox.id, "idle", draft=draft)
        elif argv[:2] == ["tmux", "send-keys"]:
            for key in argv[4:]:
                self._key(sandbox.id, key)
        return ExecResult(0, "", "")

    def _key(self, sandbox_id: str, key: str) -> None:
        kind, state = self._screens[sandbox_id]
        if kind == "idle" and key == "Enter":
            self._submit(sandbox_id, str(state.get("draft", "")))
        elif kind in ("bash", "ask") and key in ("Up", "Down"):
            last = 4 if kind == "bash" else len(state["answers"]) + 1  # type: ignore[arg-type]
            step = 1 if key == "Down" else -1
            selected = min(max(int(str(state["selected"])) + step, 1), last)
            self._show(sandbox_id, kind, **{**state, "selected": selected})
        elif kind == "bash" and key == "Enter":
            if int(str(state["selected"])) != 4:
                self.ran.append(str(state["command"]))
            self._finish_turn(sandbox_id, str(state["prompt"]))
        elif kind == "ask" and key == "Enter":
            self._finish_turn(sandbox_id, str(state["prompt"]))
        elif key == "Escape" and kind != "idle":
            self._show(sandbox_id, "idle", draft="")

    def _submit(self, sandbox_id: str, prompt: str) -> None:
        if not prompt or not self.accepts_prompts:
            return
        if self.ignore_enters > 0:
            self.ignore_enters -= 1
            return
        self.prompts.append(prompt)
        self._show(sandbox_id, "working", prompt=prompt)
        bash, ask = _BASH.search(prompt), _ASK.search(prompt)
        if "[[hang]]" in prompt:
            return  # works forever, with no screen change
        if bash is not None:
            command = bash.group(1).strip()
            self._later(
                sandbox_id, "bash", prompt=prompt, command=command, selected=1, hook=command
            )
        elif ask is not None:
            question, *answers = (p.strip() for p in ask.group(1).split("|"))
            self._later(
                sandbox_id, "ask", prompt=prompt, question=question, answers=answers, selected=1
            )
        else:
            self._finish_turn(sandbox_id, prompt)

    def _finish_turn(self, sandbox_id: str, prompt: str) -> None:
        self._show(sandbox_id, "working", prompt=prompt)
        self._later(sandbox_id, "idle", draft="")

    def _later(self, sandbox_id: str, kind: str, hook: str | None = None, **state: object) -> None:
        async def paint() -> None:
            await asyncio.sleep(self.turn_seconds)
            if hook is not None:
                await self._ask_hook(sandbox_id, hook)
            if sandbox_id in self.backend.sandboxes:
                self._show(sandbox_id, kind, **state)

        task = asyncio.get_running_loop().create_task(paint())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _ask_hook(self, sandbox_id: str, command: str) -> None:
        """POST the PreToolUse call to the session's gateway, as warden-hook does."""
        sandbox = self.backend.sandboxes.get(sandbox_id)
        if sandbox is None:
            return
        # Through the directory's descriptor: test paths outgrow sun_path (108 bytes).
        run = os.open(sandbox.spec.run_dir, os.O_PATH)
        try:
            transport = httpx.AsyncHTTPTransport(uds=f"/proc/self/fd/{run}/gateway.sock")
            async with httpx.AsyncClient(transport=transport, base_url="http://warden") as c:
                await self._post(c, sandbox, command)
        finally:
            os.close(run)

    @staticmethod
    async def _post(client: httpx.AsyncClient, sandbox: MemorySandbox, command: str) -> None:
        await client.post(
            "/v1/hooks/pre-tool-use",
            headers={"x-api-key": sandbox.spec.token},
            json={
                "hook_event_name": "PreToolUse",
                "tool_name": "Bash",
                "tool_input": {"command": command},
                "cwd": "/workspace",
            },
        )
