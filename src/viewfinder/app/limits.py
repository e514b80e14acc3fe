"""Bounds on the memory that decoding images takes in a process: a budget of bytes for decodes in flight, and
one decode of a picture for every concurrent request of it.

A small file can decode to gigabytes (a 341 KB PNG of 120 MP peaked at 1.07 GB, a 780 KB float TIFF at
1.95 GB), so a few uploads or renditions at once could exhaust a server's memory. Each decode first reserves
its estimate (`images.decode.decode_memory`, from the header alone) from the process's `decode_budget`; one
that does not fit waits for others to finish, and is refused (BusyError, HTTP 503) when none has in
`wait_seconds`; one larger than the whole budget is refused at once (TooLargeError, HTTP 413).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, BinaryIO, TypeVar, cast

from viewfinder.errors import BusyError, TooLargeError
from viewfinder.images.decode import DecodeError, decode_memory
from viewfinder.search.query import Term
from viewfinder.settings import DECODE_MEMORY_MB
from viewfinder.sources import source_for
from viewfinder.store.catalog_rows import ImageRecord

WAIT_SECONDS = 30.0
# An object in a store is not fetched twice to read its header: its catalog size at the worst bytes per pixel
# decode_memory counts (32-bit samples).
WORST_BYTES_PER_PIXEL = 20

T = TypeVar("T")


class MemoryBudget:
    """Bytes that work in flight may take, reserved before the work and given back after; thread-safe."""

    def __init__(self, limit: int, wait_seconds: float = WAIT_SECONDS) -> None:
        self.limit = limit
        self.wait_seconds = wait_seconds
        self.in_use = 0
        self.granted = 0  # reservations made so far: each one a decode
        self._changed = threading.Condition()

    @contextmanager
    def reserve(self, nbytes: int, what: str) -> Iterator[None]:
        """Holds `nbytes` of the budget for the block; BusyError when they are not free within `wait_seconds`,
        TooLargeError when they are more than the whole budget. `what` names the work in those errors."""
        if nbytes > self.limit:
            raise TooLargeError(
                f"{what} needs about {_megabytes(nbytes)} to decode, more than this server's decode memory of"
                f" {_megabytes(self.limit)} (VIEWFINDER_DECODE_MEMORY)."
            )
        with self._changed:
            if not self._changed.wait_for(lambda: self.in_use + nbytes <= self.limit, self.wait_seconds):
                raise BusyError(f"The server is decoding other images and has no memory free for {what}; retry.")
            self.in_use += nbytes
            self.granted += 1
        try:
            yield
        finally:
            with self._changed:
                self.in_use -= nbytes
                self._changed.notify_all()

    def resize(self, limit: int) -> None:
        """A new limit (a server's setting); work waiting is looked at again."""
        with self._changed:
            self.limit = limit
            self._changed.notify_all()


class OncePerKey:
    """Runs work once for all the callers that ask for the same key while it runs: they share its result
    (or its exception). Thread-safe."""

    def __init__(self) -> None:
        self._running: dict[Hashable, Future[Any]] = {}
        self._lock = threading.Lock()

    def run(self, key: Hashable, work: Callable[[], T]) -> T:
        with self._lock:
            running = self._running.get(key)
            if running is None:
                future: Future[Any] = Future()
                self._running[key] = future
        if running is not None:
            return cast(T, running.result())
        try:
            result = work()
        except BaseException as error:
            future.set_exception(error)
            raise
        finally:
            with self._lock:
                del self._running[key]
        future.set_result(result)
        return result


decode_budget = MemoryBudget(DECODE_MEMORY_MB * 2**20)


def decode_cost(source: bytes | BinaryIO | str) -> int:
    """The memory a decode of source is estimated to take; 0 for what is no image (the decoder then refuses
    it in its own words, at no cost)."""
    try:
        return decode_memory(source)
    except DecodeError:
        return 0


@contextmanager
def decoding_terms(terms: Sequence[Term]) -> Iterator[None]:
    """Holds the budget for the images a query decodes (uploads and files), while the block runs."""
    cost = sum(decode_cost(term.image_bytes) for term in terms if term.image_bytes)
    cost += sum(decode_cost(str(term.image_path)) for term in terms if term.image_path is not None)
    if cost == 0:
        yield
        return
    with decode_budget.reserve(cost, "the query image"):
        yield


def original_cost(image: ImageRecord) -> int:
    """The memory a decode of an indexed image's original is estimated to take, from its header when local;
    raises OriginalChangedError when the file is no longer the one indexed."""
    source = source_for(image.root)
    if source.remote:
        return image.width * image.height * WORST_BYTES_PER_PIXEL
    with source.open_indexed(image) as original:
        return decode_cost(original)


def _megabytes(nbytes: int) -> str:
    return f"{nbytes / 2**20:,.0f} MB"
