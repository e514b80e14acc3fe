"""The FAISS indexes `viewfinder bench search` measures: the default index as `viewfinder index` chooses it,
and the plain exact, IVF and HNSW baselines beside it, built the way the default would build them.

Each index comes with its search function ((m, dim) queries -> (m, k) ids) and `index_bytes` measures it, so
the benchmark itself never touches FAISS.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

from viewfinder.store.faiss_index import TRAINING_ITERATIONS, TRAINING_POINTS_PER_LIST, VectorIndex, choose_params

Search = Callable[[np.ndarray], np.ndarray]


def default_index(ids: np.ndarray, base: np.ndarray, k: int) -> tuple[Search, object, str]:
    """The index `viewfinder index` would choose for these vectors: its search, the index, a description."""
    built = VectorIndex.build(ids, base, base.shape[1])
    params = built.params
    setting = {"ivf": f",nprobe={params.nprobe}", "hnsw": f",efSearch={params.ef_search}"}.get(params.kind, "")
    detail = f"{params.family}{setting}"
    if params.recall_at_50 is not None:  # measured when chosen (not for small, always-exact indexes)
        detail += f", chose at recall {params.recall_at_50}, p50 {params.p50_ms} ms"
    return lambda q: built.search(q, k)[1], built.index, detail


def default_nlist(n: int) -> int:
    """The number of IVF lists the default gives n vectors (also below the size where it uses IVF at all)."""
    return choose_params(n).nlist or round(4 * math.sqrt(n))


def flat(base: np.ndarray, k: int) -> tuple[Search, object]:
    """Exact search over the vectors."""
    import faiss

    index = faiss.IndexFlatIP(base.shape[1])
    index.add(base)
    return lambda q: index.search(q, k)[1], index


def ivf(base: np.ndarray, factory: str) -> tuple[Callable[[int, int], Search], object]:
    """An IVF index trained the way the default trains one (TRAINING_ITERATIONS over TRAINING_POINTS_PER_LIST
    sampled points per list): a function of (nprobe, k) making its search, and the index."""
    import faiss

    index = faiss.index_factory(base.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
    lists = faiss.extract_index_ivf(index)
    lists.cp.niter = TRAINING_ITERATIONS
    rng = np.random.default_rng(0)
    picked = rng.choice(len(base), min(len(base), TRAINING_POINTS_PER_LIST * lists.nlist), replace=False)
    index.train(base[np.sort(picked)])
    index.add(base)

    def searching(nprobe: int, k: int) -> Search:
        params = faiss.SearchParametersIVF(nprobe=nprobe)
        return lambda q: index.search(q, k, params=params)[1]

    return searching, index


def hnsw(base: np.ndarray) -> tuple[Callable[[int, int], Search], object]:
    """An HNSW32 graph: a function of (efSearch, k) making its search, and the index."""
    import faiss

    index = faiss.IndexHNSWFlat(base.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    index.add(base)

    def searching(ef: int, k: int) -> Search:
        params = faiss.SearchParametersHNSW(efSearch=ef)
        return lambda q: index.search(q, k, params=params)[1]

    return searching, index


@contextmanager
def one_thread() -> Iterator[None]:
    """Pins FAISS's OpenMP to one thread for the duration (a single query gains nothing from a team)."""
    import faiss

    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(threads)


def index_bytes(index: object) -> int:
    """The size of an index (one returned here) as FAISS writes it."""
    import faiss

    return int(faiss.serialize_index(index).nbytes)
