"""One controller, one OIDC provider and one headless Chromium for every browser test.

The controller is the real app (``build_services`` over SQLite, uvicorn on loopback) with
the in-memory sandbox backend and the unit tests' stand-in for Claude Code
(``tests/unit/sessions/fake_claude.py``): the dashboard is what these tests drive, not
Docker. Chromium is Debian's (``scripts/setup --test``), driven by Playwright; starting
it once for the whole run keeps the suite fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from runner.app import create_app
from runner.auth.config import IssuerConfig
from runner.sandbox.memory import MemoryBackend
from runner.services import Services, build_services
from runner.settings import Settings
from tests.mounts import unmount_under
from tests.oidc_provider import OidcProvider
from tests.unit.sessions.fake_claude import FakeClaude

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("WARDEN_BROWSER_ARTIFACTS", "tests/browser/artifacts"))
USERS = {
    "alice": {"roles": ["operator", "approver", "auditor"]},
    "victor": {"roles": ["viewer"]},
    "root": {"roles": ["admin"]},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Controller:
    url: str
    provider: OidcProvider
    services: Services
    loop: asyncio.AbstractEventLoop
    work: Path
    settings: Settings

    def token(self, user: str) -> str:
        return self.provider.mint({"sub": user, "aud": "warden", **USERS[user]})

    def api(self, user: str, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token(user)}"}
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **kw)

    def create(self, prompt: str) -> str:
        # Each session its own directory: an idle session of the same one would be reused.
        work = self.work.parent / f"work-{uuid.uuid4().hex[:8]}"
        work.mkdir()
        body = {"workDir": str(work), "prompt": prompt}
        response = self.api("alice", "POST", "/v1/sessions", json=body)
        assert response.status_code == 201, response.text
        session_id: str = response.json()["id"]
        return session_id


def _serve(settings: Settings, port: int, ready: threading.Event, box: dict[str, Any]) -> None:
    async def main() -> None:
        backend = MemoryBackend()
        # Long enough turns that a person sees "working" before the prompt opens.
        FakeClaude(backend, turn_seconds=1.5)
        services = await build_services(settings, backend=backend)
        app = create_app(settings, services=services)
        server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2
            )
        )
        box.update(services=services, loop=asyncio.get_running_loop(), server=server)
        serving = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no event for it)
            await asyncio.sleep(0.02)
        ready.set()
        await serving

    asyncio.run(main())


@contextlib.contextmanager
def run_controller(settings: Settings, provider: OidcProvider) -> Iterator[Controller]:
    """A controller over ``settings`` in its own thread, stopped on exit."""
    port, ready, box = _free_port(), threading.Event(), {}
    thread = threading.Thread(target=_serve, args=(settings, port, ready, box), daemon=True)
    thread.start()
    assert ready.wait(60), "the controller did not start"
    work = settings.workspace_roots[0] / "work"
    try:
        yield Controller(
            f"http://127.0.0.1:{port}", provider, box["services"], box["loop"], work, settings
        )
    finally:
        box["server"].should_exit = True
        thread.join(30)
        unmount_under(settings.data_dir)  # quota volumes of sessions left running


@pytest.fixture(scope="package")
def provider() -> Iterator[OidcProvider]:
    provider = OidcProvider().start()
    provider.users = {name: dict(claims) for name, claims in USERS.items()}
    yield provider
    provider.stop()


@pytest.fixture(scope="package")
def controller(
    tmp_path_factory: pytest.TempPathFactory, provider: OidcProvider
) -> Iterator[Controller]:
    root = tmp_path_factory.mktemp("dashboard")
    (root / "work").mkdir()
    issuer = IssuerConfig(
        issuer=provider.issuer,
        audience="warden",
        role_map={r: [r] for r in ("viewer", "operator", "approver", "auditor", "admin")},
        client_id=provider.client_id,
        label="Test IdP",
    )
    # Built from these values only: the integration fixtures set WARDEN_* variables for
    # their servers in this same process.
    with pytest.MonkeyPatch.context() as env:
        for name in [n for n in os.environ if n.startswith("WARDEN_")]:
            if not name.startswith("WARDEN_TEST_"):
                env.delenv(name)
        settings = Settings(
            data_dir=root / "data", workspace_roots=[root], auth_issuers=[issuer],
            terminal_cols=80, terminal_rows=24, stall_seconds=3600,
        )  # fmt: skip
    with run_controller(settings, provider) as running:
        yield running


# Package scope, not session: Playwright's sync API keeps an event loop running in this
# thread while it is up, which would break every later test that calls asyncio.run.
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is missing: run scripts/setup --test")
        pytest.skip("chromium is not installed (scripts/setup --test)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page_for(browser: Any, controller: Controller) -> Iterator[Any]:
    """``page_for(user, dark=False, width=1280)``: a fresh browser context logged in via OIDC."""
    contexts: list[Any] = []

    def login(
        user: str, *, dark: bool = False, width: int = 1280, height: int = 800, url: str = ""
    ) -> Any:
        context = browser.new_context(
            viewport={"width": width, "height": height},
            color_scheme="dark" if dark else "light",
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto((url or controller.url) + "/dashboard/")
        page.get_by_role("link", name="Log in with Test IdP").click()
        page.get_by_role("button", name=f"Sign in as {user}").click()
        page.wait_for_selector("#who:has-text('" + user + "')")
        return page

    yield login
    for context in contexts:
        context.close()


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
