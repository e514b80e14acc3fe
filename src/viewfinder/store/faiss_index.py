"""The vector index: FAISS chosen by collection size, with stable 64-bit ids and atomic saves.

Below `FLAT_MAX` vectors the index is exact (inner product over all vectors). Above it, an IVF index with
`nlist` ≈ 4·√n lists (at most MAX_NLIST) is trained on a sample, and `nprobe` is calibrated against exact
search so that recall@50 reaches `TARGET_RECALL` with a margin. Ids are catalog ids, so updates and deletes
never need a rebuild; the index is retrained only when the collection outgrows the size it was trained at.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

FLAT_MAX = 20_000
TARGET_RECALL = 0.98
# A small margin over the target: past 0.98, recall@50 grows slowly with nprobe (doubling it from 32 to 64
# lists bought 0.9875 -> 0.9905 at 100k, for twice the latency).
CALIBRATION_RECALL = 0.985
CALIBRATION_QUERIES = 1000  # fewer make the estimate noisy by ±0.003, which near the plateau moves nprobe 2-4x
CALIBRATION_K = 50
# Training costs ~ points x nlist x iterations and adding costs ~ n x nlist; these bounds keep a million-vector
# build near 90 s on two cores (BENCHMARKS.md). 40 points per list is just above the 39 below which faiss warns.
MAX_NLIST = 2048
TRAINING_POINTS_PER_LIST = 40
TRAINING_ITERATIONS = 10
GROWTH_BEFORE_RETRAIN = 2.0
# A filter passing at least this share of the vectors is applied after an unfiltered search (over-fetching
# by the inverse share): a FAISS selector would make IVF scan every list, 65x the work at 100k vectors.
POSTFILTER_SHARE = 0.5
STATE_FILE = "ann.json"
NEAR_NPROBE = 8  # lists probed for near-duplicates (similarity 0.9 and above)


@dataclass(frozen=True)
class IndexParams:
    """The shape of a FAISS index: exact ('flat') or inverted lists ('ivf')."""

    kind: str
    nlist: int = 0
    nprobe: int = 0
    trained_size: int = 0


def choose_params(n: int) -> IndexParams:
    """The index shape for a collection of n vectors (nprobe is calibrated after training)."""
    if n < FLAT_MAX:
        return IndexParams("flat")
    nlist = int(min(MAX_NLIST, max(64, round(4 * math.sqrt(n)))))
    return IndexParams("ivf", nlist=nlist, nprobe=0, trained_size=n)


def needs_retrain(params: IndexParams, n: int) -> bool:
    """Whether a collection of n vectors has outgrown (or shrunk far below) the index it is in."""
    if params.kind == "flat":
        return n >= FLAT_MAX
    return n > GROWTH_BEFORE_RETRAIN * params.trained_size or n < FLAT_MAX // 2


def filter_path(allowed: int, total: int) -> str:
    """How to search under a filter that `allowed` of `total` vectors pass: 'post' when it passes most (search
    unfiltered, over-fetching, and drop the rest), else 'selector' (FAISS skips the rest as it scans)."""
    return "post" if allowed >= POSTFILTER_SHARE * total else "selector"


def recall_at_k(approx: np.ndarray, exact: np.ndarray) -> float:
    """Mean share of the exact top-k ids that the approximate search found."""
    hits = [len(set(a[a >= 0]) & set(e[e >= 0])) / max(1, (e >= 0).sum()) for a, e in zip(approx, exact, strict=True)]
    return float(np.mean(hits)) if hits else 1.0


class VectorIndex:
    """A FAISS inner-product index over unit vectors, keyed by catalog ids."""

    def __init__(self, index, params: IndexParams, dim: int) -> None:
        self.index = index
        self.params = params
        self.dim = dim

    @classmethod
    def empty(cls, dim: int) -> VectorIndex:
        import faiss

        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dim)), IndexParams("flat"), dim)

    @classmethod
    def build(cls, ids: np.ndarray, vectors: np.ndarray, dim: int, seed: int = 0) -> VectorIndex:
        """Builds the index the collection's size calls for, training and calibrating IVF when needed."""
        import faiss

        params = choose_params(len(ids))
        if params.kind == "flat":
            built = cls.empty(dim)
            built.add(ids, vectors)
            return built
        rng = np.random.default_rng(seed)
        sample_size = min(len(vectors), TRAINING_POINTS_PER_LIST * params.nlist)
        sample = vectors[np.sort(rng.choice(len(vectors), sample_size, replace=False))]
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, params.nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = seed
        index.cp.niter = TRAINING_ITERATIONS
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))
        nprobe = calibrate_nprobe(index, ids, vectors, params.nlist, rng)
        index.nprobe = nprobe
        return cls(index, IndexParams("ivf", params.nlist, nprobe, len(ids)), dim)

    @property
    def count(self) -> int:
        return int(self.index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, np.int64))

    def remove(self, ids: np.ndarray) -> None:
        import faiss

        if len(ids):
            self.index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64)))

    def ids(self) -> np.ndarray:
        """Every id the index holds, sorted (to compare with the catalog)."""
        import faiss

        if self.params.kind == "flat":
            found = faiss.vector_to_array(self.index.id_map)
        else:
            lists = faiss.extract_index_ivf(self.index).invlists
            parts = [
                faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
                for i in range(lists.nlist)
                if lists.list_size(i)
            ]
            found = np.concatenate(parts) if parts else np.empty(0, np.int64)
        return np.sort(found.astype(np.int64))

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (similarities, ids) per query row; `allowed` restricts the result to those ids."""
        import faiss

        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = max(1, min(k, self.count)) if self.count else 1
        if self.count == 0:
            return np.empty((len(queries), 0), np.float32), np.empty((len(queries), 0), np.int64)
        if allowed is None:
            scores, ids = self.index.search(queries, k)
        else:
            selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            if self.params.kind == "ivf":
                # A filter can leave few candidates in the probed lists: scan every list, which the
                # selector keeps cheap, so filtered results stay exact.
                search_params = faiss.SearchParametersIVF(sel=selector, nprobe=self.params.nlist)
            else:
                search_params = faiss.SearchParameters(sel=selector)
            scores, ids = self.index.search(queries, k, params=search_params)
        return scores, ids

    def near(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (similarities, ids) of near-duplicate neighbours: only a few inverted lists are probed, since a
        near-identical vector lies in or next to its twin's list (the calibrated nprobe serves far-away texts)."""
        import faiss

        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if self.params.kind != "ivf" or self.count == 0:
            return self.search(queries, k)
        params = faiss.SearchParametersIVF(nprobe=min(self.params.nprobe, NEAR_NPROBE))
        return self.index.search(queries, max(1, min(k, self.count)), params=params)

    def save(self, folder: Path, generation: int) -> None:
        """Writes the index for a catalog generation atomically; readers see the old or the new one."""
        import faiss

        name = f"vectors-{generation}.faiss"
        temporary = folder / f".{name}.tmp"
        faiss.write_index(self.index, str(temporary))
        _fsync_replace(temporary, folder / name)
        state = {"file": name, "generation": generation, "dim": self.dim, "params": asdict(self.params)}
        state_temporary = folder / f".{STATE_FILE}.tmp"
        state_temporary.write_text(json.dumps(state, indent=2))
        _fsync_replace(state_temporary, folder / STATE_FILE)
        for stale in folder.glob("vectors-*.faiss"):
            if stale.name != name:
                stale.unlink(missing_ok=True)

    @classmethod
    def load(cls, folder: Path) -> tuple[VectorIndex, int] | None:
        """The saved index and the catalog generation it reflects, or None when there is none."""
        import faiss

        try:
            state = json.loads((folder / STATE_FILE).read_text())
            index = faiss.read_index(str(folder / state["file"]))
        except (OSError, ValueError, KeyError, RuntimeError):
            return None
        params = IndexParams(**state["params"])
        if params.kind == "ivf":
            index.nprobe = params.nprobe
        return cls(index, params, int(state["dim"])), int(state["generation"])


def saved_generation(folder: Path) -> int | None:
    """The catalog generation of the index saved in `folder`, read cheaply (no FAISS load); None if none."""
    try:
        return int(json.loads((folder / STATE_FILE).read_text())["generation"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def calibrate_nprobe(index, ids: np.ndarray, vectors: np.ndarray, nlist: int, rng: np.random.Generator) -> int:
    """Smallest nprobe among nprobe_steps(nlist) whose recall@50 against exact search reaches CALIBRATION_RECALL.

    Leave-one-out: sampled stored vectors are the queries and each one's own match is dropped from both
    result lists, so they behave like new images from the same collection. The calibration aims above
    TARGET_RECALL to leave a margin for queries unlike the collection (texts).
    """
    import faiss

    count = min(CALIBRATION_QUERIES, len(vectors))
    picked = rng.choice(len(vectors), count, replace=False)
    queries = np.ascontiguousarray(vectors[picked], dtype=np.float32)
    # faiss.knn scans the vectors in place; an exact index would copy all of them (2 GB at a million).
    _, positions = faiss.knn(
        queries, np.ascontiguousarray(vectors, dtype=np.float32), CALIBRATION_K + 1, faiss.METRIC_INNER_PRODUCT
    )
    own = np.asarray(ids, dtype=np.int64)[picked][:, None]
    truth = _without(np.asarray(ids, dtype=np.int64)[positions], own)
    for nprobe in nprobe_steps(nlist):
        index.nprobe = nprobe
        _, found = index.search(queries, CALIBRATION_K + 1)
        if recall_at_k(_without(found, own), truth) >= CALIBRATION_RECALL:
            return nprobe
    return nlist


def nprobe_steps(nlist: int) -> list[int]:
    """1, 2, 3, 4, 6, 8, 11, 16, 23, ...: steps of √2, fine enough that the chosen nprobe scans at most
    ~40% more lists than the recall target needs (doubling could scan twice as many)."""
    return sorted({min(nlist, round(2 ** (i / 2))) for i in range(int(2 * math.log2(nlist)) + 2)})


def _without(found: np.ndarray, own: np.ndarray) -> np.ndarray:
    """Each row's first CALIBRATION_K ids other than the query's own id."""
    return np.stack([row[row != me][:CALIBRATION_K] for row, me in zip(found, own[:, 0], strict=True)])


def _fsync_replace(temporary: Path, final: Path) -> None:
    with open(temporary, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, final)
    directory = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
