"""The sessions list and a session's page, in a real Chromium, logged in through OIDC."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import Controller, screenshot


def _terminal_text(page: Any) -> list[str]:
    rows = page.locator("#terminal .terminal > div").all_inner_texts()
    return [row.replace("\u00a0", " ").rstrip() for row in rows]


def test_a_person_watches_a_prompt_open_and_approves_it(
    page_for: Any, controller: Controller
) -> None:
    """Login via the OIDC provider; the list goes working → permission_prompt live; the
    session page shows the command and the policy rule; Approve brings it back to idle."""
    page = page_for("alice")
    expect(page.locator("#sessions")).to_be_visible()
    sid = controller.create("[[bash: npm test]]")
    row = page.locator(f"tr[data-session='{sid}']")
    expect(row.locator("[data-state='working']")).to_be_visible()
    expect(row.locator("[data-state='permission_prompt']")).to_be_visible()
    listed = controller.api("alice", "GET", "/v1/sessions").json()["sessions"]
    waiting = [s for s in listed if s["state"] in ("permission_prompt", "asking")]
    expect(page.locator("#waiting")).to_have_text(str(len(waiting)))
    screenshot(page, "sessions-light")
    row.get_by_role("link").click()
    expect(page.locator("#prompt-target")).to_have_text("npm test")
    expect(page.locator("#policy-rule")).to_have_text("tools.ask[0]")
    pane = controller.api("alice", "GET", f"/v1/sessions/{sid}/pane").json()["text"]
    want = [line.rstrip() for line in pane.split("\n")]
    page.wait_for_function("document.querySelector('#terminal').dataset.frames > 0")
    expect(page.locator("#terminal")).to_contain_text("Do you want to proceed?")
    assert _terminal_text(page)[: len(want)] == want
    screenshot(page, "session-prompt-light")
    page.get_by_role("button", name=re.compile("Approve")).click()
    expect(page.locator("#session-head [data-state='idle']")).to_be_visible()
    expect(page.locator("#prompt")).to_be_hidden()


def test_an_operator_types_answers_plays_back_and_kills(
    page_for: Any, controller: Controller
) -> None:
    """An operator's prompt goes in through the terminal WebSocket; a question is answered
    with its option button; the recording plays back; Kill ends the session."""
    sid = controller.create("hello")
    page = page_for("alice")
    page.goto(f"{controller.url}/dashboard/#/sessions/{sid}")
    expect(page.locator("#session-head [data-state='idle']")).to_be_visible()
    page.fill("#send-text", "[[ask: Which colour? | Red | Blue]]")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#question")).to_have_text("Which colour?")
    expect(page.locator("#terminal")).to_contain_text("Which colour?")
    page.get_by_role("button", name="2. Blue").click()
    expect(page.locator("#session-head [data-state='idle']")).to_be_visible()
    page.get_by_role("button", name="Play recording").click()
    expect(page.locator("#recording")).to_contain_text("Which colour?", timeout=20_000)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Kill").click()
    expect(page.locator("#session-head [data-state='exited']")).to_be_visible()
    expect(page.locator("#artifacts a", has_text="recording")).to_be_visible(timeout=15_000)
    assert controller.api("alice", "GET", f"/v1/sessions/{sid}").json()["state"] == "exited"
