"""The HTTP API's request and response shapes, and how library records become them."""

from dataclasses import asdict
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Annotated, Any, Literal

import fastapi
from fastapi import HTTPException
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from viewfinder.app.index import NOT_FOR_BROWSERS
from viewfinder.app.jobs import ReindexJob, UpgradeJob
from viewfinder.app.query import (
    MAX_K,
    MAX_RERANK_WEIGHT,
    MAX_TERMS,
    MAX_TEXT_CHARS,
    MAX_WEIGHT,
    NEGATIVE_WEIGHT,
    Filters,
    Query,
    Rerank,
    Term,
    read_line,
)
from viewfinder.app.records import ImageRecord, IndexInfo
from viewfinder.settings import Sort

# A text must hold a word: the document says so (a pattern is unanchored), and the query's own check refuses a
# blank one with 400 and a sentence that names the fix.
QueryText = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS, json_schema_extra={"pattern": r"\S"})]
# A bound is an ISO date or date-time; anything else is refused with 400.
DATE_SCHEMA: dict[str, Any] = {"type": "string", "anyOf": [{"format": "date"}, {"format": "date-time"}]}
DateText = Annotated[str, WithJsonSchema(DATE_SCHEMA)]
SORT_DESCRIPTION = (
    "relevance: best first; date: the results by capture date, newest first (undated ones last, by relevance)."
    " `closest` stays by relevance"
)


def _given(name: str) -> dict[str, Any]:
    """The JSON Schema of an object whose field `name` is there and not null (null counts as absent)."""
    return {"required": [name], "properties": {name: {"not": {"type": "null"}}}}


class TermIn(BaseModel):
    """One weighted term: a text or an indexed image id; negative weights subtract."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"oneOf": [_given("text"), _given("image_id")]})
    text: QueryText | None = None
    image_id: str | None = None
    weight: float = Field(1.0, ge=-MAX_WEIGHT, le=MAX_WEIGHT)


class FiltersIn(BaseModel):
    """Metadata conditions; dates are ISO (YYYY-MM-DD or a date-time), inclusive."""

    model_config = ConfigDict(extra="forbid")
    taken_after: DateText | None = None
    taken_before: DateText | None = None
    folder: str | None = Field(None, max_length=1000, description="relative to the source root, with sub-folders")
    min_width: int | None = Field(None, ge=0, le=1_000_000)
    min_height: int | None = Field(None, ge=0, le=1_000_000)


class RerankIn(BaseModel):
    """Weights of the metadata rerank (docs/API.md gives the formula); both 0 by default."""

    model_config = ConfigDict(extra="forbid")
    recency: float = Field(0.0, ge=0.0, le=MAX_RERANK_WEIGHT)
    resolution: float = Field(0.0, ge=0.0, le=MAX_RERANK_WEIGHT)


class SearchIn(BaseModel):
    """A search: at least one of `query`, `image_id` or `terms`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"anyOf": [_given(name) for name in ("query", "image_id", "terms")]},
    )
    query: QueryText | None = Field(
        None,
        description="what to look for, as a person types it (weight 1), read into terms as the CLI reads it: "
        "'70% lake + 30% mountains', 'lake, not snow', 'lake without snow', 'lake -snow'",
    )
    top_k: int = Field(50, ge=1, le=MAX_K)
    negative: QueryText | None = Field(None, description="text to steer away from (weight -1)")
    image_id: str | None = Field(None, description="an indexed image to find similar ones to (weight 1)")
    terms: list[TermIn] | None = Field(None, min_length=1, max_length=MAX_TERMS)
    filters: FiltersIn | None = None
    rerank: RerankIn | None = None
    min_relevance: float | None = Field(
        None, ge=0, le=100, description="only results rated at least this % relevant (default 50; 0 for test:tiny)"
    )
    sort: Sort = Field("relevance", description=SORT_DESCRIPTION)

    def query_object(self, default_min_relevance: float | None = None) -> Query:
        """The search this body asks for, validated by the application layer; `default_min_relevance` stands
        in for a min_relevance the body does not give (None: the model's default)."""
        line = read_line(self.query) if self.query is not None else None  # its dates narrow the filters
        terms = list(line.terms) if line is not None else []
        terms += [Term(image_id=self.image_id)] if self.image_id is not None else []
        terms += [Term(weight=t.weight, text=t.text, image_id=t.image_id) for t in self.terms or ()]
        terms += [Term(weight=NEGATIVE_WEIGHT, text=self.negative)] if self.negative is not None else []
        filters = Filters(**self.filters.model_dump()) if self.filters else None
        filters = line.filters(filters) if line is not None else filters
        rerank = Rerank(**self.rerank.model_dump()) if self.rerank else None
        min_relevance = default_min_relevance if self.min_relevance is None else self.min_relevance
        return Query(tuple(terms), self.top_k, filters, rerank, min_relevance, self.sort)


class ImageOut(BaseModel):
    image_id: str
    image_url: str
    thumbnail_url: str
    display_url: str = Field(description="what a browser can show: the original, or a JPEG rendition of it")
    width: int
    height: int
    file_name: str
    folder: str
    size_bytes: int
    taken_at: str | None
    words: str | None = Field(
        None,
        description="the words read in the photo (`index --ocr`): in /images/{id}/meta, and in the results of a"
        " query with a quoted phrase",
    )


class FolderTileOut(BaseModel):
    folder: str = Field(description="relative to the source root; search within it with the `folder` filter")
    images: int = Field(description="photos in it, sub-folders included")
    cover: ImageOut = Field(description="its newest photo")


class OverviewOut(BaseModel):
    folder: str = Field(description="the folder overviewed; '' for the whole library")
    recent: list[ImageOut] = Field(description="newest capture first; photos without a capture date last")
    folders: list[FolderTileOut] = Field(description="the folders directly inside `folder`, by name")


class ResultOut(ImageOut):
    rank: int
    similarity: float
    relevance: float | None = Field(None, description="0-100, how likely the image matches (docs/API.md)")
    match: Literal["strong", "possible", "weak"] | None = Field(None, description="the relevance in a word")


class TermOut(BaseModel):
    """One term as the server read the search: a text, an indexed image or the uploaded image, with the weight
    the search gave it (positive weights are scaled to sum to 1 when ranked)."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [_given("text"), _given("image_id"), _given("image")]})
    text: str | None = None
    image_id: str | None = None
    image: Literal["uploaded"] | None = Field(None, description="the image sent with POST /search/image")
    weight: float


class PlaceOut(BaseModel):
    name: str
    box: tuple[float, float, float, float] = Field(description="south, north, west, east, in degrees")


class FiltersOut(BaseModel):
    """The conditions the search applied: those given, narrowed by the dates, place and quoted phrases a typed
    query names."""

    taken_after: str | None
    taken_before: str | None
    folder: str | None
    min_width: int | None
    min_height: int | None
    place: PlaceOut | None = Field(None, description="photos taken there (EXIF GPS), as a typed query named it")
    words: list[str] | None = Field(None, description="phrases the words read in a photo hold (quoted in the query)")


class SearchOut(BaseModel):
    success: Literal[True]
    query: str
    terms: list[TermOut] = Field(description="the query as read: '70% lake + 30% hills' is two terms, 0.7 and 0.3")
    filters: FiltersOut
    sort: Sort = Field(description="the order of `results`; each result's `rank` is its place by relevance")
    count: int
    results: list[ResultOut]
    min_relevance: float
    weaker: list[ResultOut] = Field(description="the rest of the top_k below min_relevance, best first")
    closest: list[ResultOut] = Field(description="when no result reaches min_relevance: the first few of weaker")
    timings_ms: dict[str, float]
    cached: bool


class ErrorOut(BaseModel):
    success: Literal[False]
    error: str


class HealthOut(BaseModel):
    status: Literal["ok"]
    images: int


class UpgradeOut(BaseModel):
    model: str = Field(description="the model the index is being re-embedded with")
    from_model: str = Field(description="the model answering until the swap")
    state: str = Field(description="embedding, waiting for the writer, catching up, choosing the vector index")
    done: int = Field(description="images with a new vector")
    total: int
    embedded: int = Field(description="images the new model embedded in this run")
    images_per_second: float
    seconds_left: float | None = Field(description="the estimate at the current rate; null before it is known")
    running: bool = Field(description="false when the upgrade was stopped: `viewfinder upgrade --model` resumes it")


class StatsOut(BaseModel):
    images: int
    skipped: int
    model: str
    dim: int
    index_type: str
    bytes_on_disk: int
    folders: list[str]
    # Two strings, as an array of strings of length 2: `prefixItems` (a tuple) is read as an invalid `items`
    # by tools that convert OpenAPI 3.1 schemas to older drafts.
    taken_range: Annotated[list[str], Field(min_length=2, max_length=2)] | None = Field(
        description="[earliest, latest] capture date, or null when no image has one"
    )
    generation: int
    example_queries: list[str]
    query_model: str | None = Field(None, description="the multilingual model encoding text queries, if any")
    upgrade: UpgradeOut | None = Field(None, description="a model upgrade under way (`viewfinder upgrade`), if any")
    previous_model: str | None = Field(None, description="the model `viewfinder upgrade --rollback` brings back")


class JobOut(BaseModel):
    id: str
    state: Literal["running", "done", "failed"]
    roots: list[str]
    missing_roots: list[str]
    started_at: str
    finished_at: str | None
    report: dict[str, Any] | None
    error: str | None
    generation: int | None


class ReindexOut(BaseModel):
    success: Literal[True]
    job: JobOut | None


class UpgradeIn(BaseModel):
    model: str = Field(min_length=1, max_length=1000, description="the new model, as `viewfinder upgrade --model`")
    drop_query_model: bool = Field(
        False, description="upgrade even though the server's query model is aligned with the old model only"
    )


class UpgradeJobDetail(BaseModel):
    id: str
    model: str
    state: Literal["running", "done", "failed"]
    started_at: str
    finished_at: str | None
    report: dict[str, Any] | None = Field(description="`viewfinder upgrade --json`'s summary once done")
    error: str | None


class UpgradeJobOut(BaseModel):
    success: Literal[True]
    job: UpgradeJobDetail | None


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorOut, "description": HTTPStatus(code).phrase} for code in codes}


def image_json(image: ImageRecord) -> dict[str, Any]:
    return {
        "image_id": str(image.id),
        "image_url": f"/images/{image.id}",
        "thumbnail_url": f"/thumbnails/{image.id}",
        "display_url": f"/renditions/{image.id}" if image.format in NOT_FOR_BROWSERS else f"/images/{image.id}",
        "width": image.width,
        "height": image.height,
        "file_name": image.file_name,
        "folder": image.folder,
        "size_bytes": image.size,
        "taken_at": image.taken_at,
    }


def stats_json(info: IndexInfo) -> dict[str, Any]:
    """The part of an index's summary the service shows (no paths of sources on disk)."""
    return {name: getattr(info, name) for name in StatsOut.model_fields}


def job_json(job: ReindexJob | UpgradeJob) -> dict[str, Any]:
    return {
        **asdict(job),
        "id": str(job.id),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at) if job.finished_at is not None else None,
    }


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


DuplicateKind = Literal["exact", "near", "similar"]
KIND_TEXT = "exact: the same bytes; near: near-identical (the default threshold); similar: similar shots (0.96)"


class DuplicateGroupOut(BaseModel):
    similarity: float
    exact: bool
    suggested_keep: str = Field(description="the image to keep: most pixels, then EXIF fields, file size, oldest")
    recoverable_bytes: int = Field(description="the bytes of the other images, freed by resolving the group")
    images: list[ImageOut]


class DuplicatesOut(BaseModel):
    success: Literal[True]
    threshold: float | None = Field(
        description="the threshold used: the one asked, rounded to steps of 0.005; null for exact copies"
    )
    kind: DuplicateKind | None = Field(description="the kind asked, or null when a threshold was")
    count: int
    recoverable_bytes: int = Field(description="the bytes resolving every group with its suggestion frees")
    resolvable: bool = Field(description="whether this server can move duplicates to its review folder")
    groups: list[DuplicateGroupOut]


class ResolveIn(BaseModel):
    """One group resolved: `keep` stays, the other `images` move to the server's review folder."""

    model_config = ConfigDict(extra="forbid")
    keep: str = Field(max_length=20)
    images: list[Annotated[str, Field(max_length=20)]] = Field(min_length=2, max_length=1000)


class ResolveAllIn(BaseModel):
    """Every group at a kind or threshold resolved with its suggestion (default: near-identical)."""

    model_config = ConfigDict(extra="forbid")
    kind: DuplicateKind | None = Field(None, description=KIND_TEXT)
    threshold: float | None = Field(None, gt=0, le=1, description="instead of a kind")


class MovedOut(BaseModel):
    image_id: str = Field(description="the id the image had (an undo indexes it again under a new id)")
    file_name: str
    folder: str
    size_bytes: int


class SkippedOut(BaseModel):
    file_name: str
    reason: str


class ReviewOut(BaseModel):
    success: Literal[True]
    dry_run: bool
    moved: list[MovedOut]
    skipped: list[SkippedOut] = Field(description="files left in place: changed or missing since they were listed")
    freed_bytes: int


class UndoOut(BaseModel):
    success: Literal[True]
    restored: list[MovedOut]
    skipped: list[SkippedOut]


def size_query(offered: tuple[int, ...], what: str) -> Any:
    """A `size` query parameter that takes one of `offered` (the first is its default), listed in the API document."""
    text = f"longest side in pixels, one of {', '.join(map(str, offered))}: {what}; never enlarged"
    return fastapi.Query(offered[0], description=text, json_schema_extra={"enum": list(offered)})


def offered_size(size: int, offered: tuple[int, ...]) -> int:
    """`size` when it is one of the `offered` sizes (each is made once and cached), else a 422 that lists them."""
    if size not in offered:
        sizes = " or ".join(map(str, offered))
        raise HTTPException(422, f"Invalid size: {sizes} (each made once and cached), not {size}.")
    return size


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names this ETag (or any, with *)."""
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags
