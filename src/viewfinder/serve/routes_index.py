"""Routes about the index itself: health, statistics and the admin-only reindex job."""

from typing import Any

from fastapi import APIRouter

from viewfinder.app import LiveIndex
from viewfinder.serve.schemas import HealthOut, ReindexOut, StatsOut, error_responses, job_json, stats_json


def index_routes(live: LiveIndex, guarded: list, admin: list) -> APIRouter:
    """GET /healthz (open), GET /stats, and POST/GET /admin/reindex."""
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

    return router
