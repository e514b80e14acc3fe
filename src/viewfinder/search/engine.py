"""The one search pass over an index: encode the terms, search the vector store, rerank, rate.

`Index.search` (app/) owns the parts (catalog, vector store, models, calibration) and calls `run` with them;
every front (CLI, HTTP, Lambda, Python API) goes through that one call.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from itertools import islice

import numpy as np

from viewfinder.search import ordering, ranking, relevance, term_matches
from viewfinder.search import query as algebra
from viewfinder.search.encoding import TermEncoder, parse_image_id
from viewfinder.search.query import MAX_K, Query, Term
from viewfinder.search.results import Answer, Hit
from viewfinder.store.catalog import Catalog
from viewfinder.store.catalog_rows import ImageRecord
from viewfinder.store.filters import Filters
from viewfinder.store.vector_store import VectorStore
from viewfinder.store.words import words_of

# Extra results fetched beyond k, for those the catalog deleted since the vector index was loaded.
OVERFETCH_MIN = 16


def run(
    query: Query,
    encoder: TermEncoder,
    catalog: Catalog,
    vectors: VectorStore,
    calibration: Callable[[], relevance.Calibration],
    present: Callable[[ImageRecord], bool],
    present_share: float = 1.0,
) -> Answer:
    """Answers a query: the top k hits that pass its filters and the images still there (`present`, about
    `present_share` of the index: the rest is under sources not there now), reranked when it asks, rated
    against the index's `calibration` and cut at its min_relevance."""
    encoder.warm(query.needs_text_model, query.needs_image_model)
    started = time.perf_counter()
    term_vectors = encoder.vectors(query.terms, lambda image_id: catalog.vector_of(image_id, encoder.dim))
    query_vector = algebra.combine(term_vectors, query.terms)
    encoded = time.perf_counter()
    # The cut is found among at least RATED hits, whatever k: a query's matches are judged against each other.
    pool_size = max(query.k, relevance.RATED)
    fetch = pool_size if query.rerank is None else ranking.candidates(query.k, MAX_K)
    # "Find similar" answers with the other images: the query's own images are what the person already has.
    own = {parse_image_id(term.image_id) for term in query.terms if term.image_id is not None and term.weight > 0}

    def shown(record: ImageRecord) -> bool:
        return record.id not in own and present(record)

    pool = ranked(query_vector, fetch, query.filters, catalog, vectors, shown, present_share)
    searched = time.perf_counter()
    hits = pool if query.rerank is None else ranking.rerank_hits(pool, query.rerank)
    reranked = time.perf_counter()
    min_relevance = query.min_relevance
    if min_relevance is None:
        min_relevance = relevance.default_min_relevance(encoder.random_weights)
    phrases = query.filters is not None and query.filters.words is not None
    if phrases:
        min_relevance = 0.0  # a photo holding the quoted words is a match, however its pixels rate
    if hits:
        calibrated = calibration()
        hits = relevance.rate(hits, *_rating_frame(query, query_vector, calibrated))[: query.k]
        if len(query.terms) > 1 and min_relevance > 0:

            def alone(vector: np.ndarray) -> list[Hit]:
                return ranked(vector, relevance.RATED, query.filters, catalog, vectors, shown, present_share)

            vector_of = partial(catalog.vector_of, dim=encoder.dim)
            hits = term_matches.held_to_terms(hits, query.terms, term_vectors, calibrated, alone, vector_of)
    passed = [hit.relevance is not None and hit.relevance >= min_relevance for hit in hits]
    kept = [hit for hit, ok in zip(hits, passed, strict=True) if ok]
    weaker = [hit for hit, ok in zip(hits, passed, strict=True) if not ok]
    if phrases:
        kept, weaker = _with_words(kept, catalog), _with_words(weaker, catalog)
    rated_at = time.perf_counter()
    timings = {
        "encode": (encoded - started) * 1000,
        "search": (searched - encoded) * 1000,
        "rerank": (reranked - searched) * 1000 if query.rerank is not None else 0.0,
        "total": (rated_at - started) * 1000,
    }
    rounded = {key: round(value, 3) for key, value in timings.items()}
    if query.sort == "date":
        kept = ordering.newest_first(kept)
    return Answer(
        algebra.describe(query.terms), kept, min_relevance, weaker, rounded, query.sort, query.terms, query.filters
    )


def _with_words(hits: list[Hit], catalog: Catalog) -> list[Hit]:
    """The hits with the words read in their photos, which show where a quoted phrase matched."""
    found = words_of(catalog.db, [hit.image.id for hit in hits])
    return [replace(hit, words=found.get(hit.image.id)) for hit in hits]


def _rating_frame(
    query: Query, query_vector: np.ndarray, calibration: relevance.Calibration
) -> tuple[relevance.Typical, relevance.Prior, bool, bool]:
    """What a query's hits are rated against: its typical scores over the collection, the model's prior for its
    kind (image queries: mostly image weight), whether its anchor is an identical picture and whether it is
    a single term."""
    prior = calibration.image if query.image_weighted else calibration.text
    one_term = len(query.terms) == 1
    return calibration.typical(query_vector), prior, query.image_weighted, one_term


def ranked(
    query_vector: np.ndarray,
    k: int,
    filters: Filters | None,
    catalog: Catalog,
    vectors: VectorStore,
    present: Callable[[ImageRecord], bool],
    present_share: float = 1.0,
) -> list[Hit]:
    """The top k hits that pass the filters, that the catalog still holds and that are `present`.

    The store evaluates the filters (once, its own way). While a writer works, the store still holds images
    the catalog has since deleted, and files can be gone, so the search over-fetches and fetches deeper
    (doubling, at most the whole store) until k hits are found or the store has no more. Rows under a source
    that is not there (an unplugged drive) are known absent as a whole: the first fetch is scaled up by the
    share still there, and nothing is fetched when none is.
    """
    if present_share <= 0.0:
        return []
    total = vectors.count
    fetch = min(total, math.ceil((k + max(OVERFETCH_MIN, k // 4)) / present_share))
    while True:
        pairs = vectors.top(query_vector, fetch, filters, catalog)
        records = catalog.images([i for i, _ in pairs])
        # Only until k are kept: `present` may stat a file, and the over-fetched rest are seldom needed.
        kept = list(islice(((i, s) for i, s in pairs if i in records and present(records[i])), k))
        if len(kept) >= k or len(pairs) < fetch or fetch >= total:
            return [Hit(rank, records[i], s) for rank, (i, s) in enumerate(kept, 1)]
        fetch = min(total, fetch * 2)


def warm(encoder: TermEncoder, vectors: VectorStore) -> None:
    """Loads the text encoder and runs one store search, so that lazily initialised parts (model kernels,
    vector index threads) are ready before the first user query, and proves the index answers."""
    encoder.warm(needs_text=True, needs_image=False)
    terms = (Term(text="a photo"),)
    vector = algebra.combine(encoder.vectors(terms, lambda image_id: None), terms)
    vectors.search(vector, 1, None)
