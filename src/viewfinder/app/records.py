"""The typed records every front renders: search answers, index summaries, duplicate groups, run reports.

Each is defined beside the code that makes it and gathered here, so a front imports its vocabulary from one
place; `answer_dict` and `image_dict` are the one JSON shape of an answer (the CLI adds paths, HTTP URLs).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from viewfinder.pipeline.indexer import IndexReport
from viewfinder.pipeline.maintenance import RemoveReport
from viewfinder.pipeline.review import MovedFile, ReviewReport, UndoReport
from viewfinder.search.duplicates import DuplicateGroup
from viewfinder.search.query import Term
from viewfinder.search.results import Answer, Hit
from viewfinder.store.catalog_rows import ImageRecord
from viewfinder.store.check import CheckReport
from viewfinder.store.filters import Filters
from viewfinder.store.overview import MAX_RECENT, Overview

__all__ = [
    "MAX_RECENT",
    "Answer",
    "CheckReport",
    "DuplicateGroup",
    "Hit",
    "ImageRecord",
    "IndexInfo",
    "IndexReport",
    "MovedFile",
    "Overview",
    "RemoveReport",
    "ReviewReport",
    "SourceInfo",
    "UndoReport",
    "answer_dict",
    "duplicates_dict",
    "overview_dict",
    "review_dict",
    "undo_dict",
]


@dataclass(frozen=True)
class SourceInfo:
    """A folder or bucket prefix the index was built from; `missing` while it cannot be found."""

    source: str
    images: int
    missing: bool


@dataclass(frozen=True)
class IndexInfo:
    """A summary of one generation of an index (`viewfinder info`, `GET /stats`)."""

    index: str
    images: int  # rows in the catalog
    searchable: int  # vectors in the store (equal once a writer has finished)
    skipped: int
    model: str
    dim: int
    index_type: str
    nlist: int | None
    nprobe: int | None
    index_family: str | None
    ef_search: int | None
    recall_at_50: float | None  # measured against exact search when chosen; None: not measured
    calibrated_on: str  # the queries its parameters were measured with: 'prompts', 'stored' (vectors); '' none
    bytes_on_disk: int
    generation: int
    sources: list[SourceInfo] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    taken_range: tuple[str, str] | None = None
    example_queries: list[str] = field(default_factory=list)
    query_model: str | None = None  # what encodes text queries when not the index's model (--query-model)
    # A model upgrade staged in the index (app/upgrade.py): model, from_model, state, done, total, embedded,
    # images_per_second, seconds_left, running; None when none is under way.
    upgrade: dict[str, Any] | None = None
    previous_model: str | None = None  # the model `viewfinder upgrade --rollback` brings back, if one is kept


ImageFields = Callable[[ImageRecord], dict[str, Any]]


def hit_dict(hit: Hit, image_fields: ImageFields) -> dict[str, Any]:
    return {
        "rank": hit.rank,
        **image_fields(hit.image),
        "similarity": round(hit.similarity, 6),
        "relevance": hit.relevance,
        "match": hit.match,
        "words": hit.words,
    }


def term_dict(term: Term) -> dict[str, Any]:
    """A query term as JSON with the weight it was given (before the positive weights are scaled to sum to 1);
    an image given as a file or upload is named by its kind, never by its path or bytes."""
    if term.text is not None:
        return {"text": term.text, "weight": term.weight}
    if term.image_id is not None:
        return {"image_id": term.image_id, "weight": term.weight}
    return {"image": "file" if term.image_path is not None else "uploaded", "weight": term.weight}


def answer_dict(answer: Answer, image_fields: ImageFields) -> dict[str, Any]:
    """An answer as JSON: `image_fields` says how each image is named to this front."""
    return {
        "query": answer.query,
        "terms": [term_dict(term) for term in answer.terms],
        "filters": asdict(answer.filters or Filters()),
        "sort": answer.sort,
        "count": len(answer.hits),
        "results": [hit_dict(hit, image_fields) for hit in answer.hits],
        "min_relevance": answer.min_relevance,
        "weaker": [hit_dict(hit, image_fields) for hit in answer.weaker],
        "closest": [hit_dict(hit, image_fields) for hit in answer.closest],
    }


def overview_dict(found: Overview, image_fields: ImageFields) -> dict[str, Any]:
    """A library overview as JSON: its newest photos, and its folders with a count and a cover each."""
    return {
        "folder": found.folder,
        "recent": [image_fields(image) for image in found.recent],
        "folders": [
            {"folder": tile.folder, "images": tile.images, "cover": image_fields(tile.cover)} for tile in found.folders
        ],
    }


def duplicates_dict(
    groups: list[DuplicateGroup], threshold: float | None, image_fields: ImageFields, kind: str | None = None
) -> dict[str, Any]:
    """Duplicate groups as JSON, each with its suggested copy to keep and the bytes resolving it frees;
    `threshold` is None for exact copies, `kind` the named kind the threshold is (exact, near, similar)."""
    return {
        "threshold": threshold,
        "kind": kind,
        "count": len(groups),
        "recoverable_bytes": sum(g.recoverable_bytes for g in groups),
        "groups": [
            {
                "similarity": g.similarity,
                "exact": g.exact,
                "suggested_keep": str(g.keep.id),
                "recoverable_bytes": g.recoverable_bytes,
                "images": [image_fields(i) for i in g.images],
            }
            for g in groups
        ],
    }


MovedFields = Callable[[MovedFile], dict[str, Any]]


def _skipped(skipped: list[tuple[str, str]], paths: bool) -> list[dict[str, Any]]:
    """Files left where they were, with the reason; named by file name only unless `paths` (HTTP shows none)."""
    if paths:
        return [{"path": path, "reason": reason} for path, reason in skipped]
    return [{"file_name": os.path.basename(path), "reason": reason} for path, reason in skipped]


def review_dict(report: ReviewReport, moved_fields: MovedFields, paths: bool) -> dict[str, Any]:
    """What a resolve moved to the review folder, skipped and freed, as JSON."""
    return {
        "dry_run": report.dry_run,
        "moved": [moved_fields(item) for item in report.moved],
        "skipped": _skipped(report.skipped, paths),
        "freed_bytes": report.freed_bytes,
    }


def undo_dict(report: UndoReport, moved_fields: MovedFields, paths: bool) -> dict[str, Any]:
    """What an undo moved back into place and left, as JSON."""
    return {
        "restored": [moved_fields(item) for item in report.restored],
        "skipped": _skipped(report.skipped, paths),
    }
