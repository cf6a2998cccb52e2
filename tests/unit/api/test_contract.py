"""The OpenAPI document states the code's rules: errors, bounds, exactly-one bodies."""

from __future__ import annotations

from typing import Any, get_args

import pytest
from pydantic import ValidationError

from runner.api.schemas import Answer, CreateSession
from runner.api.security import PUBLIC_PATHS
from runner.api.tokens import Role
from runner.app import create_app
from runner.auth.roles import GRANTABLE_ROLES
from runner.settings import Settings


def _spec() -> dict[str, Any]:
    return create_app(Settings()).openapi()


def test_every_operation_documents_its_errors_with_the_error_body() -> None:
    """Each non-public operation lists 401, 403, 404, 422 and 429 with ErrorResponse."""
    spec = _spec()
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            responses = op["responses"]
            expected = {"422", "503"} | (
                set() if path in PUBLIC_PATHS else {"401", "403", "404", "429"}
            )
            assert expected <= set(responses), (method, path)
            for status, response in responses.items():
                if status >= "400":
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, status
            if "429" in responses:
                assert "Retry-After" in responses["429"]["headers"]


def test_exactly_one_bodies_are_one_of_in_the_schema() -> None:
    """CreateSession and Answer state their exactly-one rule as oneOf branches."""
    schemas = _spec()["components"]["schemas"]
    branches = [b["required"] for b in schemas["Answer"]["oneOf"]]
    assert branches == [["option"], ["text"]]
    session = [
        set(b["properties"]) & {"workDir", "workspace"} for b in schemas["CreateSession"]["oneOf"]
    ]
    assert session == [{"workDir"}, {"workspace"}]


@pytest.mark.parametrize(
    "body",
    [
        {"workDir": "/x", "workspace": None},
        {"workDir": "/x", "unattended": 0},
        {"workDir": "/x", "env": {"WARDEN_KEY": "v"}},
        {"workDir": "relative"},
        {"workspace": {"git": {"url": "http://"}}},
    ],
)
def test_loose_session_bodies_are_refused(body: dict[str, Any]) -> None:
    """Nulls for omitted fields, 0 for false, reserved env names, relative paths: refused."""
    with pytest.raises(ValidationError):
        CreateSession.model_validate(body)


def test_answer_options_are_json_integers() -> None:
    """2.0 is option 2 (JSON Schema's integer); true and 0 are refused."""
    assert Answer.model_validate({"option": 2.0}).option == 2
    for bad in (True, 0, 101):
        with pytest.raises(ValidationError):
            Answer.model_validate({"option": bad})


def test_token_roles_are_the_grantable_roles() -> None:
    """The schema's role enum is exactly the roles a token may hold."""
    assert set(get_args(Role)) == GRANTABLE_ROLES
