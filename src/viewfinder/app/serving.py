"""What a long-running server process sets once: the vector index's threading, and its response cache type."""

from viewfinder.search.lru import LRUCache

__all__ = ["LRUCache", "one_thread_per_query"]


def one_thread_per_query() -> None:
    """Each vector search on one thread, for a server answering one query per request (store.vectors says
    why); concurrent requests still use every core."""
    from viewfinder.store.vectors import one_thread_per_query as store_one_thread

    store_one_thread()
