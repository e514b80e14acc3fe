"""What a long-running server process sets once: the vector index's threading, the text tower's, and its response
cache type."""

from viewfinder.search.lru import LRUCache

__all__ = ["LRUCache", "one_thread_per_query", "text_on_free_cores"]


def one_thread_per_query() -> None:
    """Each vector search on one thread, for a server answering one query per request (store.vectors says
    why); concurrent requests still use every core."""
    from viewfinder.store.vectors import one_thread_per_query as store_one_thread

    store_one_thread()


def text_on_free_cores() -> None:
    """A text query runs the text tower on two threads when a core is free for the second (models.text_threads
    says when and why); called before the model loads."""
    from viewfinder.models.text_threads import use_free_cores

    use_free_cores()
