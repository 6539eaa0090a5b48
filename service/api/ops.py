"""Operations endpoints: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

from typing import Any

from litestar import MediaType, Request, Response, get
from litestar.openapi.datastructures import ResponseSpec
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


@get("/health", tags=["ops"], summary="Liveness: the process answers")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@get(
    "/ready", tags=["ops"], summary="Readiness: the log is open and the writer running",
    responses={503: ResponseSpec(dict[str, Any], generate_examples=False,
                                 description='Not ready yet: `{"status": "starting", ...}`')},
)  # fmt: skip
async def ready(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    state = request.app.state
    ok = bool(getattr(state, "ready", False))
    community = getattr(state, "community", None)
    body: dict[str, Any] = {"status": "ready" if ok else "starting"}
    if community is not None:
        body.update(node_id=community.log.node_id, epoch=community.log.epoch, last_seq=community.log.last_seq)
    return Response(body, status_code=200 if ok else 503, media_type=MediaType.JSON)


@get(
    "/metrics", tags=["ops"], summary="Prometheus metrics", media_type=MediaType.TEXT,
    response_description="The Prometheus text exposition format",
)  # fmt: skip
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    registry: CollectorRegistry = request.app.state.metrics_registry
    # As a header, not a media type: Litestar appends a charset to a text/* media type, and
    # Prometheus' content type already names one.
    return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
