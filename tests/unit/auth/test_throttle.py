"""Rate limits: failure budgets per address and token, mutation budgets, coalesced audit."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from runner.auth.ratelimit import Buckets, FloodLog
from tests.oidc_provider import OidcProvider
from tests.unit.auth.harness import Harness, running_app


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bucket_grants_a_burst_then_refills_at_its_rate() -> None:
    """burst takes succeed, the next waits 1/rate; time refills, never past the burst."""
    clock = Clock()
    buckets = Buckets(burst=3, per_minute=60, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == 1.0
    assert buckets.take("b") == 0.0  # keys are independent
    clock.now += 1.5
    assert buckets.take("a") == 0.0
    assert buckets.wait("a") > 0
    clock.now += 3600
    assert [buckets.take("a") for _ in range(4)][-1] > 0  # refilled to 3, not 3600


def test_flood_log_counts_a_window_per_source() -> None:
    """The first refusal opens a window; the window closes with the count after its time."""
    clock = Clock()
    floods = FloodLog(window_seconds=60, clock=clock)
    assert floods.refused("x") == (True, [])
    for _ in range(99):
        assert floods.refused("x") == (False, [])
    assert floods.closed() == []
    clock.now += 61
    opened, closed = floods.refused("y")
    assert opened and [(w.source, w.refused) for w in closed] == [("x", 100)]


def run(provider: OidcProvider, tmp_path: Path, scenario: Any, **settings: Any) -> None:
    async def main() -> None:
        async with running_app(provider, tmp_path, **settings) as h:
            await scenario(h)

    asyncio.run(main())


def test_failed_authentication_past_the_budget_is_429_and_audited_once(
    provider: OidcProvider, tmp_path: Path
) -> None:
    """5 failures are 401 (each audited); the next 45 are 429 with Retry-After, audited as
    one auth.throttled event and, at the window's end, one auth.flood with the count."""

    async def scenario(h: Harness) -> None:
        statuses = []
        for i in range(50):
            reply = await h.client.get("/v1/sessions", headers=h.bearer(f"wdn_tok_bad{i}"))
            statuses.append(reply.status_code)
            if reply.status_code == 429:
                assert int(reply.headers["retry-after"]) >= 1
                error = reply.json()["error"]
                assert (error["code"], error["details"]["limit"]) == (
                    "rate_limited",
                    "auth_failures",
                )
        assert statuses == [401] * 5 + [429] * 45
        # A valid credential from the flooding address waits too (nothing is validated).
        good = await h.client.get("/v1/sessions", headers=h.as_group("warden-viewers"))
        assert good.status_code == 429
        # Public routes stay open.
        assert (await h.client.get("/v1/health")).status_code == 200
        assert len(h.events("auth.failed")) == 5
        assert len(h.events("auth.throttled")) == 1
        await h.services.throttle.flush(everything=True)
        floods = h.events("auth.flood")
        assert [e.data["refused"] for e in floods] == [46]

    run(provider, tmp_path, scenario, auth_failure_burst=5, auth_failures_per_minute=1)


def test_mutations_past_the_budget_are_429(provider: OidcProvider, tmp_path: Path) -> None:
    """A caller's 4th changing request in a burst of 3 is 429; its reads still work."""

    async def scenario(h: Harness) -> None:
        headers = h.as_group("warden-operators")
        body = {"value": "v"}
        codes = [
            (await h.client.put("/v1/memory/k", json=body, headers=headers)).status_code
            for _ in range(4)
        ]
        assert codes[3] == 429 and 429 not in codes[:3], codes
        assert (await h.client.get("/v1/sessions", headers=headers)).status_code == 200

    run(provider, tmp_path, scenario, mutation_burst=3, mutations_per_minute=1)
