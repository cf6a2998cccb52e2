"""docs/api.md is generated from the app's OpenAPI document and must match it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_api_reference_is_current() -> None:
    """Regenerate with `python scripts/gen_api_docs.py` when this fails."""
    spec = importlib.util.spec_from_file_location(
        "gen_api_docs", ROOT / "scripts" / "gen_api_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (ROOT / "docs" / "api.md").read_text(encoding="utf-8") == module.render()


def test_openapi_describes_errors_with_our_body() -> None:
    """Every 422 in the OpenAPI document points at ErrorResponse, never FastAPI's default."""
    from runner.app import create_app
    from runner.settings import Settings

    spec = create_app(Settings()).openapi()
    assert spec["openapi"].startswith("3.1")
    refs = [
        op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
        for methods in spec["paths"].values()
        for op in methods.values()
        if "422" in op.get("responses", {})
    ]
    assert refs and set(refs) == {"#/components/schemas/ErrorResponse"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]
