"""The dashboard's static files and the headers every one of its responses carries.

The pages, scripts and styles are files in the package (``runner/web``): no build step,
nothing fetched from elsewhere at run time (an air-gapped install works the same). The
terminal emulator is term.js from the ``xstatic-term-js`` wheel.
"""

from __future__ import annotations

from pathlib import Path

from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from xstatic.pkg import termjs

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
TERMJS_DIR = Path(termjs.BASE_DIR)

#: Scripts only from our own files (no inline script, no eval): an injected string can
#: never run as code. Connections only back to this server (the API, SSE, the terminal
#: WebSocket). No framing (clickjacking an Approve button), no plugins, no base tag.
#: Inline style attributes are refused too; term.js's colour spans lose their colour,
#: the text stays.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; media-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


def static_pages() -> StaticFiles:
    return StaticFiles(directory=WEB_DIR, html=True)


def termjs_files() -> StaticFiles:
    return StaticFiles(directory=TERMJS_DIR)


class DashboardHeaders:
    """ASGI middleware: the security headers above on every ``/dashboard`` response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/dashboard"):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in _HEADERS if n not in names]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
