"""The index `publish` writes (float16 vectors, store/faiss_precision.py) beside the index it comes from.

    PYTHONPATH=src python scripts/bench_float16.py [--vectors FILE.npy] [--n 100000] [--rounds 3] [--ivf]

The chooser builds the index as `viewfinder index` would (on held-out stored vectors: no model here), or with
--ivf its IVF candidate (the smallest nprobe reaching the target recall on the same calibration); the
held-out queries are the rows after the first n (real vectors), or fresh draws of the synthetic mixture. Both
indexes are searched as a snapshot is served (the float16 one saved and mapped from its file), one thread, the
queries alternating between them round after round; recall@50 is against exact search over the float32 vectors.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

from viewfinder.bench.vectors import clustered_vectors, load_vectors, mixture_sample
from viewfinder.store.ann_choice import K, make_calibration, recall_at_k
from viewfinder.store.faiss_families import ivf_candidate
from viewfinder.store.faiss_index import VectorIndex
from viewfinder.store.faiss_precision import half_precision


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", help="a .npy of unit vectors (rows past --n are the queries)")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ivf", action="store_true", help="the chooser's IVF candidate, whichever family wins")
    args = parser.parse_args()
    if args.vectors:
        rows = load_vectors(args.vectors)
        base, queries = rows[: args.n], rows[args.n : args.n + args.queries]
    else:
        base, queries = clustered_vectors(args.n), mixture_sample(args.queries, 512, 0, 1)
    base, queries = np.ascontiguousarray(base, np.float32), np.ascontiguousarray(queries, np.float32)
    ids = np.arange(len(base), dtype=np.int64)
    started = time.perf_counter()
    if args.ivf:
        rng = np.random.default_rng(0)
        made = ivf_candidate(ids, base, base.shape[1], make_calibration(ids, base, None, rng), rng)
        assert made is not None, "no nprobe reaches the target recall"
        full = VectorIndex(made[0], made[1], base.shape[1])
    else:
        full = VectorIndex.build(ids, base, base.shape[1])
    print(f"chosen: {full.params} in {time.perf_counter() - started:.1f} s")
    truth = faiss.knn(queries, base, K, faiss.METRIC_INNER_PRODUCT)[1]
    faiss.omp_set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        full, half = mapped(full, Path(folder) / "32"), mapped(half_precision(full), Path(folder) / "16")
        for name, index in (("float32", full), ("float16", half)):
            found = index.search(queries, K)[1]
            print(f"{name}: recall@50 {recall_at_k(found, truth):.4f}")
        same = (full.search(queries, 10)[1] == half.search(queries, 10)[1]).mean()
        print(f"top 10 the same, rank for rank: {same:.4f}")
        times = np.zeros((2, args.rounds, len(queries)))
        for round_ in range(args.rounds):
            for column, row in enumerate(queries):
                for line, index in enumerate((full, half)):
                    begun = time.perf_counter()
                    index.search(row[None], K)
                    times[line, round_, column] = time.perf_counter() - begun
        for line, name in enumerate(("float32", "float16")):
            medians = ", ".join(f"{np.median(times[line, r]) * 1000:.3f}" for r in range(args.rounds))
            print(f"{name}: p50 ms by round {medians}; p99 {np.percentile(times[line], 99) * 1000:.3f}")


def mapped(index: VectorIndex, folder: Path) -> VectorIndex:
    """`index` saved in `folder` and mapped from its file, as a snapshot's index is served."""
    folder.mkdir()
    index.save(folder, 1)
    print(f"{index.precision}: {sum(os.path.getsize(path) for path in folder.glob('*.faiss')) / 1e6:.1f} MB")
    loaded = VectorIndex.load(folder, mapped=True)
    assert loaded is not None
    return loaded[0]


if __name__ == "__main__":
    main()
