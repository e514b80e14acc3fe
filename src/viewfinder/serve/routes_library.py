"""Routes about the photo library as a whole: an overview for a home page, groups of near-duplicate photos,
and resolving them by moving the extra copies to the server's review folder (and back)."""

import os
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from viewfinder.app import LiveIndex
from viewfinder.app.duplicate_answers import THRESHOLD_STEP, DuplicateAnswers
from viewfinder.app.query import DEFAULT_THRESHOLD, threshold_of
from viewfinder.app.records import MAX_RECENT, MovedFile, duplicates_dict, overview_dict, review_dict, undo_dict
from viewfinder.errors import ViewfinderError
from viewfinder.serve.guards import json_body
from viewfinder.serve.schemas import (
    KIND_TEXT,
    DuplicateKind,
    DuplicatesOut,
    OverviewOut,
    ResolveAllIn,
    ResolveIn,
    ReviewOut,
    UndoOut,
    error_responses,
    image_json,
)

THRESHOLD_TEXT = f"cosine similarity that joins two photos, rounded to steps of {THRESHOLD_STEP}"


def moved_json(item: MovedFile) -> dict[str, Any]:
    """A moved file as the service names it: no path on the server's disk."""
    name = os.path.basename(item.path)
    return {"image_id": str(item.image_id), "file_name": name, "folder": item.folder, "size_bytes": item.size}


def library_routes(live: LiveIndex, guarded: list, review_folder: Path | None) -> APIRouter:
    """GET /library/overview and /duplicates; POST /duplicates/resolve, /duplicates/resolve-all and
    /duplicates/undo, which move files to `review_folder` and back (None: this server cannot, as one serving a
    published snapshot)."""
    router = APIRouter()
    answers: DuplicateAnswers[dict[str, Any]] = DuplicateAnswers()
    writes = [*guarded, Depends(json_body)]

    def chosen(kind: DuplicateKind | None, threshold: float | None) -> tuple[float | None, DuplicateKind | None]:
        """The threshold (None: exact copies) and kind a request asks for; a kind wins over a threshold."""
        if kind is not None:
            return threshold_of(kind), kind
        return (DEFAULT_THRESHOLD, "near") if threshold is None else (threshold, None)

    def folder() -> Path:
        if review_folder is None:
            raise ViewfinderError(
                "This server answers from a published snapshot: resolve duplicates on the index it was published"
                " from (`viewfinder duplicates --move-to DIR`)."
            )
        return review_folder

    @router.get(
        "/library/overview",
        response_model=OverviewOut,
        dependencies=guarded,
        responses=error_responses(400, 401, 422),
    )
    def library_overview(
        folder: Annotated[str | None, Query(max_length=1000, description="relative to the source root")] = None,
        recent: Annotated[int, Query(ge=1, le=MAX_RECENT, description="how many of the newest photos")] = 24,
    ) -> dict[str, Any]:
        """The newest photos of the library (or of a folder) and the folders in it, each with a count and cover."""
        with live.index() as index:
            return overview_dict(index.overview(folder, recent), image_json)

    @router.get(
        "/duplicates", response_model=DuplicatesOut, dependencies=guarded, responses=error_responses(400, 401, 422)
    )
    def duplicates(
        threshold: Annotated[float | None, Query(gt=0, le=1, description=THRESHOLD_TEXT)] = None,
        kind: Annotated[DuplicateKind | None, Query(description=f"{KIND_TEXT}; instead of a threshold")] = None,
    ) -> dict[str, Any]:
        """Groups of near-identical photos (bursts, resized or recompressed copies, light edits), largest first,
        each with the copy suggested to keep; `threshold` in the answer is the one used, rounded."""
        limit, named = chosen(kind, threshold)

        def render(groups: list, used: float | None) -> dict[str, Any]:
            found = duplicates_dict(groups, used, image_json, named)
            return {"success": True, **found, "resolvable": review_folder is not None}

        with live.index() as index:
            return answers.answer(index, limit, render)

    @router.post(
        "/duplicates/resolve",
        response_model=ReviewOut,
        dependencies=writes,
        responses=error_responses(400, 401, 403, 404, 413, 415, 422),
    )
    def resolve(body: ResolveIn) -> dict[str, Any]:
        """Keeps one image of a group and moves the others' files to the server's review folder, taking them
        out of the index; files changed or missing since they were listed are skipped with the reason."""
        with live.index() as index:
            report = index.resolve(body.keep, body.images, folder())
        live.refresh()
        return {"success": True, **review_dict(report, moved_json, paths=False)}

    @router.post(
        "/duplicates/resolve-all",
        response_model=ReviewOut,
        dependencies=writes,
        responses=error_responses(400, 401, 403, 413, 415, 422),
    )
    def resolve_all(body: ResolveAllIn) -> dict[str, Any]:
        """Resolves every group at a kind (or threshold) with its suggested copy to keep."""
        limit, _ = chosen(body.kind, body.threshold)
        target = folder()
        with live.index() as index:
            report = index.resolve_all(answers.groups(index, limit), target)
        live.refresh()
        return {"success": True, **review_dict(report, moved_json, paths=False)}

    @router.post(
        "/duplicates/undo", response_model=UndoOut, dependencies=guarded, responses=error_responses(400, 401, 403)
    )
    def undo() -> dict[str, Any]:
        """Moves the files of the latest resolve back and indexes them again (their vectors were kept)."""
        folder()
        with live.index() as index:
            report = index.undo_resolve()
        live.refresh()
        return {"success": True, **undo_dict(report, moved_json, paths=False)}

    return router
