"""The audit page, the other pages, themes and widths, in a real Chromium."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import Controller, run_controller, screenshot
from tests.oidc_provider import OidcProvider


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
        expect(page.get_by_role("navigation", name="Main")).to_be_visible()
        expect(page.get_by_role("banner")).to_be_visible()
        expect(page.get_by_role("main")).to_be_visible()
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
    expect(phone.locator("#terminal")).to_contain_text("Do you want to proceed?")
    # Nothing wider than the phone: the terminal scrolls inside its own box.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone, "session-phone")
    phone.locator("main h1").click()  # the page, not a control, has the focus
    phone.keyboard.press("?")
    expect(phone.locator("#help")).to_be_visible()


def _tampered_copy(controller: Controller, root: Path) -> int:
    """A copy of the controller's data dir whose ledger had one event's bytes changed,
    through SQLite directly with the append-only trigger dropped; returns that seq."""
    data = controller.settings.data_dir
    shutil.copytree(data, root, ignore=shutil.ignore_patterns("warden.db*", "sessions"))
    source, copy = sqlite3.connect(data / "warden.db"), sqlite3.connect(root / "warden.db")
    with source, copy:
        source.backup(copy)  # consistent even while the controller writes
        (seq,) = copy.execute(
            "SELECT min(seq) FROM audit_events WHERE CAST(canonical AS TEXT) LIKE '%alice%'"
        ).fetchone()
        copy.execute("DROP TRIGGER audit_events_no_update")
        copy.execute(
            "UPDATE audit_events SET canonical ="
            " CAST(replace(CAST(canonical AS TEXT), 'alice', 'alicf') AS BLOB) WHERE seq = ?",
            (seq,),
        )
    source.close()
    copy.close()
    return int(seq)


def test_a_tampered_ledger_shows_as_failing_at_its_seq(
    page_for: Any, controller: Controller, provider: OidcProvider, tmp_path: Path
) -> None:
    """After a row of a copy of the database is changed behind the triggers' back, the
    audit page over that copy shows a fresh export failing at that sequence number."""
    controller.create("hello")  # at least one event by alice
    seq = _tampered_copy(controller, tmp_path / "data")
    settings = controller.settings.model_copy(update={"data_dir": tmp_path / "data"})
    with run_controller(settings, provider) as tampered:
        page = page_for("alice", url=tampered.url)
        page.goto(tampered.url + "/dashboard/#/audit")
        verdict = page.locator("#verdict")
        expect(verdict).to_have_attribute("data-ok", "false", timeout=30_000)
        expect(verdict).to_have_attribute("data-first-bad", str(seq))
        expect(verdict).to_contain_text(f"FAILED at seq {seq}")
        screenshot(page, "audit-tampered-light")
        page.context.close()  # its event stream would hold the server open
