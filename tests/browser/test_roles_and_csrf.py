"""What a viewer is shown and what forged requests get, in a real Chromium."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import Controller, screenshot


def _prompt_open(page: Any, controller: Controller) -> str:
    sid = controller.create("[[bash: make build]]")
    page.goto(f"{controller.url}/dashboard/#/sessions/{sid}")
    expect(page.locator("#prompt-target")).to_have_text("make build")
    return sid


def test_a_viewer_sees_no_approve_button_and_cannot_forge_one(
    page_for: Any, controller: Controller
) -> None:
    """A viewer gets no Approve/Reject/Send; an approve posted with a cookie but without
    the session's CSRF token, or with another browser session's token, is refused as
    CSRF (even for an approver's cookie) and nothing is pressed."""
    viewer = page_for("victor")
    sid = _prompt_open(viewer, controller)
    expect(viewer.locator("#policy-rule")).to_have_text("tools.ask[0]")
    expect(viewer.locator("#approve")).to_have_count(0)
    expect(viewer.locator("#reject")).to_have_count(0)
    expect(viewer.locator("#send")).to_have_count(0)
    expect(viewer.get_by_role("link", name="Tokens")).to_be_hidden()
    screenshot(viewer, "session-viewer-light")

    approver = page_for("alice")
    approver.goto(f"{controller.url}/dashboard/#/sessions/{sid}")
    expect(approver.locator("#approve")).to_be_visible()
    alice_csrf = approver.evaluate("W.me.csrf")
    url = f"{controller.url}/v1/sessions/{sid}/approve"

    bare = approver.request.post(url)  # alice's cookie, no CSRF header
    assert bare.status == 403 and bare.json()["error"]["details"]["reason"] == "csrf"
    borrowed = viewer.request.post(url, headers={"X-CSRF-Token": alice_csrf})
    assert borrowed.status == 403 and borrowed.json()["error"]["details"]["reason"] == "csrf"
    wrong = approver.request.post(url, headers={"X-CSRF-Token": viewer.evaluate("W.me.csrf")})
    assert wrong.status == 403 and wrong.json()["error"]["details"]["reason"] == "csrf"
    own = viewer.request.post(url, headers={"X-CSRF-Token": viewer.evaluate("W.me.csrf")})
    assert own.status == 403 and own.json()["error"]["details"]["reason"] == "missing_role"
    state = controller.api("alice", "GET", f"/v1/sessions/{sid}").json()["state"]
    assert state == "permission_prompt"


def test_pages_carry_a_strict_csp_and_cookies_are_httponly(
    page_for: Any, controller: Controller
) -> None:
    """Every dashboard response has a CSP without inline scripts; the session cookie is
    HttpOnly and SameSite, so page scripts cannot read it."""
    page = page_for("alice")
    response = page.request.get(controller.url + "/dashboard/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "warden_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert "warden_session" not in page.evaluate("document.cookie")
