"""Routes about the photo library as a whole: groups of near-duplicate photos."""

from typing import Annotated, Any

from fastapi import APIRouter, Query

from viewfinder.search.duplicates import DEFAULT_THRESHOLD, find_duplicates
from viewfinder.search.lru import LRUCache
from viewfinder.serve.live import LiveIndex
from viewfinder.serve.schemas import DuplicatesOut, error_responses, image_json

CACHE_SIZE = 8


def library_routes(live: LiveIndex, guarded: list) -> APIRouter:
    """GET /duplicates."""
    router = APIRouter()
    # One k-NN search per image is seconds at a hundred thousand images: answers are kept per index generation.
    answers: LRUCache[dict[str, Any]] = LRUCache(CACHE_SIZE)

    @router.get("/duplicates", response_model=DuplicatesOut, dependencies=guarded, responses=error_responses(400, 401))
    def duplicates(
        threshold: Annotated[float, Query(gt=0, le=1, description="cosine similarity that joins two photos")] = (
            DEFAULT_THRESHOLD
        ),
    ) -> dict[str, Any]:
        """Groups of near-identical photos (bursts, resized or recompressed copies, light edits), largest first."""
        with live.engine() as engine:
            key = (engine.catalog_state(), threshold)
            answer = answers.get(key)
            if answer is None:
                groups = find_duplicates(engine.catalog, engine.vectors, engine.manifest.dim, threshold)
                answer = {
                    "success": True,
                    "threshold": threshold,
                    "count": len(groups),
                    "groups": [
                        {"similarity": g.similarity, "exact": g.exact, "images": [image_json(i) for i in g.images]}
                        for g in groups
                    ],
                }
                answers.put(key, answer)
            return answer

    return router
