"""Search routes: text, indexed images and weighted terms as JSON, and uploaded images as multipart forms."""

import json
import time
from dataclasses import replace
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import WithJsonSchema

from viewfinder.app import LiveIndex
from viewfinder.app.query import MAX_K, MAX_WEIGHT, NEGATIVE_WEIGHT, Filters, Query, Term, read_line
from viewfinder.app.records import answer_dict
from viewfinder.app.serving import LRUCache, one_thread_per_query
from viewfinder.serve.guards import json_body, multipart_body
from viewfinder.serve.schemas import DATE_SCHEMA, SORT_DESCRIPTION, SearchIn, SearchOut, error_responses, image_json
from viewfinder.settings import Sort


def _form_field(schema: dict[str, Any]) -> WithJsonSchema:
    """How an optional form field is documented: a form has no null, an absent (or empty) field is the default."""
    return WithJsonSchema(schema)


FormText = Annotated[str | None, _form_field({"type": "string"})]
FormDate = Annotated[str | None, _form_field(DATE_SCHEMA)]
FormFolder = Annotated[str | None, _form_field({"type": "string", "maxLength": 1000})]
FormRelevance = Annotated[float | None, _form_field({"type": "number", "minimum": 0, "maximum": 100})]


def search_routes(
    live: LiveIndex, responses: LRUCache[bytes], guarded: list, default_min_relevance: float | None = None
) -> APIRouter:
    """POST /search and POST /search/image, answering from `responses` when the same query was just asked.

    Searches that give no min_relevance use `default_min_relevance` (None: the model's default).
    """
    router = APIRouter()

    def answer(query: Query) -> Response:
        started = time.perf_counter()
        # OpenMP's thread count is set per thread, and routes run on the server's worker threads, not on the
        # thread `serve` set it on: unset, each vector search here ran on two threads (19 ms instead of 0.5
        # under load, BENCHMARKS.md). Setting it again costs microseconds.
        one_thread_per_query()
        with live.index() as index:
            key = (index.catalog_state(), query) if query.cacheable else None
            cached = responses.get(key) if key else None
            if cached is not None:
                elapsed = round((time.perf_counter() - started) * 1000, 3)
                return _with_timings(cached, {"encode": 0.0, "search": 0.0, "rerank": 0.0, "total": elapsed}, True)
            result = index.search(query)
        rendered = bytes(JSONResponse({"success": True, **answer_dict(result, image_json)}).body)
        if key:
            responses.put(key, rendered, nbytes=len(rendered))
        return _with_timings(rendered, result.timings_ms, False)

    @router.post(
        "/search",
        response_model=SearchOut,
        dependencies=[*guarded, Depends(json_body)],
        responses=error_responses(400, 401, 403, 404, 413, 415, 422),
    )
    def search(body: SearchIn) -> Response:
        """Ranks the library for a text, an indexed image, weighted terms or a mix, with optional filters."""
        return answer(body.query_object(default_min_relevance))

    @router.post(
        "/search/image",
        response_model=SearchOut,
        dependencies=[*guarded, Depends(multipart_body)],
        responses=error_responses(400, 401, 403, 404, 413, 415, 422, 503),
    )
    def search_image(
        image: Annotated[
            UploadFile,
            # An empty file is refused (400); a file that is not an image is too, which no schema can say.
            File(description="the query image (JPEG, PNG, WebP, ...)", json_schema_extra={"minLength": 1}),
        ],
        top_k: Annotated[int, Form(ge=1, le=MAX_K)] = 50,
        query: Annotated[FormText, Form(description="text to add, as a person types it (as in POST /search)")] = None,
        negative: Annotated[FormText, Form(description="text to steer away from (weight -1)")] = None,
        image_weight: Annotated[float, Form(ge=-MAX_WEIGHT, le=MAX_WEIGHT)] = 1.0,
        query_weight: Annotated[float, Form(ge=-MAX_WEIGHT, le=MAX_WEIGHT)] = 1.0,
        taken_after: Annotated[FormDate, Form()] = None,
        taken_before: Annotated[FormDate, Form()] = None,
        folder: Annotated[FormFolder, Form(max_length=1000)] = None,
        min_relevance: Annotated[FormRelevance, Form(ge=0, le=100)] = None,
        sort: Annotated[Literal[Sort, ""], Form(description=SORT_DESCRIPTION)] = "relevance",
    ) -> Response:
        """Ranks the library by similarity to an uploaded image, optionally with texts, weights and filters."""
        terms = [Term(weight=image_weight, image_bytes=image.file.read())]
        # HTML forms send empty fields for unused inputs: empty means absent here.
        # A typed query's parts keep their weights relative to each other, scaled by query_weight; its dates
        # narrow the date filters.
        line = read_line(query) if query else None
        terms += [replace(term, weight=term.weight * query_weight) for term in line.terms] if line else []
        terms += [Term(weight=NEGATIVE_WEIGHT, text=negative)] if negative else []
        given = Filters(taken_after=taken_after or None, taken_before=taken_before or None, folder=folder or None)
        filters = line.filters(given) if line else given
        threshold = default_min_relevance if min_relevance is None else min_relevance
        return answer(Query(tuple(terms), top_k, filters, min_relevance=threshold, sort=sort or "relevance"))

    return router


def _with_timings(body: bytes, timings: dict[str, float], cached: bool) -> Response:
    """An answer's JSON with its timings and whether it came from the cache added at the end. The cache keeps
    answers as rendered JSON, so its byte budget is the memory it holds and a hit is not serialised again."""
    tail = json.dumps({"timings_ms": timings, "cached": cached}, separators=(",", ":")).encode()
    return Response(body[:-1] + b"," + tail[1:], media_type="application/json")
