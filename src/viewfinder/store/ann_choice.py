"""Measuring index candidates on the collection itself: recall@50 against exact search and single-query latency.

The queries come from the query side whenever the caller has them: text embeddings of the typical photo
searches (`models.prompts.calibration_prompts`) made by the index's own model. Text vectors sit apart from
image vectors (the modality gap), and an ANN index tuned with image vectors as queries can miss its target on
real searches. Without a model at hand (a rebuild in the server, a repair), held-out stored vectors stand in:
each is searched for with its own match dropped, so it behaves like a new image of the collection.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

K = 50
TARGET_RECALL = 0.98
EF_STEPS = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)  # HNSW search breadths, steps of about √2, cheapest first
STORED_QUERIES = 1000  # held-out stored vectors when no text queries are given
LATENCY_QUERIES = 200  # the median of 200 single queries moves by a few percent between runs
NO_ID = np.iinfo(np.int64).min  # the "own id" of a query that is not in the collection


def recall_per_query(approx: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """Each row's share of the exact top-k ids that the approximate search found."""
    return np.asarray(
        [len(set(a[a >= 0]) & set(e[e >= 0])) / max(1, (e >= 0).sum()) for a, e in zip(approx, exact, strict=True)],
        dtype=np.float64,
    )


def recall_at_k(approx: np.ndarray, exact: np.ndarray) -> float:
    """Mean share of the exact top-k ids that the approximate search found."""
    hits = recall_per_query(approx, exact)
    return float(hits.mean()) if len(hits) else 1.0


@dataclass
class Calibration:
    """Queries with their exact top-K ids, and how a candidate is judged against them."""

    queries: np.ndarray  # (m, dim) float32
    own: np.ndarray  # (m, 1) each query's own id when it is a stored vector, else NO_ID
    truth: np.ndarray  # (m, K) exact top-K ids, own id dropped
    source: str  # 'prompts' (text queries from the model) or 'stored' (held-out stored vectors)

    def recall(self, found: np.ndarray) -> tuple[float, bool]:
        """Mean recall@K of K+1 ids per query, and whether it reaches TARGET_RECALL.

        Reaching means the mean minus its standard error is at the target: with the ~170 prompts of a bank
        the estimate's noise is a few thousandths, which near the plateau would otherwise pick a setting
        that lands below the target on other queries half the time.
        """
        hits = recall_per_query(_without(found, self.own), self.truth)
        mean = float(hits.mean())
        error = float(hits.std(ddof=1) / math.sqrt(len(hits))) if len(hits) > 1 else 0.0
        return mean, mean - error >= TARGET_RECALL

    def latencies_ms(self, searches: Sequence[Callable[[np.ndarray], object]]) -> list[float]:
        """Median single-query latency (ms) of each search over up to LATENCY_QUERIES of the queries.

        The searches take turns query by query, so a burst of load on a shared machine slows all of them
        alike instead of whichever happened to be timed then. They run with OpenMP pinned to one thread: FAISS
        splits work across queries, so a single query gains nothing from a thread team, and on a loaded machine
        the team's waits for a descheduled thread dominated (HNSW 13 ms instead of 0.5 ms at load 6), which
        made the choice depend on the load at build time.
        """
        import faiss

        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            return self.latencies_in_turn_ms(searches)
        finally:
            faiss.omp_set_num_threads(threads)

    def latencies_in_turn_ms(self, searches: Sequence[Callable[[np.ndarray], object]]) -> list[float]:
        """`latencies_ms` for searches that run outside this process's FAISS (a Milvus server): no thread pin."""
        rows = self.queries[:LATENCY_QUERIES]
        for search in searches:
            for row in rows[:5]:  # warm caches and thread pools
                search(row[None])
        times = np.zeros((len(searches), len(rows)))
        for column, row in enumerate(rows):
            for line, search in enumerate(searches):
                started = time.perf_counter()
                search(row[None])
                times[line, column] = time.perf_counter() - started
        return [round(float(np.median(line)) * 1000, 4) for line in times]


def make_calibration(
    ids: np.ndarray, vectors: np.ndarray, queries: np.ndarray | None, rng: np.random.Generator
) -> Calibration:
    """The calibration set: the given (text) queries, else STORED_QUERIES held-out stored vectors."""
    import faiss

    if queries is not None and len(queries):
        chosen = np.ascontiguousarray(queries, dtype=np.float32)
        own = np.full((len(chosen), 1), NO_ID, np.int64)
        source = "prompts"
    else:
        picked = rng.choice(len(vectors), min(STORED_QUERIES, len(vectors)), replace=False)
        chosen = np.ascontiguousarray(vectors[picked], dtype=np.float32)
        own = ids[picked][:, None]
        source = "stored"
    # faiss.knn scans the vectors in place; an exact index would copy all of them (2 GB at a million).
    _, positions = faiss.knn(chosen, vectors, K + 1, faiss.METRIC_INNER_PRODUCT)
    truth = np.where(positions >= 0, ids[positions], -1)  # faiss pads with -1 past the last vector
    return Calibration(chosen, own, _without(truth, own), source)


def calibrate(
    calibration: Calibration, search_at: Callable[[int], np.ndarray], steps: Sequence[int]
) -> tuple[int, float] | None:
    """The first step (nprobe, efSearch: cheapest first) whose K+1 results reach the target, with its recall;
    None when even the last does not."""
    for step in steps:
        recall, reached = calibration.recall(search_at(step))
        if reached:
            return step, round(recall, 4)
    return None


def _without(found: np.ndarray, own: np.ndarray) -> np.ndarray:
    """Each row's first K ids other than the query's own id."""
    return np.stack([row[row != me][:K] for row, me in zip(found, own[:, 0], strict=True)])
