"""Routes about the photo library as a whole: groups of near-duplicate photos."""

from typing import Annotated, Any

from fastapi import APIRouter, Query

from viewfinder.app import LiveIndex
from viewfinder.app.query import DEFAULT_THRESHOLD
from viewfinder.app.records import duplicates_dict
from viewfinder.app.serving import LRUCache
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
        with live.index() as index:
            key = (index.catalog_state(), threshold)
            answer = answers.get(key)
            if answer is None:
                answer = {"success": True, **duplicates_dict(index.duplicates(threshold), threshold, image_json)}
                answers.put(key, answer)
            return answer

    return router
