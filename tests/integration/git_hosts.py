"""Git hosts on loopback for the workspace tests: ``git daemon``, and smart HTTP with a token.

Both are real git servers at the process boundary: the daemon is git's own, and the HTTP
host runs git's own ``http-backend`` (CGI) behind a tiny server that demands a token and
records the ``Authorization`` headers it saw.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.integration.server import free_port

_GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


def git(*args: str, cwd: Path | None = None) -> str:
    env = {**os.environ, **_GIT_ENV, "HOME": str(cwd or Path.cwd())}
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def make_repo(path: Path) -> dict[str, str]:
    """A repository with two commits: tag ``v1`` has VERSION=1, ``main`` has VERSION=2."""
    path.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=path)
    (path / "VERSION").write_text("1\n")
    git("add", "VERSION", cwd=path)
    git("commit", "-q", "-m", "one", cwd=path)
    git("tag", "v1", cwd=path)
    first = git("rev-parse", "HEAD", cwd=path).strip()
    (path / "VERSION").write_text("2\n")
    (path / "later.txt").write_text("added in main\n")
    git("add", "-A", cwd=path)
    git("commit", "-q", "-m", "two", cwd=path)
    return {"v1": first, "main": git("rev-parse", "HEAD", cwd=path).strip()}


def bare(src: Path, dest: Path) -> Path:
    git("clone", "-q", "--bare", str(src), str(dest))
    return dest


def _wait_port(port: int, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError("the git host exited")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


class GitDaemon:
    """``git daemon`` serving every repository under ``base`` at git://127.0.0.1:PORT/."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                "git", "daemon", "--reuseaddr", "--export-all", f"--base-path={base}",
                "--listen=127.0.0.1", f"--port={self.port}", str(base),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_port(self.port, self.process)

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


class TokenGitHost:
    """Smart HTTP (``git http-backend``) on loopback that serves only with its token."""

    def __init__(self, base: Path, token: str) -> None:
        self.base = base
        self.expected = "Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()
        self.seen: list[str | None] = []
        host = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                return

            def do_GET(self) -> None:
                host.serve(self, b"")

            def do_POST(self) -> None:
                host.serve(self, self.rfile.read(int(self.headers.get("Content-Length", 0))))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        _wait_port(self.port)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def serve(self, request: BaseHTTPRequestHandler, body: bytes) -> None:
        auth = request.headers.get("Authorization")
        self.seen.append(auth)
        if auth != self.expected:
            request.send_response(401)
            request.send_header("WWW-Authenticate", 'Basic realm="git"')
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        path, _, query = request.path.partition("?")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.base),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": request.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": request.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "GIT_PROTOCOL": request.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": request.headers.get("Content-Encoding", ""),
            "REMOTE_ADDR": "127.0.0.1",
        }
        out = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
        ).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.split(b"\r\n"):
            name, _, value = line.decode().partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        request.send_response(status)
        for name, value in headers:
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
