"""A Milvus server beside FAISS on real vectors: build time, p50/p95 latency at k=10 and k=50 through the store
interface, and recall@10 against exact search, each store with the structure its chooser measured.

    PYTHONPATH=src python scripts/bench_milvus.py [--vectors FILE.npy] [--n 100000] [--lite] [--json OUT.json]

The vectors are unit rows (`scripts/make_real_vectors.py` makes 101,000 real sentence vectors); the last
QUERY_ROWS rows are the queries, never stored. FAISS is `VectorIndex.build` (the chooser every `index` run
uses); the Milvus collection is filled as `index --store milvus` fills it, then `MilvusStore.choose_index`
measures FLAT and HNSW shapes on it at the same recall target, on the same held-out stored vectors. Both stores
are then timed query by query in turn (so load bursts slow both alike), with the load average before and after.

The server is the `milvus` wheel's Milvus 2.3.5 standalone, started as the tests start it
(tests/milvus_helpers.py): in a network namespace of its own holding only its loopback, reached through Unix
sockets, in its own process group, which is stopped at the end. The server is timed as the store searches
(consistency Strong: every acknowledged write is seen, at the cost of waiting for the server's time tick) and at
Bounded consistency (reads may miss the last seconds' writes), to show what that wait costs. `--lite` adds
Milvus Lite (FLAT; it searches by brute force whatever its index), timed on fewer queries (~0.3 s each).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from viewfinder.bench.vectors import load_vectors
from viewfinder.store.ann_choice import recall_at_k
from viewfinder.store.faiss_index import VectorIndex, one_thread_per_query
from viewfinder.store.milvus_store import MilvusStore

DEFAULT_VECTORS = Path(os.environ.get("VIEWFINDER_CACHE", "~/.cache/viewfinder")).expanduser() / "real-minilm.npy"
QUERY_ROWS = 1000
TIMED_QUERIES = 300  # per store and k, taken in turn
LITE_TIMED_QUERIES = 30
KS = (10, 50)

Search = Callable[[np.ndarray, int], np.ndarray]  # (queries, k) -> ids


def timed_in_turn(searches: dict[str, Search], queries: np.ndarray, k: int) -> dict[str, tuple[float, float]]:
    """p50 and p95 (ms) of single queries, each query asked of every store in turn."""
    for search in searches.values():
        for row in queries[:5]:  # warm connections and caches
            search(row[None], k)
    times: dict[str, list[float]] = {name: [] for name in searches}
    for row in queries:
        for name, search in searches.items():
            started = time.perf_counter()
            search(row[None], k)
            times[name].append(time.perf_counter() - started)
    return {name: _percentiles(spent) for name, spent in times.items()}


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    p50, p95 = np.percentile(np.asarray(seconds) * 1000, [50, 95])
    return round(float(p50), 3), round(float(p95), 3)


def _timed(make: Callable):
    started = time.perf_counter()
    made = make()
    return made, round(time.perf_counter() - started, 2)


def fill_milvus(uri: str, ids: np.ndarray, base: np.ndarray) -> tuple[MilvusStore, float]:
    """A collection holding the vectors (neutral metadata columns, as `bench search` writes), and the seconds
    spent inserting and flushing them."""
    store = MilvusStore.connect(uri, "bench", base.shape[1])
    started = time.perf_counter()
    store.add(ids, base)
    store.save(Path(), 1)
    return store, round(time.perf_counter() - started, 2)


def run(vectors: np.ndarray, lite: bool) -> dict:
    from milvus_helpers import run_milvus_server

    base, queries = vectors[:-QUERY_ROWS], vectors[-QUERY_ROWS:]
    ids = np.arange(len(base), dtype=np.int64)
    import faiss

    truth = faiss.knn(queries, base, 10, faiss.METRIC_INNER_PRODUCT)[1]
    report: dict = {"n": len(base), "dim": base.shape[1], "queries": QUERY_ROWS, "load_before": os.getloadavg()}
    faiss_index, faiss_build = _timed(lambda: VectorIndex.build(ids, base, base.shape[1]))
    stores: dict[str, Search] = {
        "faiss exact (faiss.knn)": lambda q, k: faiss.knn(q, base, k, faiss.METRIC_INNER_PRODUCT)[1],
        "faiss (chooser)": lambda q, k: faiss_index.search(q, k)[1],
    }
    rows = {
        "faiss exact (faiss.knn)": {"detail": "exact", "build_s": 0.0},
        "faiss (chooser)": {"detail": _faiss_detail(faiss_index), "build_s": faiss_build},
    }
    with run_milvus_server() as address:
        server, insert_s = fill_milvus(address, ids, base)
        measured, choose_s = _timed(lambda: server.choose_index(ids, base))
        stores["milvus server (chooser), Strong"] = lambda q, k: server.search(q, k)[1]
        stores["milvus server (chooser), Bounded"] = lambda q, k: server.search_ids(q, k, level="Bounded")
        rows["milvus server (chooser), Strong"] = {
            "detail": _milvus_detail(server),
            "build_s": round(insert_s + choose_s, 2),
            "insert_s": insert_s,
            "choose_s": choose_s,
            "candidates": [asdict(one) for one in measured],
        }
        rows["milvus server (chooser), Bounded"] = {"detail": "the same collection", "build_s": ""}
        for name, search in stores.items():
            rows[name]["recall_at_10"] = round(recall_at_k(search(queries, 10), truth), 4)
        one_thread_per_query()  # as `viewfinder serve` runs each FAISS search
        for k in KS:
            for name, figures in timed_in_turn(stores, queries[:TIMED_QUERIES], k).items():
                rows[name][f"k{k}_p50_ms"], rows[name][f"k{k}_p95_ms"] = figures
        server.close()
    if lite:
        rows["milvus lite"] = _lite(ids, base, queries, truth)
    report["load_after"] = os.getloadavg()
    report["rows"] = rows
    return report


def _lite(ids: np.ndarray, base: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> dict:
    from milvus_lite import server_manager_instance

    folder = Path(tempfile.mkdtemp(prefix="viewfinder-bench-lite-"))
    try:
        lite, insert_s = fill_milvus(str(folder / "bench.db"), ids, base)
        row: dict = {"detail": "Milvus Lite, FLAT", "build_s": insert_s}
        found = lite.search(queries[:LITE_TIMED_QUERIES], 10)[1]
        row["recall_at_10"] = round(recall_at_k(found, truth[:LITE_TIMED_QUERIES]), 4)
        for k in KS:
            timed = timed_in_turn({"lite": lambda q, k: lite.search(q, k)[1]}, queries[:LITE_TIMED_QUERIES], k)
            row[f"k{k}_p50_ms"], row[f"k{k}_p95_ms"] = timed["lite"]
        lite.close()
        return row
    finally:
        server_manager_instance.release_all()
        shutil.rmtree(folder, ignore_errors=True)


def _faiss_detail(index: VectorIndex) -> str:
    params = index.params
    setting = {"hnsw": f",efSearch={params.ef_search}", "ivf": f",nprobe={params.nprobe}"}.get(params.kind, "")
    return f"{params.family}{setting} (recall@50 {params.recall_at_50} at build)"


def _milvus_detail(store: MilvusStore) -> str:
    params = store.params
    setting = f",ef={params.ef_search}" if params.hnsw_m else ""
    return f"{params.family}{setting} (recall@50 {params.recall_at_50} at build)"


def markdown(report: dict) -> str:
    """The report as BENCHMARKS.md's table."""
    lines = [
        "| store | structure | build s | p50 ms k=10 | p95 ms k=10 | p50 ms k=50 | p95 ms k=50 | recall@10 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in report["rows"].items():
        figures = [row["build_s"], row["k10_p50_ms"], row["k10_p95_ms"], row["k50_p50_ms"], row["k50_p95_ms"]]
        lines.append(f"| {name} | {row['detail']} | {' | '.join(map(str, figures))} | {row['recall_at_10']} |")
    load = ", ".join(f"{value:.2f}" for value in (*report["load_before"], *report["load_after"]))
    lines.append(
        f"\nn = {report['n']:,} × {report['dim']}, {report['queries']} held-out queries; load (1/5/15 min) "
        f"before, after: {load}"
    )
    for name, row in report["rows"].items():
        for one in row.get("candidates", []):
            lines.append(f"- {name} candidate {one}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vectors", type=Path, default=DEFAULT_VECTORS, help="unit rows; the last 1000 are queries")
    parser.add_argument("--n", type=int, default=0, help="database rows to keep (default: all but the queries)")
    parser.add_argument("--lite", action="store_true", help="add Milvus Lite (FLAT) to the table")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args()
    if not args.vectors.exists():
        raise SystemExit(f"{args.vectors} is missing: make it with scripts/make_real_vectors.py")
    vectors = load_vectors(args.vectors)
    if args.n:
        vectors = np.concatenate([vectors[: args.n], vectors[-QUERY_ROWS:]])
    report = run(np.ascontiguousarray(vectors), args.lite)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    print(markdown(report))


if __name__ == "__main__":
    main()
