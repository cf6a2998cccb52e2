"""Write docs/api.md from the app's OpenAPI document (``python scripts/gen_api_docs.py``).

A unit test fails when docs/api.md is stale, so the reference never drifts from the code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runner.app import create_app  # noqa: E402
from runner.settings import Settings  # noqa: E402

OUT = ROOT / "docs" / "api.md"


def _ref(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return "`" + schema["$ref"].rsplit("/", 1)[-1] + "`"
    if schema.get("type") == "array":
        return f"list of {_ref(schema.get('items', {}))}"
    if "anyOf" in schema:
        return " or ".join(_ref(s) for s in schema["anyOf"])
    if "oneOf" in schema:
        return "exactly one of " + ", ".join(_ref(s) for s in schema["oneOf"])
    return f"`{schema.get('type', 'object')}`"


def _operation(method: str, path: str, op: dict[str, Any]) -> list[str]:
    lines = [f"### `{method.upper()} {path}`", ""]
    doc = (op.get("description") or op.get("summary") or "").strip()
    if doc:
        lines += [doc, ""]
    params = op.get("parameters", [])
    if params:
        lines.append("| parameter | in | type | required |")
        lines.append("|---|---|---|---|")
        for p in params:
            kind = _ref(p.get("schema", {}))
            lines.append(
                f"| `{p['name']}` | {p['in']} | {kind} | {'yes' if p.get('required') else 'no'} |"
            )
        lines.append("")
    content = op.get("requestBody", {}).get("content", {})
    body = content.get("application/json", {}).get("schema")
    if body:
        lines += [f"Body: {_ref(body)}", ""]
    raw = sorted(media for media in content if media != "application/json")
    if raw:
        lines += ["Body: the raw bytes, as " + ", ".join(f"`{m}`" for m in raw), ""]
    responses = []
    for status, response in sorted(op.get("responses", {}).items()):
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        responses.append(f"`{status}`" + (f" {_ref(schema)}" if schema else ""))
    lines += ["Responses: " + ", ".join(responses), ""]
    return lines


def _schemas(components: dict[str, Any]) -> list[str]:
    lines = ["## Schemas", ""]
    for name, schema in sorted(components.get("schemas", {}).items()):
        lines += [f"### `{name}`", ""]
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        if not props:
            lines += ["```json", json.dumps(schema, indent=2), "```", ""]
            continue
        lines += ["| field | type | required | description |", "|---|---|---|---|"]
        for field, spec in props.items():
            desc = (spec.get("description") or "").replace("\n", " ")
            lines.append(
                f"| `{field}` | {_ref(spec)} | {'yes' if field in required else 'no'} | {desc} |"
            )
        lines.append("")
    return lines


def _limits() -> list[str]:
    """The limits every request meets, with the defaults of the settings that set them."""
    d = Settings()
    return [
        "## Limits",
        "",
        "Every limit is a setting ([configuration.md](configuration.md)); the defaults:",
        "",
        f"- **Request bodies**: {d.max_body_bytes} bytes (`WARDEN_MAX_BODY_BYTES`). A declared",
        "  `Content-Length` over it is refused with 413 before the body is read; a chunked",
        "  body is counted as it arrives and cut off with 413 at the cap. Uploads",
        f"  (`POST /v1/workspaces`) have their own cap, {d.upload_max_bytes} bytes",
        "  (`WARDEN_UPLOAD_MAX_BYTES`), and stream to disk.",
        f"- **Headers**: {d.max_header_bytes} bytes in all (`WARDEN_MAX_HEADER_BYTES`), 431 above.",
        "- **Text fields**: `prompt` (sessions, templates) and `text` (send) at most 100,000",
        "  characters, an answer's `text` 10,000 (422 above).",
        f"- **Failed authentication**: {d.auth_failure_burst} failures per client address and per",
        f"  token, refilled at {d.auth_failures_per_minute:g} a minute",
        "  (`WARDEN_AUTH_FAILURE_BURST`, `WARDEN_AUTH_FAILURES_PER_MINUTE`). Past them the",
        "  source gets 429 with `Retry-After` before its credentials are checked, even a valid",
        "  token from the same address (a shared NAT address shares the budget: raise it",
        "  there). The first refusal of a source in a window is audited (`auth.throttled`),",
        "  the window's total once it ends (`auth.flood`, with `refused`), so a flood of",
        "  thousands of bad tokens adds a few dozen ledger events, not thousands.",
        f"- **Changing requests**: {d.mutation_burst} per authenticated caller, refilled at",
        f"  {d.mutations_per_minute:g} a minute (`WARDEN_MUTATION_BURST`,",
        "  `WARDEN_MUTATIONS_PER_MINUTE`): 429 with `Retry-After` past them.",
        f"- **Sessions**: {d.max_sessions} running on the server, {d.max_sessions_per_tenant} per",
        f"  tenant, {d.max_sessions_per_user} per user, {d.session_starts_per_minute} started per",
        "  tenant per minute. A start over one gets 429 with `Retry-After` and",
        "  `details.limit` (`sessions`, `sessions_per_tenant`, `sessions_per_user`,",
        "  `session_starts_per_minute`); in a batch each item over the limit gets that error,",
        "  so a batch starts exactly the allowed number. A start whose policy memory limit",
        f"  would leave the host less than {d.memory_reserve_bytes} bytes available",
        "  (`WARDEN_MEMORY_RESERVE_BYTES`) gets 429 `host_memory`. Refusals are audited",
        "  (`session.refused`, with the limit); a client retries after `Retry-After`. Or it",
        '  waits in line: with `"queue": true`, where the policy sets `container.queue: true`,',
        "  the start is created (201) in state `queued` with `details.queue` (`position`,",
        "  `limit`) and starts by itself when a place frees, first come first started (a",
        "  tenant's own limit holds back only that tenant's later starts); `DELETE` leaves",
        f"  the line. At most {d.max_queued_sessions} wait (`WARDEN_MAX_QUEUED_SESSIONS`); the",
        "  line is the controller's memory, so a restart fails the waiting sessions.",
        "",
        "## The contract",
        "",
        "Every operation lists each error status it can answer, all with the error body above;",
        "parameters carry their real types, bounds and patterns (integers up to 2^53 - 1, the",
        "ledger's exact range; date-times as RFC 3339 text, never a number; booleans as",
        "`true`/`false`, never 0/1), and bodies that need exactly one of two fields say so with",
        "`oneOf`. An unknown policy or template, or a `workDir` that is no directory, is a 404.",
        "`tests/integration/test_api_contract.py`",
        "runs schemathesis with all its checks against a real server (about 1,800 cases, 0",
        "failures); it leaves out `POST /v1/webhooks`, `POST /v1/notifications/channels` and",
        "`POST /v1/pipelines` (rules not yet stated in the schema: a webhook address must be",
        "public, a channel's config depends on its kind, a stage needs a `workDir` unless its",
        "pipeline has one), the raw-archive upload, token revocation, the streams, and the",
        "dashboard's browser routes under `/dashboard` (redirects and HTML, not yet described).",
        "",
        "## Aegis compatibility",
        "",
        "Clients written against Aegis's REST API find its routes for sessions, memory,",
        "templates, pipelines, health, diagnostics and metrics here, in Aegis's shapes; where",
        "a shape differs, or Warden refuses on purpose for security, is listed in",
        "[aegis-compat.md](aegis-compat.md).",
        "",
    ]


def render() -> str:
    spec = create_app(Settings()).openapi()
    lines = [
        "# REST API reference",
        "",
        "Generated from the OpenAPI document (`GET /openapi.json`) by `scripts/gen_api_docs.py`;",
        'do not edit by hand. Errors are always JSON `{"error": {"code", "message", "details"}}`:',
        "422 for malformed input (with `details.fields`), 404 for unknown or other-tenant ids,",
        "409 when the session's state forbids the action, 403 for policy or role refusals (with",
        "`details.rule`), 413 for a body or upload over its size cap, 415 for an upload that is",
        "not an archive, 429 over a rate limit or quota (with `Retry-After`), 431 for headers",
        "over the cap, 503 when the audit ledger cannot record (the action did not happen).",
        "",
        f"OpenAPI {spec['openapi']}, API version {spec['info']['version']}.",
        "",
        *_limits(),
        "## Endpoints",
        "",
    ]
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            lines += _operation(method, path, op)
    lines += _schemas(spec.get("components", {}))
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT}")
