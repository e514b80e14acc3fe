"""The vector stores as the layers above `store/` use them: the interface and its records, the registry of
stores by name, and the one process-wide setting a server makes. Which backend an index uses (FAISS files or a
Milvus collection) stays private to `store/`: outside it, import from here, `indexdir` or `vector_store`.
"""

from __future__ import annotations

from viewfinder.store.factory import DEFAULT_STORE, STORES, normalise_store, store_class
from viewfinder.store.faiss_index import one_thread_per_query
from viewfinder.store.vector_store import IndexParams, Queries, StoreAddress, VectorStore

__all__ = [
    "DEFAULT_STORE",
    "STORES",
    "IndexParams",
    "Queries",
    "StoreAddress",
    "VectorStore",
    "normalise_store",
    "one_thread_per_query",
    "store_class",
]
