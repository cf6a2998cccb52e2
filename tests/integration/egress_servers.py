"""Servers on loopback for the egress tests: HTTPS with a CA made now, a package index, a
recorder of request headers. Everything is generated at test time; nothing is fetched."""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.server
import io
import ipaddress
import ssl
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Served:
    port: int
    headers: list[dict[str, str]] = field(default_factory=list)


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def make_ca_and_cert(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it: (ca.pem, cert.pem, key.pem)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(_name("warden test CA")).issuer_name(
            _name("warden test CA")).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(_name("127.0.0.1")).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    paths = (directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption())
    )  # fmt: skip
    return paths


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
def serve(directory: Path, *, tls: tuple[Path, Path] | None = None) -> Iterator[Served]:
    """A static file server on 127.0.0.1 (HTTPS with ``tls``), recording each request's headers."""
    served = Served(0)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(directory), **kwargs)  # type: ignore[arg-type]

        def do_GET(self) -> None:
            served.headers.append(dict(self.headers.items()))
            super().do_GET()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
    served.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
