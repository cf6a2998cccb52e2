"""The async client over templates, pipelines, memory, policies, the audit ledger,
tokens, webhooks, channels, approval links and the server's own routes."""

from __future__ import annotations

import asyncio
import io
import tarfile
from pathlib import Path

import pytest

from runner.api.templates import CreateTemplate
from runner.client import WardenApiError
from tests.mounts import unmount_under
from tests.unit.client.support import world


def test_templates_pipelines_memory_and_policies(tmp_path: Path) -> None:
    """CRUD of templates and memory (with a stale ifVersion refused), pipelines listed
    and read back, policies listed, shown and explained."""

    async def scenario() -> None:
        async with world(tmp_path) as w, w.client() as client:
            made = await client.create_template(CreateTemplate(name="fix", prompt="Fix it"))
            assert made.name == "fix"
            assert (await client.get_template("fix")).prompt == "Fix it"
            replaced = await client.put_template("fix", {"prompt": "Fix it now"})
            assert replaced.prompt == "Fix it now"
            assert [t.name for t in (await client.list_templates()).templates] == ["fix"]
            await client.delete_template("fix")
            assert (await client.list_templates()).templates == []

            entry = await client.put_memory("team.notes", {"a": 1})
            assert entry.version == 1
            with pytest.raises(WardenApiError) as stale:
                await client.put_memory("team.notes", 2, if_version=0)
            assert stale.value.status == 409
            assert (await client.get_memory("team.notes")).value == {"a": 1}
            assert [e.key for e in (await client.list_memory("team.")).entries] == ["team.notes"]
            await client.delete_memory("team.notes")
            assert (await client.list_memory()).entries == []

            body = {
                "name": "p",
                "workDir": str(w.work),
                "stages": [{"name": "one", "prompt": "hi"}],
            }
            pipeline = await client.create_pipeline(body)
            assert (await client.get_pipeline(pipeline.id)).name == "p"
            assert pipeline.id in [p.id for p in (await client.list_pipelines()).pipelines]

            names = [p.name for p in (await client.list_policies()).policies]
            assert "default" in names
            assert (await client.get_policy("default"))["name"] == "default"
            decided = await client.explain_policy("default", "Bash", {"command": "rm -rf /"})
            assert decided.decision in {"allow", "ask", "deny"} and decided.rule

    try:
        asyncio.run(scenario())
    finally:
        unmount_under(tmp_path)


def test_audit_tokens_webhooks_channels_and_meta(tmp_path: Path) -> None:
    """As an admin token: whoami, tokens made and revoked, the audit ledger paged,
    proven, exported, downloaded and verified, webhooks and channels managed; a metrics
    token reads /metrics; health and handshake need no token."""

    async def scenario() -> None:
        async with world(tmp_path, outbound_allow_networks=["127.0.0.0/8"]) as w:
            await w.enforce_auth()
            admin = await w.token("admin")
            async with w.client(admin) as client, w.client() as anonymous:
                assert (await anonymous.health()).version
                shaken = await anonymous.handshake()
                assert shaken.protocol_version >= 1
                with pytest.raises(WardenApiError) as old:
                    await anonymous.handshake(protocol_version=0)
                assert old.value.status == 409

                me = await client.whoami()
                assert "admin" in me.roles
                created = await client.create_token("ci", ["viewer"], expires_in_days=2)
                assert created.secret
                assert created.id in [t.id for t in (await client.list_tokens()).tokens]
                assert (await client.revoke_token(created.id)).revoked_at is not None

                page = await client.audit_events(limit=2)
                assert len(page.events) == 2 and page.next_cursor is not None
                following = await client.audit_events(after=page.next_cursor, limit=1)
                assert following.events[0].seq > page.events[-1].seq
                assert "checkpoints" in await client.audit_checkpoints()
                export = await client.create_export()
                archive = b"".join([c async for c in client.export_archive(export.id)])
                with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
                    assert "manifest.json" in tar.getnames()
                assert (await client.verify_export(export.id)).ok

                hook = await client.create_webhook({"url": "http://127.0.0.1:9/hook"})
                assert hook.secret
                assert (await client.get_webhook(hook.id)).url == "http://127.0.0.1:9/hook"
                updated = await client.update_webhook(hook.id, {"enabled": False})
                assert updated.enabled is False
                assert [h.id for h in (await client.list_webhooks()).webhooks] == [hook.id]
                assert isinstance((await client.list_deliveries(hook.id)).deliveries, list)
                with pytest.raises(WardenApiError) as no_delivery:
                    await client.replay_delivery(hook.id, "nope")
                assert no_delivery.value.status == 404
                await client.delete_webhook(hook.id)

                channel = await client.create_channel(
                    {"kind": "slack", "config": {"webhookUrl": "http://127.0.0.1:9/slack"}}
                )
                assert [c.id for c in (await client.list_channels()).channels] == [channel.id]
                await client.delete_channel(channel.id)
                for link in (client.describe_approval_link, client.use_approval_link):
                    with pytest.raises(WardenApiError) as unknown:
                        await link("not-a-link")
                    assert unknown.value.status in {404, 403}

                proof = await client.audit_proof(page.events[0].seq)
                assert proof and isinstance(proof, dict)
            async with w.client(await w.token("metrics")) as scraper:
                assert "warden_" in await scraper.prometheus_metrics()

    try:
        asyncio.run(scenario())
    finally:
        unmount_under(tmp_path)
