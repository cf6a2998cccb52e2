"""The domain packages load no web, HTTP, database or container library (fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys

#: Adapter libraries the domain must never pull in, directly or through another module.
ADAPTER_LIBRARIES = (
    "starlette",
    "fastapi",
    "httpx",
    "uvicorn",
    "sqlalchemy",
    "docker",
    "kubernetes",
    "runner.gateway.server",
    "runner.services",
)

_PROBE = """
import importlib, json, pkgutil, sys
for name in {preload!r}:
    importlib.import_module(name)
for top in ("runner.sessions", "runner.policy", "runner.terminal"):
    package = importlib.import_module(top)
    for info in pkgutil.walk_packages(package.__path__, top + "."):
        importlib.import_module(info.name)
loaded = sorted(m for m in {libraries!r} if m in sys.modules)
print(json.dumps(loaded))
"""


def _loaded(preload: tuple[str, ...] = ()) -> list[str]:
    code = _PROBE.format(preload=preload, libraries=ADAPTER_LIBRARIES)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    loaded: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return loaded


def test_domain_packages_import_no_adapter_library() -> None:
    """Every module of runner.sessions, runner.policy and runner.terminal imports cleanly
    without loading starlette, httpx, uvicorn, SQLAlchemy, docker or the gateway server."""
    assert _loaded() == []


def test_the_probe_sees_an_adapter_that_is_loaded() -> None:
    """The same probe reports the libraries once something loads the gateway server, so the
    check above would fail if a domain module imported it again."""
    loaded = _loaded(preload=("runner.gateway.server",))
    assert {"starlette", "httpx", "uvicorn", "runner.gateway.server"} <= set(loaded)
