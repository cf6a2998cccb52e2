"""Servers on loopback for the egress tests: HTTPS with a CA made now (``tests.tls``), a
package index, a recorder of request headers. Everything is generated at test time;
nothing is fetched."""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.tls import make_ca_and_cert, server_context

__all__ = ["make_ca_and_cert", "make_index", "make_wheel", "serve"]


@dataclass
class Served:
    port: int
    headers: list[dict[str, str]] = field(default_factory=list)


def make_wheel(directory: Path, name: str = "wardentiny", version: str = "1.0") -> Path:
    """A tiny pure-Python wheel (one module), built by hand: no build tool needed."""
    dist = f"{name}-{version}"
    files = {
        f"{name}.py": b"GREETING = 'installed through the warden proxy'\n",
        f"{dist}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n").encode(),
        f"{dist}.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: warden-tests\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"),
    }  # fmt: skip
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}.dist-info/RECORD,,")
    wheel = directory / f"{dist}-py3-none-any.whl"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
        archive.writestr(f"{dist}.dist-info/RECORD", "\n".join(record) + "\n")
    wheel.write_bytes(buffer.getvalue())
    return wheel


def make_index(root: Path, wheel: Path, project: str = "wardentiny") -> Path:
    """A PEP 503 simple index in ``root`` serving ``wheel``."""
    pkg = root / "simple" / project
    pkg.mkdir(parents=True)
    (pkg / wheel.name).write_bytes(wheel.read_bytes())
    (pkg / "index.html").write_text(f'<html><body><a href="{wheel.name}">{wheel.name}</a></body>')
    (root / "simple" / "index.html").write_text(f'<a href="{project}/">{project}</a>')
    return root


@contextmanager
def serve(
    directory: Path, *, tls: tuple[Path, Path] | None = None, host: str = "127.0.0.1"
) -> Iterator[Served]:
    """A static file server on ``host`` (a loopback address; HTTPS with ``tls``), recording
    each request's headers."""
    served = Served(0)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(directory), **kwargs)  # type: ignore[arg-type]

        def do_GET(self) -> None:
            served.headers.append(dict(self.headers.items()))
            super().do_GET()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer((host, 0), Handler)
    if tls is not None:
        server.socket = server_context(*tls).wrap_socket(server.socket, server_side=True)
    served.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
