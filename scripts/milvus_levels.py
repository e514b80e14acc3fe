"""How long a search through the Milvus store takes at the level it asks, on a generation written a moment ago
(Strong) and on one written two minutes ago (Bounded): 20,000 random unit vectors of 512 dimensions, FLAT, on
a Milvus server started here (tests/milvus_helpers.py), 2 rounds of 100 queries at k = 50, interleaved.

    PYTHONPATH=src python scripts/milvus_levels.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the server fixture's starter

from milvus_helpers import run_milvus_server

from viewfinder.store.milvus_store import SETTLE_S, WRITTEN_PROPERTY, MilvusStore

COUNT, DIM, QUERIES, ROUNDS, K = 20_000, 512, 100, 2, 50
COLLECTION = "level_bench"


def unit_rows(rng: np.random.Generator, count: int) -> np.ndarray:
    rows = rng.normal(size=(count, DIM)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def search_ms(store: MilvusStore, queries: np.ndarray) -> list[float]:
    """Each query's search time through the store, at the level it asks."""
    times = []
    for query in queries:
        started = time.perf_counter()
        store.top(query, K, None, None)  # no filters: the catalog is not read
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    rng = np.random.default_rng(0)
    vectors, queries = unit_rows(rng, COUNT), unit_rows(rng, QUERIES)
    with run_milvus_server() as uri:
        writer = MilvusStore.connect(uri, COLLECTION, DIM)
        writer.add(np.arange(COUNT), vectors)
        writer.save(Path(), 1)
        fresh = MilvusStore.connect(uri, COLLECTION, DIM)
        aged = {WRITTEN_PROPERTY: repr(time.time() - 2 * SETTLE_S)}  # as if written two minutes ago
        writer.client.alter_collection_properties(COLLECTION, properties=aged)
        settled = MilvusStore.connect(uri, COLLECTION, DIM)
        stores = {"written a moment ago": fresh, "written two minutes ago": settled}
        times: dict[str, list[float]] = {name: [] for name in stores}
        for _ in range(ROUNDS):
            for name, store in stores.items():
                times[name] += search_ms(store, queries)
        same = all(fresh.top(q, 10, None, None) == settled.top(q, 10, None, None) for q in queries[:5])
        report = {
            name: {
                "level": store.consistency()["consistency_level"],
                "p50_ms": round(float(np.median(times[name])), 2),
                "p95_ms": round(float(np.percentile(times[name], 95)), 2),
            }
            for name, store in stores.items()
        }
        print(json.dumps({**report, "same_top10": same}, indent=1))


if __name__ == "__main__":
    main()
