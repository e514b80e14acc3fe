"""The interface every vector store implements: ids and unit vectors in, top-k ids and similarities out.

The catalog (SQLite) is the source of truth for which ids exist and their vectors; a vector store is the
search structure built from it, saved for a catalog generation. FAISS (`faiss_index.VectorIndex`, files in the
index directory) is the default; Milvus (`milvus_store.MilvusStore`, Milvus Lite or a server) is the other.
`factory.STORES` names them; nothing above `store/` needs to know which one an index uses.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:
    from viewfinder.store.catalog import Catalog
    from viewfinder.store.filters import Filters

# Calibration queries for choosing an index: an array, a function making one (called only when measuring),
# or None (held-out stored vectors stand in).
Queries = np.ndarray | Callable[[], np.ndarray] | None

HNSW_M = 32  # links per node of an HNSW graph: the usual choice for 384-768 dims (flat recall/latency from 24 to 48)


@dataclass(frozen=True)
class IndexParams:
    """The shape of a store's search structure, as `viewfinder info` shows it: FAISS exact ('flat'), inverted
    lists ('ivf') or a graph ('hnsw'), or 'milvus' (exact, or a graph where `hnsw_m` is set); and how it measured
    when it was chosen (None where it was not measured: small or older indexes, Milvus Lite)."""

    kind: str
    nlist: int = 0
    nprobe: int = 0
    trained_size: int = 0
    ef_search: int = 0
    recall_at_50: float | None = None
    p50_ms: float | None = None
    calibrated_on: str = ""  # 'prompts' (text queries from the model), 'stored' (stored vectors) or ''
    hnsw_m: int = 0  # a Milvus graph's links per node (FAISS's HNSW always has HNSW_M); 0: none chosen
    ef_construction: int = 0  # a Milvus graph's search breadth while it was built

    @property
    def family(self) -> str:
        """The family in FAISS's index-factory words: Flat, IVF<nlist> or HNSW<M> (a Milvus graph adds its
        efConstruction; an exact Milvus collection is FLAT)."""
        if self.kind == "milvus":
            return f"HNSW{self.hnsw_m},efConstruction={self.ef_construction}" if self.hnsw_m else "FLAT"
        return {"flat": "Flat", "ivf": f"IVF{self.nlist}", "hnsw": f"HNSW{HNSW_M}"}.get(self.kind, self.kind)


@dataclass(frozen=True)
class StoreAddress:
    """Where an index's store lives, as its manifest says: the index directory, the location after the kind in
    `--store KIND[:LOCATION]` ('' for FAISS), the collection (Milvus) and the vectors' dimension."""

    folder: Path
    location: str
    collection: str
    dim: int


class VectorStore(ABC):
    """A searchable set of unit vectors keyed by 64-bit catalog ids; similarities are cosines (inner products)."""

    kind: ClassVar[str]  # its name in `--store` and in the manifest (factory.STORES)
    # Whether its saved form is files in the index directory: a reader rebuilds its own copy when they lag the
    # catalog, and `publish` can copy them. A store outside it (a Milvus collection) is shared with the writer
    # and repaired in place, by the writer while one works.
    in_index_dir: ClassVar[bool]
    dim: int
    params: IndexParams  # the shape of its search structure (`viewfinder info`, the server's stats)

    # Where it lives ---------------------------------------------------------------------------------------

    @classmethod
    @abstractmethod
    def location(cls, text: str, index_path: Path) -> str:
        """The manifest's form of LOCATION in `--store KIND[:LOCATION]` ('' when none is given);
        ViewfinderError for one this store cannot use."""

    @classmethod
    @abstractmethod
    def open(cls, address: StoreAddress, catalog: Catalog) -> tuple[VectorStore, int | None] | None:
        """The saved store and the catalog generation it reflects (None when that is unknown); None when there
        is no saved store at all."""

    @classmethod
    @abstractmethod
    def create(cls, address: StoreAddress, catalog: Catalog) -> VectorStore:
        """A store to rebuild into when none was saved (`reconciled` then fills it from the catalog)."""

    # What it holds ----------------------------------------------------------------------------------------

    @property
    @abstractmethod
    def count(self) -> int:
        """How many vectors it holds."""

    @abstractmethod
    def ids(self) -> np.ndarray:
        """Every id it holds, sorted (int64), to compare with the catalog."""

    @abstractmethod
    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        """The (len(ids), dim) stored vectors of these ids, row for row; KeyError when one is not held."""

    # Changes ----------------------------------------------------------------------------------------------

    @abstractmethod
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Adds (N,) int64 ids it does not hold with their (N, dim) float32 unit vectors (a changed image's id
        is removed first)."""

    @abstractmethod
    def remove(self, ids: np.ndarray) -> None:
        """Removes these ids; unknown ids are ignored."""

    def outgrown(self, count: int) -> bool:
        """Whether a store about to hold `count` vectors should be rebuilt rather than updated in place."""
        return False

    @abstractmethod
    def save(self, folder: Path, generation: int) -> None:
        """Persists the store for a catalog generation, atomically (readers see the old or the new one)."""

    @abstractmethod
    def reconciled(self, catalog: Catalog, queries: Queries = None) -> VectorStore:
        """A store matching the catalog after a crash (or a first run) left this one behind it: FAISS is built
        afresh (chosen by measuring on `queries`), Milvus repairs its collection in place and returns itself."""

    def close(self) -> None:
        """Releases connections (a Milvus client); the store is not used afterwards."""
        return None  # most stores hold none

    # Search -----------------------------------------------------------------------------------------------

    @abstractmethod
    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (similarities, ids) per query row, best first, padded with -1 ids past the last match;
        `allowed` restricts the results to those ids."""

    @abstractmethod
    def top(self, query: np.ndarray, k: int, filters: Filters | None, catalog: Catalog) -> list[tuple[int, float]]:
        """Up to k (id, cosine) pairs for one query vector, best first, among the images that pass `filters`.

        The filters are evaluated once, by the store: FAISS asks the catalog which ids pass, Milvus evaluates
        them on the metadata it stores. Fewer than k pairs means the store holds no more that pass.
        """

    @abstractmethod
    def near(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Like `search` without a filter, for near-identical neighbours only (an index may search less)."""


def pairs(scores: np.ndarray, ids: np.ndarray) -> list[tuple[int, float]]:
    """One result row as (id, similarity) pairs, without the -1 padding."""
    return [(int(i), float(s)) for i, s in zip(ids, scores, strict=True) if i >= 0]
