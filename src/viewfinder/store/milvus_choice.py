"""Choosing a Milvus server collection's search structure by measurement, the way FAISS's index is chosen
(`ann_choice`): the same calibration queries (the model's text prompts, else held-out stored vectors), the same
exact truth and the same recall target. Candidates are exact search (FLAT) and HNSW graphs of a few shapes
(M, efConstruction), each with the smallest `ef` of EF_STEPS reaching the target; the fastest by median
single-query latency wins, exact search on ties, so the collection is never slower than exact search.

A Milvus field holds one index at a time, so the candidates are built and timed one after another rather
than query by query in turn as FAISS's are; the winner is built again unless it was the last one measured.
Milvus Lite is never measured: it searches by brute force whatever index it is given (BENCHMARKS.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from viewfinder.store.ann_choice import EF_STEPS, Calibration, K, calibrate, make_calibration
from viewfinder.store.vector_store import IndexParams

# (M, efConstruction), cheapest build first. M 16 and 32 bracket the usual choice for 384-768 dims; a wider
# construction search makes a better graph, which reaches the target at a smaller (faster) search breadth.
SHAPES = ((16, 100), (16, 200), (32, 200))
EXACT = (0, 0)
# A graph searches at least k wide, so a breadth below the calibration's K + 1 would be measured as K + 1 and
# then used as itself by a search for fewer results: only breadths above K are measured, and kept.
GRAPH_BREADTHS = tuple(ef for ef in EF_STEPS if ef > K)


class Indexable(Protocol):
    """What the chooser needs of a collection: replace its index, and search it at a breadth."""

    def build_index(self, shape: tuple[int, int]) -> None: ...

    def search_ids(self, queries: np.ndarray, k: int, ef: int) -> np.ndarray: ...


@dataclass(frozen=True)
class Measured:
    """One candidate as measured: its shape ((0, 0) for exact), ef, recall@50, p50 and build seconds."""

    shape: tuple[int, int]
    ef: int
    recall: float
    p50_ms: float
    build_s: float


def choose(
    collection: Indexable,
    ids: np.ndarray,
    vectors: np.ndarray,
    queries: np.ndarray | None,
    seed: int = 0,
    shapes: tuple[tuple[int, int], ...] | None = None,
) -> tuple[IndexParams, list[Measured]]:
    """Measures exact search and the HNSW `shapes` (default SHAPES) on the collection (which holds `ids`,
    `vectors`), leaves the winner built, and returns its parameters with every candidate's measurement (the
    winner's first)."""
    calibration = make_calibration(ids, vectors, queries, np.random.default_rng(seed))
    candidates = (EXACT, *(SHAPES if shapes is None else shapes))
    measured = [found for shape in candidates if (found := _measure(collection, calibration, shape))]
    best = min(measured, key=lambda one: one.p50_ms)  # exact search comes first, so it wins ties
    if best is not measured[-1]:
        collection.build_index(best.shape)
    params = IndexParams(
        "milvus",
        trained_size=len(ids),
        ef_search=best.ef,
        recall_at_50=best.recall,
        p50_ms=best.p50_ms,
        calibrated_on=calibration.source,
        hnsw_m=best.shape[0],
        ef_construction=best.shape[1],
    )
    return params, [best, *(one for one in measured if one is not best)]


def _measure(collection: Indexable, calibration: Calibration, shape: tuple[int, int]) -> Measured | None:
    """Builds one candidate and finds its smallest ef reaching the target; None when none does."""
    started = time.perf_counter()
    collection.build_index(shape)
    build_s = round(time.perf_counter() - started, 2)

    def search_at(ef: int) -> np.ndarray:
        return collection.search_ids(calibration.queries, K + 1, ef)

    chosen = calibrate(calibration, search_at, (0,) if shape == EXACT else GRAPH_BREADTHS)
    if chosen is None:
        return None
    ef, recall = chosen
    search: Callable[[np.ndarray], object] = lambda q: collection.search_ids(q, K, ef)  # noqa: E731
    p50 = calibration.latencies_in_turn_ms([search])[0]
    return Measured(shape, ef, recall, p50, build_s)
