"""The OCR pass of `index --ocr`: reads the words in each indexed content that has none recorded yet.

It runs after the embedding pass, on the images committed, so the photos are searchable before their words
are read. Words are kept by content hash (store.words), which makes the pass incremental (a content read once
is never read again), move-aware (a moved or copied file's content is already read) and crash-safe (each
batch of words is one transaction, and a killed run goes on from the first content without words).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from viewfinder.images.decode import DecodeError, UnreadableError
from viewfinder.images.ocr import WordReader
from viewfinder.sources import OriginalChangedError, Source
from viewfinder.store import words
from viewfinder.store.catalog import Catalog, ImageRecord

BATCH = 16  # contents read between two commits: at most this much OCR work is redone after a crash

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

    A photo OCR cannot decode is recorded with its reason (no words) and not tried again until its content
    changes; one that cannot be read now (gone, not permitted, replaced since the scan) is tried next run.
    """
    report = WordsReport()
    pending = words.unread(catalog.db, sources)
    records = catalog.images([image_id for image_id, _ in pending])
    batch: list[words.ReadWords] = []
    for done, (image_id, digest) in enumerate(pending, 1):
        record = records[image_id]
        try:
            batch.append(words.ReadWords(digest, _read(reader, sources[record.root], record)))
            report.read += 1
        except (UnreadableError, OSError, OriginalChangedError) as error:
            log.warning("words of %s not read now: %s", record.path, error)
        except DecodeError as error:
            batch.append(words.ReadWords(digest, "", str(error) or "cannot decode"))
            report.skipped.append({"path": record.path, "reason": str(error) or "cannot decode"})
        if len(batch) >= BATCH:
            words.store(catalog.db, batch)
            batch = []
        if progress:
            progress(done, len(pending))
    words.store(catalog.db, batch)
    words.forget_unused(catalog.db)
    return report


def _read(reader: WordReader, source: Source, record: ImageRecord) -> str:
    """The words of one indexed image, read from its file, or through its source for a remote one (only
    while it is still the content indexed)."""
    if not source.remote:
        return reader.read(record.path)
    with source.open_indexed(record) as handle:
        return reader.read(handle.read())
