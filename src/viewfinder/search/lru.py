"""A small thread-safe LRU cache, shared by the engine's text-embedding cache and the service's response cache."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class LRUCache(Generic[V]):
    """Keeps the `size` most recently used values, and at most `max_bytes` of them when a budget is given
    (each value weighs what its `put` says); safe to share between threads."""

    def __init__(self, size: int, max_bytes: int | None = None) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: Hashable, value: V, nbytes: int = 0) -> None:
        """Stores `value`, which weighs `nbytes`; one heavier than the whole budget is not kept."""
        with self._lock:
            previous = self._items.pop(key, None)
            if previous is not None:
                self.bytes -= previous[1]
            if self.max_bytes is not None and nbytes > self.max_bytes:
                return
            self._items[key] = (value, nbytes)
            self.bytes += nbytes
            while len(self._items) > self.size or (self.max_bytes is not None and self.bytes > self.max_bytes):
                self.bytes -= self._items.popitem(last=False)[1][1]

    def __len__(self) -> int:
        return len(self._items)
