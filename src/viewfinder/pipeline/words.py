"""The OCR pass of `index --ocr`: reads the words in each indexed content that has none recorded yet.

It runs after the embedding pass, on the images committed, so the photos are searchable before their words
are read. Words are kept by content hash (store.words), which makes the pass incremental (a content read once
is never read again), move-aware (a moved or copied file's content is already read) and crash-safe (each
batch of words is one transaction, and a killed run goes on from the first content without words).

The words are read here (`read_here`: a photo per core at once, each decoded and read in turn) or
on a Ray cluster (`ray_engine.words_stream`); either way they are stored here, batch by batch.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from viewfinder.images.decode import DecodeError, UnreadableError
from viewfinder.images.ocr import Pictures, WordReader, prepare
from viewfinder.sources import Indexed, OriginalChangedError, Source
from viewfinder.store import words
from viewfinder.store.catalog import Catalog
from viewfinder.store.catalog_rows import ImageRecord

BATCH = 16  # contents read between two commits: at most this much OCR work is redone after a crash
THREADS = os.cpu_count() or 1  # photos read at once, each on one core
AHEAD = 2 * THREADS  # photos in the works: enough to keep every thread busy, few in memory
T = TypeVar("T")
R = TypeVar("R")

# What reading one photo gave: its words ("" for none), or why they could not be read: a DecodeError is
# recorded (not tried again until the content changes), an UnreadableError, OSError or OriginalChangedError
# is tried again next run (gone, not permitted, replaced since the scan).
Outcome = str | Exception
# Reads the words of these photos, yielding each photo (as given) with its outcome, in any order.
ReadWords = Callable[[list[ImageRecord]], Iterator[tuple[ImageRecord, Outcome]]]

log = logging.getLogger(__name__)


@dataclass
class WordsReport:
    """What one OCR pass did: how many contents it read, and those it could not read with why."""

    read: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)


def read_all_words(
    catalog: Catalog, sources: dict[str, Source], read_words: ReadWords, progress: Callable[[int, int], None] | None
) -> WordsReport:
    """Reads the words of the unread contents under `sources` with `read_words` and stores them; drops the
    words no image uses. A photo whose words cannot be read is recorded with its reason (no words) and not
    tried again until its content changes; one that cannot be read now is tried next run."""
    report = WordsReport()
    pending = words.unread(catalog.db, sources)
    digests = dict(pending)
    records = catalog.images(list(digests))
    batch: list[words.ReadWords] = []
    for done, (record, outcome) in enumerate(read_words([records[image_id] for image_id in digests]), 1):
        digest = digests[record.id]
        if isinstance(outcome, str):
            batch.append(words.ReadWords(digest, outcome))
            report.read += 1
        elif isinstance(outcome, DecodeError) and not isinstance(outcome, UnreadableError):
            batch.append(words.ReadWords(digest, "", str(outcome) or "cannot decode"))
            report.skipped.append({"path": record.path, "reason": str(outcome) or "cannot decode"})
        else:
            log.warning("words of %s not read now: %s", record.path, outcome)
        if len(batch) >= BATCH:
            words.store(catalog.db, batch)
            batch = []
        if progress:
            progress(done, len(pending))
    words.store(catalog.db, batch)
    words.forget_unused(catalog.db)
    return report


def read_here(sources: dict[str, Source], threads: int = THREADS) -> ReadWords:
    """Reads words in this process, in order, on `threads` threads sharing one engine, each decoding a photo
    and reading its words in turn."""
    reader = WordReader()

    def read(record: ImageRecord) -> Outcome:
        loaded = load(sources[record.root], record)
        return loaded if isinstance(loaded, Exception) else read_prepared(reader, loaded, record.path)

    def read_words(records: list[ImageRecord]) -> Iterator[tuple[ImageRecord, Outcome]]:
        with ThreadPoolExecutor(threads, thread_name_prefix="ocr") as pool:
            yield from zip(records, _ahead(pool, read, records), strict=True)

    return read_words


def load(source: Source, entry: Indexed) -> Pictures | Exception:
    """The OCR pictures of one indexed photo, or why it cannot be decoded (now or at all)."""
    try:
        if not source.remote:
            return prepare(entry.path)
        with source.open_indexed(entry) as handle:  # only while it is still the content indexed
            return prepare(handle.read())
    except (DecodeError, OSError, OriginalChangedError) as error:
        return error
    except Exception as error:  # whatever a crafted file makes a decoder raise: one photo never stops the run
        log.warning("unexpected error decoding %s for OCR", entry.path, exc_info=error)
        return DecodeError(f"cannot be decoded ({type(error).__name__})")


def read_prepared(reader: WordReader, pictures: Pictures, path: str) -> str | DecodeError:
    """The words in prepared pictures, or why the engine could not read them (said as decoding would say it)."""
    try:
        return reader.read(pictures)
    except Exception as error:  # the engine's own failure on one odd picture: the run goes on
        log.warning("OCR failed on %s", path, exc_info=error)
        return DecodeError(f"OCR failed ({type(error).__name__})")


def _ahead(pool: ThreadPoolExecutor, work: Callable[[T], R], items: list[T]) -> Iterator[R]:
    """What `work` made of each item, in order, with at most AHEAD items beyond the one yielded in the works
    (pool.map would submit them all at once, holding every result not yet consumed)."""
    pending: deque[Future[R]] = deque()
    for item in items:
        pending.append(pool.submit(work, item))
        if len(pending) > AHEAD:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
