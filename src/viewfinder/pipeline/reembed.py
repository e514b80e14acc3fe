"""Embedding the images of a catalog again with another model (a model upgrade, app/upgrade.py).

The catalog is the staging copy of a live one (store/staging.py): every image it holds without a vector is
decoded once, from its source as indexed, and embedded; each batch commits as one transaction, so a killed
run keeps every batch it finished. Byte-identical images are embedded once and share the vector. An image
that can no longer be read leaves the new index, with the reason recorded as for any skipped file (the next
`viewfinder index` run retries one that was only unreadable for a moment).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from viewfinder.models.embedder import Embedder
from viewfinder.pipeline.indexer import embed_all
from viewfinder.pipeline.records import PlannedFile
from viewfinder.sources import SourceFile, source_for
from viewfinder.store.catalog import Catalog
from viewfinder.store.catalog_rows import FileState
from viewfinder.store.staging import fill_copies, unembedded


@dataclass
class ReembedReport:
    """What one pass did: images the model embedded, copies given their twin's vector, images dropped."""

    embedded: int = 0
    copies: int = 0
    dropped: list[dict[str, str]] = field(default_factory=list)


def reembed(
    catalog: Catalog,
    embedder: Embedder,
    batch_size: int,
    workers: int,
    on_batch: Callable[[int, int], None] | None = None,
) -> ReembedReport:
    """Gives every image of `catalog` lacking a vector one from `embedder`; `on_batch(images, embedded)` is
    called after each commit with how many images it settled and how many of those the model embedded."""
    report = ReembedReport()
    # A copy whose twin could not be read is embedded in the next round, from its own file.
    while rows := unembedded(catalog.db):
        _embed_rows(catalog, rows, embedder, batch_size, workers, report, on_batch)
        copies = fill_copies(catalog.db)
        report.copies += copies
        if on_batch is not None and copies:
            on_batch(copies, 0)
    return report


def _embed_rows(
    catalog: Catalog,
    rows: list[tuple[Any, ...]],
    embedder: Embedder,
    batch_size: int,
    workers: int,
    report: ReembedReport,
    on_batch: Callable[[int, int], None] | None,
) -> None:
    work = [
        PlannedFile(
            SourceFile(path, root, size, mtime_ns, inode or 0, ctime_ns or 0),
            FileState(size, mtime_ns, id=image_id),
            content_hash,
        )
        for image_id, path, root, size, mtime_ns, inode, ctime_ns, content_hash in rows
    ]
    ids: dict[str, int] = {row[1]: row[0] for row in rows}
    sources = {root: source_for(root) for root in {planned.file.root for planned in work}}
    for batch in embed_all(work, embedder, batch_size, workers, sources):
        gone = [ids[skip.path] for skip in batch.skips]
        catalog.commit_batch(images=batch.images, skipped=[skip.row() for skip in batch.skips], removed_ids=gone)
        report.embedded += len(batch.images)
        report.dropped += [skip.report() for skip in batch.skips]
        if on_batch is not None:
            on_batch(len(batch.images) + len(batch.skips), len(batch.images))
