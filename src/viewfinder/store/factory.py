"""The registry of vector stores by name, and the store an index's manifest names: FAISS files in the index
directory (the default) or a Milvus collection (`--store milvus[:URI]`), opened, rebuilt or repaired."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from viewfinder.errors import ViewfinderError
from viewfinder.store.catalog import Catalog
from viewfinder.store.faiss_index import VectorIndex
from viewfinder.store.milvus_store import MilvusStore
from viewfinder.store.vector_store import Queries, StoreAddress, VectorStore

STORES: dict[str, type[VectorStore]] = {store.kind: store for store in (VectorIndex, MilvusStore)}
DEFAULT_STORE = VectorIndex.kind


def store_class(store: str) -> type[VectorStore]:
    """The class of the store a manifest's `store` value (KIND or KIND:LOCATION) names."""
    kind = store.partition(":")[0]
    if kind not in STORES:
        names = ", ".join(STORES)
        raise ViewfinderError(f"--store {store}: use {names}, or milvus:URI (a path ending in .db or http://…).")
    return STORES[kind]


def normalise_store(text: str | None, index_path: Path) -> str:
    """The manifest's form of a --store value: the kind alone when it takes no location ('faiss'), else
    KIND:LOCATION as that store spells it (for Milvus a server address or an absolute Milvus Lite path)."""
    text = (text or DEFAULT_STORE).strip()
    store = store_class(text)
    location = store.location(text.partition(":")[2], index_path)
    return f"{store.kind}:{location}" if location else store.kind


def store_address(folder: Path, store: str, collection: str, dim: int) -> StoreAddress:
    """Where the store a manifest names lives."""
    return StoreAddress(Path(folder), store.partition(":")[2], collection, dim)


def rebuild(
    address: StoreAddress,
    store: str,
    catalog: Catalog,
    saved: tuple[VectorStore, int | None] | None,
    queries: Queries = None,
) -> VectorStore:
    """A store that matches the catalog (VectorStore.reconciled): FAISS is built afresh (chosen by measuring
    on `queries`), a Milvus collection is repaired in place. A saved store of another dimension than the
    manifest's (a damaged file) is never the base: the catalog's vectors have the manifest's."""
    if saved is not None and saved[0].dim == address.dim:
        vectors = saved[0]
    else:
        vectors = store_class(store).create(address, catalog)
    return vectors.reconciled(catalog, queries)


def apply_changes(
    vectors: VectorStore,
    catalog: Catalog,
    removed: np.ndarray,
    added: np.ndarray,
    added_vectors: np.ndarray,
    queries: Queries = None,
) -> VectorStore:
    """Updates a store in place for one run's changes, or rebuilds one the collection outgrew."""
    if vectors.outgrown(vectors.count - len(removed) + len(added)):
        return vectors.reconciled(catalog, queries)
    vectors.remove(np.concatenate([removed, added]).astype(np.int64))
    vectors.add(added, added_vectors)
    return vectors
