"""The interface every vector store implements: ids and unit vectors in, top-k ids and similarities out.

The catalog (SQLite) is the source of truth for which ids exist and their vectors; a vector store is the
search structure built from it, saved beside it for a catalog generation. FAISS (`faiss_index.VectorIndex`)
is the embedded default; a store for a cluster implements the same methods.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, Self

import numpy as np


class VectorStore(Protocol):
    """A searchable set of unit vectors keyed by 64-bit catalog ids."""

    dim: int

    @property
    def count(self) -> int:
        """How many vectors it holds."""
        ...

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Adds (N,) int64 ids with their (N, dim) float32 unit vectors."""
        ...

    def remove(self, ids: np.ndarray) -> None:
        """Removes these ids; unknown ids are ignored."""
        ...

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (similarities, ids) per query row, best first; `allowed` restricts results to those ids."""
        ...

    def near(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Like `search` without a filter, for near-identical neighbours only (an index may search less)."""
        ...

    def save(self, folder: Path, generation: int) -> None:
        """Persists the store for a catalog generation, atomically."""
        ...

    @classmethod
    def load(cls, folder: Path) -> tuple[Self, int] | None:
        """The saved store and the catalog generation it reflects, or None when there is none."""
        ...
