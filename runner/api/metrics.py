"""``GET /metrics``: the Prometheus text format, for the ``metrics`` role."""

from __future__ import annotations

from fastapi import APIRouter, Response

from runner.api.deps import ServicesDep
from runner.api.security import MetricsDep
from runner.telemetry.metrics import CONTENT_TYPE

router = APIRouter(tags=["meta"])


@router.get("/metrics", response_class=Response)
async def metrics(services: ServicesDep, _actor: MetricsDep) -> Response:
    """Every metric in docs/observability.md, the gauges read now."""
    await services.gauges.refresh()
    return Response(services.metrics.render(), media_type=CONTENT_TYPE)
