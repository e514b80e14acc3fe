"""Near-duplicate groups for a server: cached per index generation and threshold, computed one at a time.

Finding duplicates searches every image's neighbours: seconds at ten thousand images. A server that computed
one per distinct threshold, all at once, let a handful of requests take every core for tens of seconds and
slow every search with them; so thresholds are rounded to steps of THRESHOLD_STEP (a few distinct answers,
each cached), and one computation runs at a time per `DuplicateAnswers`, the others waiting for it and then
usually finding their answer made.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from viewfinder.app.index import Index
from viewfinder.search.duplicates import DuplicateGroup
from viewfinder.search.lru import LRUCache

THRESHOLD_STEP = 0.005
CACHE_SIZE = 8

T = TypeVar("T")


def quantised(threshold: float) -> float:
    """The threshold rounded to the nearest THRESHOLD_STEP, never below one step (0.9612 -> 0.96)."""
    steps = max(1, round(threshold / THRESHOLD_STEP))
    return round(steps * THRESHOLD_STEP, 3)


class DuplicateAnswers(Generic[T]):
    """The duplicate groups of an index, rendered by the caller, one computation at a time; thread-safe."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._answers: LRUCache[T] = LRUCache(size)
        self._computing = threading.Lock()

    def answer(
        self, index: Index, threshold: float | None, render: Callable[[list[DuplicateGroup], float | None], T]
    ) -> T:
        """`render(groups, threshold)` for the quantised threshold (None: exact copies), from the cache when
        this index generation was asked it before; else computed once the computation in progress is done."""
        threshold = None if threshold is None else quantised(threshold)
        key = (index.catalog_state(), threshold)
        found = self._answers.get(key)
        if found is None:
            with self._computing:
                found = self._answers.get(key)  # made by the computation this one waited for
                if found is None:
                    found = render(index.duplicates(threshold, exact=threshold is None), threshold)
                    self._answers.put(key, found)
        return found

    def groups(self, index: Index, threshold: float | None) -> list[DuplicateGroup]:
        """The groups at the quantised threshold (None: exact copies), computed now, one computation at a time
        (to resolve them: an answer listed earlier may be of an older generation)."""
        with self._computing:
            return index.duplicates(None if threshold is None else quantised(threshold), exact=threshold is None)
