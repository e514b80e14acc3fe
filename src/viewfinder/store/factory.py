"""Picks the vector store an index's manifest names: FAISS files in the index directory (the default) or a
Milvus collection (`--store milvus[:URI]`), and opens, rebuilds or repairs it from the catalog."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from viewfinder.errors import ViewfinderError
from viewfinder.store.catalog import Catalog
from viewfinder.store.vector_store import VectorStore

if TYPE_CHECKING:
    from viewfinder.store.faiss_index import Queries, VectorIndex

FAISS = "faiss"
MILVUS = "milvus"
MILVUS_LITE_FILE = "milvus.db"
_SERVER_SCHEMES = ("http://", "https://", "tcp://", "unix:")


def normalise_store(text: str | None, index_path: Path) -> str:
    """The manifest's form of a --store value: 'faiss', or 'milvus:' and a server address or an absolute
    Milvus Lite path (a name ending in .db; `milvus` alone is one inside the index directory)."""
    text = (text or FAISS).strip()
    if text == FAISS:
        return FAISS
    kind, _, uri = text.partition(":")
    if kind != MILVUS:
        raise ViewfinderError(f"--store {text}: use faiss, milvus, or milvus:URI (a path ending in .db or http://…).")
    if not uri:
        return f"{MILVUS}:{(Path(index_path) / MILVUS_LITE_FILE).resolve()}"
    if uri.startswith(_SERVER_SCHEMES):
        return f"{MILVUS}:{uri}"
    if not uri.endswith(".db"):
        raise ViewfinderError(f"--store {text}: a Milvus Lite path must end in .db (or give http://host:19530).")
    return f"{MILVUS}:{Path(uri).expanduser().resolve()}"


def load_saved(
    folder: Path, store: str, collection: str, dim: int, catalog: Catalog
) -> tuple[VectorStore, int | None] | None:
    """The saved store and the catalog generation it reflects; for FAISS None when none was saved, for Milvus
    the (possibly new) collection with None as its generation until a first save."""
    if store == FAISS:
        from viewfinder.store.faiss_index import VectorIndex

        return VectorIndex.load(folder)
    from viewfinder.store.milvus_store import MilvusStore

    opened = MilvusStore.connect(store.removeprefix(f"{MILVUS}:"), collection, dim, catalog)
    generation = opened.generation()
    # A new, empty collection reflects an empty catalog: generation 0.
    return opened, 0 if generation is None and opened.count == 0 else generation


def rebuild(
    store: str, dim: int, catalog: Catalog, saved: tuple[VectorStore, int | None] | None, queries: Queries = None
) -> VectorStore:
    """A store that matches the catalog: FAISS is built afresh (chosen by measuring on `queries`); a Milvus
    collection is repaired in place."""
    if store == FAISS:
        return rebuild_from_catalog(catalog, dim, queries)
    milvus = saved[0]
    milvus.reconcile(catalog)
    return milvus


def rebuild_from_catalog(catalog: Catalog, dim: int, queries: Queries = None) -> VectorIndex:
    """A fresh FAISS index over every vector in the catalog, chosen for it by measuring on `queries` (the
    model's text queries, or a function making them; held-out stored vectors when None)."""
    from viewfinder.store.faiss_index import VectorIndex

    chunks = list(catalog.vectors(dim))
    if not chunks:
        return VectorIndex.empty(dim)
    ids = np.concatenate([c[0] for c in chunks])
    data = np.concatenate([c[1] for c in chunks])
    return VectorIndex.build(ids, data, dim, queries)


def apply_changes(
    vectors: VectorStore,
    catalog: Catalog,
    dim: int,
    removed: np.ndarray,
    added: np.ndarray,
    added_vectors: np.ndarray,
    queries: Queries = None,
) -> VectorStore:
    """Updates a store in place for one run's changes, or rebuilds a FAISS index the collection outgrew."""
    from viewfinder.store.faiss_index import needs_retrain

    if vectors.params.kind != MILVUS and needs_retrain(vectors.params, vectors.count - len(removed) + len(added)):
        return rebuild_from_catalog(catalog, dim, queries)
    vectors.remove(np.concatenate([removed, added]).astype(np.int64))
    vectors.add(added, added_vectors)
    return vectors
