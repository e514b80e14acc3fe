"""The OCR pass of `index --ocr`: reads the words in each indexed content that has none recorded yet.

It runs after the embedding pass, on the images committed, so the photos are searchable before their words
are read. Words are kept by content hash (store.words), which makes the pass incremental (a content read once
is never read again), move-aware (a moved or copied file's content is already read) and crash-safe (each
batch of words is one transaction, and a killed run goes on from the first content without words).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from viewfinder.images.decode import DecodeError, UnreadableError
from viewfinder.images.ocr import Pictures, WordReader, prepare
from viewfinder.sources import OriginalChangedError, Source
from viewfinder.store import words
from viewfinder.store.catalog import Catalog, ImageRecord

BATCH = 16  # contents read between two commits: at most this much OCR work is redone after a crash
AHEAD = 2  # photos decoded ahead of the model: enough to keep it busy, few in memory (two 1280 px copies each)
T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)


@dataclass
class WordsReport:
    """What one OCR pass did: how many contents it read, and those it could not read with why."""

    read: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)


def read_all_words(
    catalog: Catalog, sources: dict[str, Source], reader: WordReader, progress: Callable[[int, int], None] | None
) -> WordsReport:
    """Reads the words of the unread contents under `sources` and stores them; drops the words no image uses.

    Photos are decoded on a thread ahead of the model, so decoding and scaling one overlaps reading the last. A
    photo OCR cannot decode or read is recorded with its reason (no words) and not tried again until its
    content changes; one that cannot be read now (gone, not permitted, replaced since the scan) is tried next run.
    """
    report = WordsReport()
    pending = words.unread(catalog.db, sources)
    records = catalog.images([image_id for image_id, _ in pending])
    batch: list[words.ReadWords] = []

    def load(item: tuple[int, str]) -> Pictures | Exception:
        record = records[item[0]]
        try:
            return _prepare(sources[record.root], record)
        except (DecodeError, OSError, OriginalChangedError) as error:
            return error
        except Exception as error:  # whatever a crafted file makes a decoder raise: one photo never stops the run
            log.warning("unexpected error decoding %s for OCR", record.path, exc_info=error)
            return DecodeError(f"cannot be decoded ({type(error).__name__})")

    with ThreadPoolExecutor(1, thread_name_prefix="ocr-decode") as pool:
        for done, ((image_id, digest), loaded) in enumerate(_ahead(pool, load, pending), 1):
            path = records[image_id].path
            outcome = _read(reader, loaded, path) if isinstance(loaded, Pictures) else loaded
            if isinstance(outcome, str):
                batch.append(words.ReadWords(digest, outcome))
                report.read += 1
            elif isinstance(outcome, DecodeError) and not isinstance(outcome, UnreadableError):
                batch.append(words.ReadWords(digest, "", str(outcome) or "cannot decode"))
                report.skipped.append({"path": path, "reason": str(outcome) or "cannot decode"})
            else:
                log.warning("words of %s not read now: %s", path, outcome)
            if len(batch) >= BATCH:
                words.store(catalog.db, batch)
                batch = []
            if progress:
                progress(done, len(pending))
    words.store(catalog.db, batch)
    words.forget_unused(catalog.db)
    return report


def _ahead(pool: ThreadPoolExecutor, load: Callable[[T], R], items: list[T]) -> Iterator[tuple[T, R]]:
    """Each item with what `load` made of it, in order, loading at most AHEAD items beyond the one yielded."""
    pending: deque[tuple[T, Future[R]]] = deque()
    for item in items:
        pending.append((item, pool.submit(load, item)))
        if len(pending) > AHEAD:
            first, future = pending.popleft()
            yield first, future.result()
    while pending:
        first, future = pending.popleft()
        yield first, future.result()


def _read(reader: WordReader, pictures: Pictures, path: str) -> str | DecodeError:
    """The words in prepared pictures, or why the engine could not read them (said as decoding would say it)."""
    try:
        return reader.read(pictures)
    except Exception as error:  # the engine's own failure on one odd picture: the run goes on
        log.warning("OCR failed on %s", path, exc_info=error)
        return DecodeError(f"OCR failed ({type(error).__name__})")


def _prepare(source: Source, record: ImageRecord) -> Pictures:
    """The OCR pictures of one indexed image, from its file, or through its source for a remote one (only
    while it is still the content indexed)."""
    if not source.remote:
        return prepare(record.path)
    with source.open_indexed(record) as handle:
        return prepare(handle.read())
