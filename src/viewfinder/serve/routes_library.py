"""Routes about the photo library as a whole: groups of near-duplicate photos."""

from typing import Annotated, Any

from fastapi import APIRouter, Query

from viewfinder.app import LiveIndex
from viewfinder.app.duplicate_answers import THRESHOLD_STEP, DuplicateAnswers
from viewfinder.app.query import DEFAULT_THRESHOLD
from viewfinder.app.records import duplicates_dict
from viewfinder.serve.schemas import DuplicatesOut, error_responses, image_json

THRESHOLD_TEXT = f"cosine similarity that joins two photos, rounded to steps of {THRESHOLD_STEP}"


def library_routes(live: LiveIndex, guarded: list) -> APIRouter:
    """GET /duplicates."""
    router = APIRouter()
    answers: DuplicateAnswers[dict[str, Any]] = DuplicateAnswers()

    def render(groups: list, threshold: float) -> dict[str, Any]:
        return {"success": True, **duplicates_dict(groups, threshold, image_json)}

    @router.get(
        "/duplicates", response_model=DuplicatesOut, dependencies=guarded, responses=error_responses(400, 401, 422)
    )
    def duplicates(
        threshold: Annotated[float, Query(gt=0, le=1, description=THRESHOLD_TEXT)] = DEFAULT_THRESHOLD,
    ) -> dict[str, Any]:
        """Groups of near-identical photos (bursts, resized or recompressed copies, light edits), largest first;
        `threshold` in the answer is the one used, rounded."""
        with live.index() as index:
            return answers.answer(index, threshold, render)

    return router
