"""Routes about the index itself: health, statistics and the admin-only reindex and upgrade jobs."""

from typing import Any

from fastapi import APIRouter

from viewfinder.app import LiveIndex
from viewfinder.serve.schemas import (
    HealthOut,
    ReindexOut,
    StatsOut,
    UpgradeIn,
    UpgradeJobOut,
    error_responses,
    job_json,
    stats_json,
)


def index_routes(live: LiveIndex, guarded: list, admin: list) -> APIRouter:
    """GET /healthz (open), GET /stats, POST/GET /admin/reindex and POST/GET /admin/upgrade."""
    router = APIRouter()

    @router.get("/healthz", response_model=HealthOut)
    def healthz() -> dict[str, Any]:
        """Liveness and the number of searchable images (never needs a token)."""
        with live.index() as index:
            return {"status": "ok", "images": index.vectors.count}

    @router.get("/stats", response_model=StatsOut, dependencies=guarded, responses=error_responses(401))
    def stats() -> dict[str, Any]:
        """A summary of the index: size, model, folders and capture-date range (for the UI's filters)."""
        return stats_json(live.info())

    @router.post(
        "/admin/reindex",
        status_code=202,
        response_model=ReindexOut,
        dependencies=admin,
        responses=error_responses(400, 401, 403),
    )
    def reindex() -> dict[str, Any]:
        """Starts incremental indexing of the source folders; the new index is served once it is complete."""
        return {"success": True, "job": job_json(live.reindex())}

    @router.get("/admin/reindex", response_model=ReindexOut, dependencies=admin, responses=error_responses(401, 403))
    def reindex_status() -> dict[str, Any]:
        """The latest reindex job (null before the first)."""
        return {"success": True, "job": job_json(live.job) if live.job else None}

    @router.post(
        "/admin/upgrade",
        status_code=202,
        response_model=UpgradeJobOut,
        dependencies=admin,
        responses=error_responses(400, 401, 403, 422),
    )
    def upgrade(body: UpgradeIn) -> dict[str, Any]:
        """Starts re-embedding the index with another model beside the live one; the index keeps answering with
        its model until the new one is complete, then answers with it (progress: GET /stats, `upgrade`)."""
        return {"success": True, "job": job_json(live.upgrade(body.model, body.drop_query_model))}

    @router.get("/admin/upgrade", response_model=UpgradeJobOut, dependencies=admin, responses=error_responses(401, 403))
    def upgrade_status() -> dict[str, Any]:
        """The latest upgrade job (null before the first)."""
        job = live.upgrader.job
        return {"success": True, "job": job_json(job) if job else None}

    return router
