"""The MCP server at /mcp over streamable HTTP, driven by the SDK's own client."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx

from audit.stores.base import EventFilter
from runner.core import SessionState
from tests.unit.events.support import serve, work_dir
from tests.unit.mcp.support import ADMIN, enforce, error_text, http_client, ok, parsed, token

TOOLS = {
    "create_session", "list_sessions", "get_session", "send_message", "read_transcript",
    "get_pane", "wait_for_state", "approve_permission", "reject_permission",
    "answer_question", "interrupt", "escape", "kill_session", "get_patch", "list_templates",
    "explain_policy", "batch_create_sessions", "create_pipeline", "get_pipeline",
    "list_pipelines", "memory_list", "memory_get", "memory_set", "memory_delete",
    "verify_audit",
}  # fmt: skip


def test_lists_tools_with_schemas_and_hints_resources_and_prompts(tmp_path: Path) -> None:
    """Every tool has an input and an output schema and its hints; reads are read-only,
    kill is destructive; the resources, templates and prompts are listed."""

    async def scenario() -> None:
        async with serve(tmp_path) as served, http_client(served.url) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert set(tools) == TOOLS
            for tool in tools.values():
                assert tool.output_schema is not None, tool.name
                assert tool.annotations is not None, tool.name
            assert tools["get_session"].annotations.read_only_hint is True  # type: ignore[union-attr]
            assert tools["kill_session"].annotations.destructive_hint is True  # type: ignore[union-attr]
            assert tools["approve_permission"].annotations.read_only_hint is False  # type: ignore[union-attr]
            session_schema = tools["get_session"].output_schema
            assert {"id", "state", "details"} <= set(session_schema["properties"])
            resources = {str(r.uri) for r in (await client.list_resources()).resources}
            assert resources == {"warden://sessions", "warden://health"}
            templates = {
                t.uri_template for t in (await client.list_resource_templates()).resource_templates
            }
            assert templates == {
                "warden://sessions/{session_id}",
                "warden://sessions/{session_id}/transcript",
                "warden://sessions/{session_id}/pane",
                "warden://policies/{name}",
            }
            prompts = {p.name for p in (await client.list_prompts()).prompts}
            assert prompts == {"implement_issue", "review_pr", "debug_session"}

    asyncio.run(scenario())


def test_a_session_story_over_http(tmp_path: Path) -> None:
    """create → wait idle → send a Bash prompt → wait permission_prompt → approve →
    transcript and resources → kill, all through MCP tools; each call is audited naming
    the MCP client and the subject."""

    async def scenario() -> None:
        async with serve(tmp_path) as served, http_client(served.url) as client:
            work = work_dir(tmp_path)
            created = ok(await client.call_tool("create_session", {"workspace": str(work)}))
            sid = created["id"]
            assert created["state"] == "starting" and created["workDir"] == str(work)
            idle = ok(
                await client.call_tool(
                    "wait_for_state", {"session_id": sid, "states": ["idle"], "timeout_seconds": 20}
                )
            )
            assert idle["state"] == "idle"
            sent = ok(
                await client.call_tool(
                    "send_message", {"session_id": sid, "text": "[[bash: ls -la /tmp]]"}
                )
            )
            assert sent["ok"] is True
            prompt = ok(
                await client.call_tool(
                    "wait_for_state",
                    {"session_id": sid, "states": ["permission_prompt"], "timeout_seconds": 20},
                )
            )
            assert prompt["state"] == "permission_prompt"
            assert prompt["details"]["command"] == "ls -la /tmp"
            approved = ok(await client.call_tool("approve_permission", {"session_id": sid}))
            assert approved["option"] == 1
            ok(
                await client.call_tool(
                    "wait_for_state", {"session_id": sid, "states": ["idle"], "timeout_seconds": 20}
                )
            )
            assert served.claude.prompts == ["[[bash: ls -la /tmp]]"]
            pane = ok(await client.call_tool("get_pane", {"session_id": sid}))
            assert pane["state"] == "idle" and "❯" in pane["text"]
            page = ok(await client.call_tool("read_transcript", {"session_id": sid, "limit": 5}))
            assert "turns" in page and "nextBeforeId" in page
            read = await client.read_resource(f"warden://sessions/{sid}")
            assert parsed(read.contents[0].text)["id"] == sid  # type: ignore[union-attr]
            listed = await client.read_resource("warden://sessions")
            assert [s["id"] for s in parsed(listed.contents[0].text)["sessions"]] == [sid]  # type: ignore[union-attr]
            killed = ok(await client.call_tool("kill_session", {"session_id": sid}))
            assert killed["state"] == "exited"

            page = await asyncio.to_thread(
                served.services.ledger.query, EventFilter(type="mcp.call"), limit=100
            )
            calls = [e.event for e in page.entries]
            assert {c.data["operation"] for c in calls} >= {
                "create_session", "send", "approve", "delete_session", "wait_for_state",
            }  # fmt: skip
            assert {c.data["client"] for c in calls} == {"mcp-test-client"}
            assert {c.actor for c in calls} == {"local"}

    asyncio.run(scenario())


def test_wait_for_state_returns_at_its_timeout_with_the_state_as_it_is(tmp_path: Path) -> None:
    """A wait for a state that never comes ends after its timeout, with the current state."""

    async def scenario() -> None:
        async with serve(tmp_path) as served, http_client(served.url) as client:
            sid = ok(
                await client.call_tool("create_session", {"workspace": str(work_dir(tmp_path))})
            )["id"]
            loop = asyncio.get_running_loop()
            started = loop.time()
            waited = ok(
                await client.call_tool(
                    "wait_for_state",
                    {"session_id": sid, "states": ["asking"], "timeout_seconds": 1.5},
                )
            )
            assert 1.4 <= loop.time() - started < 10
            assert waited["state"] in {SessionState.STARTING, SessionState.IDLE}

    asyncio.run(scenario())


def test_bad_input_is_a_tool_error_saying_what_to_fix(tmp_path: Path) -> None:
    """Unknown session, wrong types, out-of-range options, a bad state name and a refused
    action come back as tool errors with the REST message; the server keeps serving."""

    async def scenario() -> None:
        async with serve(tmp_path) as served, http_client(served.url) as client:
            unknown = error_text(await client.call_tool("get_session", {"session_id": "nope"}))
            assert "not_found: no session nope" in unknown
            wrong_type = error_text(
                await client.call_tool("send_message", {"session_id": "x", "text": 42})
            )
            assert "text" in wrong_type and "string" in wrong_type
            out_of_range = error_text(
                await client.call_tool("read_transcript", {"session_id": "x", "limit": 0})
            )
            assert "limit" in out_of_range and "greater than or equal to 1" in out_of_range
            bad_state = error_text(
                await client.call_tool("wait_for_state", {"session_id": "x", "states": ["napping"]})
            )
            assert "states" in bad_state and "idle" in bad_state
            no_workspace = error_text(await client.call_tool("create_session", {}))
            assert "workspace" in no_workspace or "workDir" in no_workspace
            sid = ok(
                await client.call_tool("create_session", {"workspace": str(work_dir(tmp_path))})
            )["id"]
            ok(await client.call_tool("wait_for_state", {"session_id": sid, "states": ["idle"]}))
            not_now = error_text(await client.call_tool("approve_permission", {"session_id": sid}))
            assert "conflict" in not_now or "cannot" in not_now
            assert ok(await client.call_tool("get_session", {"session_id": sid}))["id"] == sid

    asyncio.run(scenario())


def test_roles_tenants_and_tokens_apply_as_in_rest(tmp_path: Path) -> None:
    """A viewer lists sessions but approve is refused (and audited); another tenant's
    session is not found; no token or a wrong one is a 401 with the REST error body."""

    async def scenario() -> None:
        async with serve(tmp_path) as served:
            await enforce(served)
            operator = await token(served, "operator")
            viewer = await token(served, "viewer")
            other = await token(served, "admin", tenant="globex")
            async with http_client(served.url, operator) as client:
                sid = ok(
                    await client.call_tool(
                        "create_session",
                        {"workspace": str(work_dir(tmp_path)), "prompt": "[[bash: ls /tmp]]"},
                    )
                )["id"]
                ok(
                    await client.call_tool(
                        "wait_for_state",
                        {"session_id": sid, "states": ["permission_prompt"], "timeout_seconds": 20},
                    )
                )
            async with http_client(served.url, viewer) as client:
                listed = ok(await client.call_tool("list_sessions", {}))
                assert [s["id"] for s in listed["sessions"]] == [sid]
                refused = error_text(
                    await client.call_tool("approve_permission", {"session_id": sid})
                )
                assert "forbidden" in refused and "needs the approver role" in refused
            session = await served.services.manager.get(sid, ADMIN)
            assert session.state == SessionState.PERMISSION_PROMPT
            async with http_client(served.url, other) as client:
                hidden = error_text(await client.call_tool("get_session", {"session_id": sid}))
                assert f"no session {sid}" in hidden
                assert ok(await client.call_tool("list_sessions", {}))["sessions"] == []
            denied = await asyncio.to_thread(
                served.services.ledger.query, EventFilter(type="auth.denied"), limit=100
            )
            assert any(e.event.data.get("operation") == "approve" for e in denied.entries)

            async with httpx.AsyncClient(base_url=served.url) as http:
                body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
                headers = {"Accept": "application/json, text/event-stream"}
                none = await http.post("/mcp", json=body, headers=headers)
                assert none.status_code == 401
                assert none.json()["error"]["code"] == "unauthenticated"
                assert none.headers["www-authenticate"] == "Bearer"
                bad = await http.post(
                    "/mcp", json=body, headers={**headers, "Authorization": "Bearer wdn_nope"}
                )
                assert bad.status_code == 401
            failed = await asyncio.to_thread(
                served.services.ledger.query, EventFilter(type="auth.failed"), limit=100
            )
            assert {e.event.data["path"] for e in failed.entries} == {"/mcp"}

    asyncio.run(scenario())


def test_without_auth_only_loopback_hosts_and_origins_are_served(tmp_path: Path) -> None:
    """With authentication off, a request naming another host or a foreign Origin (DNS
    rebinding from a web page) is refused before any tool runs."""

    async def scenario() -> None:
        async with serve(tmp_path) as served, httpx.AsyncClient(base_url=served.url) as http:
            body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
            headers = {"Accept": "application/json, text/event-stream"}
            rebound = await http.post(
                "/mcp", json=body, headers={**headers, "Host": "evil.example:9100"}
            )
            assert rebound.status_code == 403
            assert "loopback" in rebound.json()["error"]["message"]
            foreign = await http.post(
                "/mcp", json=body, headers={**headers, "Origin": "http://evil.example"}
            )
            assert foreign.status_code == 403

    asyncio.run(scenario())


def test_memory_batches_and_pipelines_over_http(tmp_path: Path) -> None:
    """Shared memory round-trips with compare-and-set; a batch starts each session or says
    why not; a pipeline with a cycle is refused; a viewer may read memory, not write it."""

    async def scenario() -> None:
        async with serve(tmp_path) as served:
            await enforce(served)
            operator = await token(served, "operator")
            viewer = await token(served, "viewer")
            async with http_client(served.url, operator) as client:
                put = ok(await client.call_tool("memory_set", {"key": "plan", "value": {"a": 1}}))
                assert put["version"] == 1 and put["value"] == {"a": 1}
                stale = error_text(
                    await client.call_tool(
                        "memory_set", {"key": "plan", "value": 2, "if_version": 0}
                    )
                )
                assert "conflict" in stale
                listed = ok(await client.call_tool("memory_list", {"prefix": "pl"}))
                assert [e["key"] for e in listed["entries"]] == ["plan"]
                batch = ok(
                    await client.call_tool(
                        "batch_create_sessions",
                        {"sessions": [{"workDir": str(work_dir(tmp_path))}, {"workDir": "/etc"}]},
                    )
                )
                first, second = batch["results"]
                assert first["session"]["state"] == "starting" and first["error"] is None
                assert second["session"] is None and second["error"]["code"]
                cycle = {
                    "name": "loop",
                    "workDir": str(work_dir(tmp_path)),
                    "stages": [
                        {"name": "a", "prompt": "x", "dependsOn": ["b"]},
                        {"name": "b", "prompt": "y", "dependsOn": ["a"]},
                    ],
                }
                refused = error_text(await client.call_tool("create_pipeline", {"pipeline": cycle}))
                assert "invalid_input" in refused and "cycle" in refused
                assert ok(await client.call_tool("list_pipelines", {}))["pipelines"] == []
            async with http_client(served.url, viewer) as client:
                got = ok(await client.call_tool("memory_get", {"key": "plan"}))
                assert got["value"] == {"a": 1}
                denied = error_text(await client.call_tool("memory_delete", {"key": "plan"}))
                assert "needs the operator role" in denied
            async with http_client(served.url, operator) as client:
                assert ok(await client.call_tool("memory_delete", {"key": "plan"})) == {
                    "deleted": "plan"
                }
                gone = error_text(await client.call_tool("memory_get", {"key": "plan"}))
                assert "not_found" in gone

    asyncio.run(scenario())


def test_an_auditor_verifies_the_ledger_and_a_tampered_copy_fails(tmp_path: Path) -> None:
    """``verify_audit`` exports and verifies against the controller's keys: OK for the
    ledger as it is; a viewer is refused; an export whose events were altered fails at
    the altered seq."""

    async def scenario() -> None:
        async with serve(tmp_path) as served:
            await enforce(served)
            operator = await token(served, "operator")
            auditor = await token(served, "auditor")
            viewer = await token(served, "viewer")
            async with http_client(served.url, operator) as client:
                sid = ok(
                    await client.call_tool(
                        "create_session", {"workspace": str(work_dir(tmp_path)), "prompt": "hi"}
                    )
                )["id"]
                ok(
                    await client.call_tool(
                        "wait_for_state",
                        {"session_id": sid, "states": ["idle"], "timeout_seconds": 20},
                    )
                )
            async with http_client(served.url, viewer) as client:
                refused = error_text(await client.call_tool("verify_audit", {}))
                assert "needs the auditor role" in refused
            async with http_client(served.url, auditor) as client:
                whole = ok(await client.call_tool("verify_audit", {}))
                assert whole["ok"] is True and whole["events"] > 0, whole
                assert whole["first_bad_seq"] is None
                one = ok(await client.call_tool("verify_audit", {"session": sid}))
                assert one["ok"] is True and 0 < one["events"] < whole["events"], one

                folder = served.services.settings.data_dir / "exports" / whole["export"]
                events = folder / "events.jsonl"
                lines = events.read_text(encoding="utf-8").splitlines()
                row = json.loads(lines[2])
                forged = row["canonical"].replace('"actor":"', '"actor":"mallory-', 1)
                assert forged != row["canonical"]
                lines[2] = json.dumps({**row, "canonical": forged})
                events.write_text("\n".join(lines) + "\n", encoding="utf-8")
                async with httpx.AsyncClient(
                    base_url=served.url, headers={"Authorization": f"Bearer {auditor}"}
                ) as http:
                    verdict = await http.get(f"/v1/audit/exports/{whole['export']}/verification")
                assert verdict.status_code == 200, verdict.text
                assert verdict.json()["ok"] is False
                assert verdict.json()["firstBadSeq"] == row["seq"], verdict.json()

    asyncio.run(scenario())
