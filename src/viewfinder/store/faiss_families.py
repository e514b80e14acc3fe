"""The candidates the vector index is chosen among (`faiss_index.VectorIndex.build`): exact search, HNSW32 and
IVF, each with the cheapest search setting that reaches the target recall on the calibration queries, and the
search the chooser times. A candidate is `(index or None, params, search)`, or None when no setting reaches the
target."""

from __future__ import annotations

import math

import numpy as np

from viewfinder.store.ann_choice import EF_STEPS, Calibration, K, calibrate
from viewfinder.store.vector_store import HNSW_M, IndexParams

# Training costs ~ points x nlist x iterations and adding costs ~ n x nlist; these bounds keep a million-vector
# build near 90 s on two cores (BENCHMARKS.md). 40 points per list is just above the 39 below which faiss warns.
MAX_NLIST = 2048
TRAINING_POINTS_PER_LIST = 40
TRAINING_ITERATIONS = 10
MIN_POINTS_PER_LIST = 39  # faiss warns that k-means is unreliable below this


def ivf_nlist(n: int) -> int:
    """The IVF list count for n vectors: about 4·√n, between 64 and MAX_NLIST."""
    return int(min(MAX_NLIST, max(64, round(4 * math.sqrt(n)))))


def nprobe_steps(nlist: int) -> list[int]:
    """1, 2, 3, 4, 6, 8, 11, 16, 23, ...: steps of √2, fine enough that the chosen nprobe scans at most
    ~40% more lists than the recall target needs (doubling could scan twice as many)."""
    return sorted({min(nlist, round(2 ** (i / 2))) for i in range(int(2 * math.log2(nlist)) + 2)})


def exact_candidate(vectors: np.ndarray, calibration: Calibration) -> tuple:
    """Exact search, run in place over the vectors (the index itself is built only if it wins)."""
    import faiss

    return None, IndexParams("flat", recall_at_50=1.0), lambda q: faiss.knn(q, vectors, K, faiss.METRIC_INNER_PRODUCT)


def hnsw_index(ids: np.ndarray, vectors: np.ndarray, dim: int, ef_search: int):
    import faiss

    graph = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efSearch = ef_search
    index = faiss.IndexIDMap2(graph)
    index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, np.int64))
    return index


def hnsw_candidate(ids, vectors, dim: int, calibration: Calibration, rng) -> tuple | None:
    """HNSW32 with the smallest efSearch of EF_STEPS reaching the target, and its search; None when none does."""
    import faiss

    index = hnsw_index(ids, vectors, dim, EF_STEPS[0])
    graph = faiss.downcast_index(index.index)

    def search_at(ef: int) -> np.ndarray:
        graph.hnsw.efSearch = ef
        return index.search(calibration.queries, K + 1)[1]

    chosen = calibrate(calibration, search_at, EF_STEPS)
    if chosen is None:
        return None
    graph.hnsw.efSearch = chosen[0]
    return index, IndexParams("hnsw", ef_search=chosen[0], recall_at_50=chosen[1]), lambda q: index.search(q, K)


def ivf_candidate(ids, vectors, dim: int, calibration: Calibration, rng) -> tuple | None:
    """IVF with about 4·√n lists, trained on a sample, with the smallest nprobe reaching the target."""
    import faiss

    nlist = ivf_nlist(len(ids))
    if len(ids) < MIN_POINTS_PER_LIST * nlist:  # too few points to train the lists (below ~24k vectors)
        return None
    sample_size = min(len(vectors), TRAINING_POINTS_PER_LIST * nlist)
    sample = vectors[np.sort(rng.choice(len(vectors), sample_size, replace=False))]
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = 0
    index.cp.niter = TRAINING_ITERATIONS
    index.train(np.ascontiguousarray(sample))
    index.add_with_ids(vectors, ids)

    def search_at(nprobe: int) -> np.ndarray:
        index.nprobe = nprobe
        return index.search(calibration.queries, K + 1)[1]

    chosen = calibrate(calibration, search_at, nprobe_steps(nlist))
    if chosen is None:
        return None
    index.nprobe = chosen[0]
    params = IndexParams("ivf", nlist=nlist, nprobe=chosen[0], recall_at_50=chosen[1])
    return index, params, lambda q: index.search(q, K)
