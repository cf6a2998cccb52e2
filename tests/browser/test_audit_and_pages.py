"""The audit page, the other pages, themes and widths, in a real Chromium."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import Controller, screenshot


def test_the_audit_page_shows_the_chain_verified_and_a_proof(
    page_for: Any, controller: Controller
) -> None:
    """An auditor sees events, the latest signed checkpoint, 'Chain verified' from a fresh
    export, and an event's inclusion proof."""
    page = page_for("alice")
    page.goto(controller.url + "/dashboard/#/audit")
    expect(page.locator("#verdict")).to_have_attribute("data-ok", "true", timeout=30_000)
    expect(page.locator("#verdict")).to_contain_text("Chain verified")
    expect(page.locator("#audit-events tr").first).to_be_visible()
    page.locator("#audit-events tr button").first.click()
    expect(page.locator("#proof")).to_contain_text("checkpoint")
    screenshot(page, "audit-light")


def test_every_page_renders_in_light_and_dark_at_desktop_and_phone_width(
    page_for: Any, controller: Controller
) -> None:
    """Sessions, a session, audit, policies (with explain), pipelines and tokens render in
    both themes; at phone width the approve button stays on screen."""
    sid = controller.create("[[bash: pytest -q]]")
    for dark in (False, True):
        theme = "dark" if dark else "light"
        page = page_for("root", dark=dark)
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert (background == "rgb(13, 17, 23)") == dark
        for name, hash_ in [
            ("sessions", "#/sessions"), ("audit", "#/audit"), ("policies", "#/policies"),
            ("pipelines", "#/pipelines"), ("tokens", "#/tokens"),
        ]:  # fmt: skip
            page.goto(f"{controller.url}/dashboard/{hash_}")
            expect(page.locator("main h1")).to_be_visible()
            screenshot(page, f"{name}-{theme}")
        page.goto(f"{controller.url}/dashboard/#/policies/default")
        page.fill("#x-input", "npm test")
        page.get_by_role("button", name="Explain").click()
        expect(page.locator("#x-decision")).to_have_text("ask")
        screenshot(page, f"policy-{theme}")
        page.goto(f"{controller.url}/dashboard/#/sessions/{sid}")
        expect(page.locator("#approve")).to_be_visible()
        screenshot(page, f"session-{theme}")
    phone = page_for("alice", width=390, height=844)
    phone.goto(f"{controller.url}/dashboard/#/sessions/{sid}")
    expect(phone.locator("#approve")).to_be_in_viewport()
    screenshot(phone, "session-phone")
    phone.keyboard.press("?")
    expect(phone.locator("#help")).to_be_visible()
