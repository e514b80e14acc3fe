"""Search routes: text, indexed images and weighted terms as JSON, and uploaded images as multipart forms."""

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import JSONResponse, Response

from viewfinder.search import query as algebra
from viewfinder.search import ranking, relevance
from viewfinder.search.engine import MAX_K, Filters
from viewfinder.search.lru import LRUCache
from viewfinder.search.query import Term
from viewfinder.serve.guards import json_body, multipart_body
from viewfinder.serve.live import LiveIndex
from viewfinder.serve.schemas import SearchIn, SearchOut, error_responses, result_json


def search_routes(
    live: LiveIndex, responses: LRUCache[dict[str, Any]], guarded: list, default_min_relevance: float | None = None
) -> APIRouter:
    """POST /search and POST /search/image, answering from `responses` when the same query was just asked.

    Searches that give no min_relevance use `default_min_relevance` (None: the model's default).
    """
    router = APIRouter()

    def answer(
        terms: list[Term],
        k: int,
        filters: Filters | None = None,
        rerank: ranking.Rerank | None = None,
        min_relevance: float | None = None,
    ) -> JSONResponse:
        started = time.perf_counter()
        min_relevance = default_min_relevance if min_relevance is None else min_relevance
        cacheable = all(term.image_bytes is None for term in terms)
        with live.engine() as engine:
            query = (tuple(algebra.validate(terms)), k, filters, rerank, min_relevance)
            key = (engine.generation, *query) if cacheable else None
            cached = responses.get(key) if key else None
            if cached is not None:
                elapsed = round((time.perf_counter() - started) * 1000, 3)
                timings = {"encode": 0.0, "search": 0.0, "rerank": 0.0, "total": elapsed}
                return JSONResponse({**cached, "timings_ms": timings, "cached": True})
            rated = relevance.search(engine, terms, k, filters, rerank, min_relevance)
        result = rated.result
        body = {
            "success": True,
            "query": result.query,
            "count": len(result.hits),
            "results": [result_json(hit) for hit in result.hits],
            "min_relevance": rated.min_relevance,
            "closest": [result_json(hit) for hit in rated.closest],
        }
        if key:
            responses.put(key, body)
        return JSONResponse({**body, "timings_ms": result.timings_ms, "cached": False})

    @router.post(
        "/search",
        response_model=SearchOut,
        dependencies=[*guarded, Depends(json_body)],
        responses=error_responses(400, 401, 404, 413, 415, 422),
    )
    def search(body: SearchIn) -> Response:
        """Ranks the library for a text, an indexed image, weighted terms or a mix, with optional filters."""
        filters = Filters(**body.filters.model_dump()) if body.filters else None
        rerank = ranking.Rerank(**body.rerank.model_dump()) if body.rerank else None
        return answer(body.query_terms(), body.top_k, filters, rerank, body.min_relevance)

    @router.post(
        "/search/image",
        response_model=SearchOut,
        dependencies=[*guarded, Depends(multipart_body)],
        responses=error_responses(400, 401, 404, 413, 415, 422),
    )
    def search_image(
        image: Annotated[UploadFile, File(description="the query image (JPEG, PNG, WebP, ...)")],
        top_k: Annotated[int, Form(ge=1, le=MAX_K)] = 50,
        query: Annotated[str | None, Form(description="text to add")] = None,
        negative: Annotated[str | None, Form(description="text to steer away from (weight -1)")] = None,
        image_weight: Annotated[float, Form(ge=-algebra.MAX_WEIGHT, le=algebra.MAX_WEIGHT)] = 1.0,
        query_weight: Annotated[float, Form(ge=-algebra.MAX_WEIGHT, le=algebra.MAX_WEIGHT)] = 1.0,
        taken_after: Annotated[str | None, Form()] = None,
        taken_before: Annotated[str | None, Form()] = None,
        folder: Annotated[str | None, Form(max_length=1000)] = None,
        min_relevance: Annotated[float | None, Form(ge=0, le=100)] = None,
    ) -> Response:
        """Ranks the library by similarity to an uploaded image, optionally with texts, weights and filters."""
        terms = [Term(weight=image_weight, image_bytes=image.file.read())]
        # HTML forms send empty fields for unused inputs: empty means absent here.
        terms += [Term(weight=query_weight, text=query)] if query else []
        terms += [Term(weight=algebra.NEGATIVE_WEIGHT, text=negative)] if negative else []
        conditions = {
            "taken_after": taken_after or None,
            "taken_before": taken_before or None,
            "folder": folder or None,
        }
        filters = Filters(**conditions) if any(conditions.values()) else None
        return answer(terms, top_k, filters, min_relevance=min_relevance)

    return router
