"""Vector search benchmark: the default index beside exact, IVF and HNSW baselines, on the same vectors.

Each figure is measured in the same run as its baseline, and latencies are medians (p50) and p99 over many
single queries, because these machines are shared and noisy: compare ratios, not absolute numbers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from viewfinder.bench.vectors import clustered_vectors, mixture_sample
from viewfinder.errors import ViewfinderError

K = 50
QUERY_ROWS = 1000
TIMING_BUDGET_S = 15.0
MIN_TIMED_QUERIES = 50


@dataclass
class SearchRow:
    """One index configuration's figures (the `--json` row shape, plus a free-text detail)."""

    index: str
    p50_ms: float
    p99_ms: float
    recall_at_50: float
    build_s: float
    bytes: int
    detail: str = ""


@dataclass
class _Built:
    search: Callable[[np.ndarray], np.ndarray]  # (m, dim) queries -> (m, K) ids
    build_s: float
    bytes: int
    detail: str = ""


def bench_search(
    n: int | None = None,
    dim: int = 512,
    vectors: np.ndarray | None = None,
    queries: int = QUERY_ROWS,
    only: Sequence[str] = (),
    seed: int = 0,
    store: str = "faiss",
) -> dict:
    """Latency, recall@50, build time and size of each index option over one set of vectors.

    With `vectors` (unit rows), the last QUERY_ROWS rows are the queries and the rest the database;
    otherwise n database rows and `queries` query rows come from the synthetic mixture. `only` keeps the
    rows whose name starts with one of its entries (the baseline and exact search always run). `store`
    milvus adds Milvus Lite rows (FLAT, as `index --store milvus` makes, and HNSW) in a temporary folder.
    """
    from viewfinder.store import faiss_baselines

    if vectors is not None:
        if len(vectors) <= QUERY_ROWS:
            raise ViewfinderError(f"--vectors needs over {QUERY_ROWS} rows: the last {QUERY_ROWS} are the queries.")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        base, query_rows = vectors[:-QUERY_ROWS], vectors[-QUERY_ROWS:]
    else:
        if not n:
            raise ViewfinderError("Give --n (the database size) or --vectors FILE.npy.")
        base = clustered_vectors(n, dim, seed)
        query_rows = mixture_sample(queries, dim, seed, seed + 1)
    n, dim = base.shape
    ids = np.arange(n, dtype=np.int64)
    truth = faiss_baselines.flat(base, K)[0](query_rows)
    rows: list[SearchRow] = []

    def measure(name: str, built: _Built) -> None:
        p50, p99 = _single_query_latency(built.search, query_rows)
        recall = _recall(built.search(query_rows), truth)
        rows.append(SearchRow(name, p50, p99, recall, round(built.build_s, 3), built.bytes, built.detail))

    def wanted(name: str) -> bool:
        return not only or any(name.startswith(prefix) for prefix in only)

    measure("numpy", _numpy_index(base))
    size = faiss_baselines.index_bytes
    (flat, index), seconds = _timed(lambda: faiss_baselines.flat(base, K))
    measure("flat", _Built(flat, seconds, size(index)))
    if wanted("default"):
        (search, index, detail), seconds = _timed(lambda: faiss_baselines.default_index(ids, base, K))
        default = _Built(search, seconds, size(index), detail)
        measure("default", default)
        # faiss runs a single query on one thread for most index types; this row shows whether pinning
        # OpenMP to one thread (no idle team to wake) changes the latency.
        with faiss_baselines.one_thread():
            measure("default,threads=1", default)
    nlist = faiss_baselines.default_nlist(n)  # the default's lists, also below FLAT_MAX
    for lists, probes in ((256, (32,)), (nlist, (8, 16, 32, 64))):
        if not wanted(f"IVF{lists},") or lists * 39 > n:  # faiss wants ≥ 39 training points per list
            continue
        (searching, index), seconds = _timed(lambda lists=lists: faiss_baselines.ivf(base, f"IVF{lists},Flat"))
        for nprobe in probes:
            measure(f"IVF{lists},nprobe={nprobe}", _Built(searching(nprobe, K), seconds, size(index)))
    if wanted("HNSW32"):
        (searching, index), seconds = _timed(lambda: faiss_baselines.hnsw(base))
        for ef in (64, 128):
            measure(f"HNSW32,efSearch={ef}", _Built(searching(ef, K), seconds, size(index)))
    if wanted(f"IVF{nlist},SQ8") and nlist * 39 <= n:
        (searching, index), seconds = _timed(lambda: faiss_baselines.ivf(base, f"IVF{nlist},SQ8"))
        for nprobe in (16, 32):
            measure(
                f"IVF{nlist},SQ8,nprobe={nprobe}+rerank",
                _Built(_rerank(base, searching(nprobe, 2 * K)), seconds, size(index)),
            )
    if store == "milvus":
        for index_type in ("FLAT", "HNSW"):
            if wanted(f"milvus-{index_type}"):
                built, folder = _milvus(ids, base, index_type)
                try:
                    measure(f"milvus-{index_type}", built)
                finally:
                    _drop_milvus(folder)
    return {"n": int(n), "dim": int(dim), "results": [asdict(row) for row in rows]}


def _milvus(ids: np.ndarray, base: np.ndarray, index_type: str) -> tuple[_Built, Path]:
    """A Milvus Lite collection of the vectors; build time covers inserting and flushing (sealing) them."""
    import tempfile

    from viewfinder.store.milvus_store import MilvusStore

    folder = Path(tempfile.mkdtemp(prefix="viewfinder-bench-milvus-"))
    store = MilvusStore.connect(str(folder / "bench.db"), "bench", base.shape[1], index_type=index_type)
    started = time.perf_counter()
    store.add(ids, base)
    store.save(folder, 1)
    seconds = time.perf_counter() - started
    size = sum(path.stat().st_size for path in (folder / "bench.db").rglob("*") if path.is_file())
    detail = "Milvus Lite, exact" if index_type == "FLAT" else "Milvus Lite, M=16, ef=default"
    return _Built(lambda q: store.search(q, K)[1], seconds, size, detail), folder


def _drop_milvus(folder: Path) -> None:
    import shutil

    from milvus_lite import server_manager_instance

    server_manager_instance.release_all()
    shutil.rmtree(folder, ignore_errors=True)


def _timed(make: Callable) -> tuple:
    started = time.perf_counter()
    made = make()
    return made, time.perf_counter() - started


def _single_query_latency(search: Callable, queries: np.ndarray) -> tuple[float, float]:
    """p50 and p99 in ms of one query at a time; slow indexes stop after TIMING_BUDGET_S."""
    for row in queries[:5]:  # warm caches and thread pools
        search(row[None])
    times: list[float] = []
    for row in queries:
        started = time.perf_counter()
        search(row[None])
        times.append(time.perf_counter() - started)
        if len(times) >= MIN_TIMED_QUERIES and sum(times) > TIMING_BUDGET_S:
            break
    p50, p99 = np.percentile(np.asarray(times) * 1000, [50, 99])
    return round(float(p50), 4), round(float(p99), 4)


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    from viewfinder.store.ann_choice import recall_at_k

    return round(recall_at_k(found, truth), 4)


def _numpy_index(base: np.ndarray) -> _Built:
    def search(queries: np.ndarray) -> np.ndarray:
        out = np.empty((len(queries), K), np.int64)
        for start in range(0, len(queries), 64):
            scores = queries[start : start + 64] @ base.T
            top = np.argpartition(-scores, K, axis=1)[:, :K]
            order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
            out[start : start + 64] = np.take_along_axis(top, order, axis=1)
        return out

    return _Built(search, 0.0, base.nbytes, "matrix product + argpartition")


def _rerank(base: np.ndarray, candidates: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """Exact inner products over the compressed index's candidates, which keeps only the best K."""

    def search(queries: np.ndarray) -> np.ndarray:
        found = candidates(queries)
        out = np.full((len(queries), K), -1, np.int64)
        for row, (query, ids) in enumerate(zip(queries, found, strict=True)):
            ids = ids[ids >= 0]
            best = ids[np.argsort(-(base[ids] @ query))[:K]]
            out[row, : len(best)] = best
        return out

    return search
