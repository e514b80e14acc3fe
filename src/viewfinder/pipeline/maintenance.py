"""Removing a source folder's images from an index, also when the folder itself is gone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from viewfinder.errors import ViewfinderError
from viewfinder.pipeline.indexer import update_vectors
from viewfinder.sources import source_for
from viewfinder.store.indexdir import IndexDir


@dataclass
class RemoveReport:
    """What `viewfinder remove` did: images removed per source, and the images left in the index."""

    removed: dict[str, int] = field(default_factory=dict)
    total: int = 0


def remove_sources(index_path: Path, sources: Sequence[str]) -> RemoveReport:
    """Removes every image indexed from these source folders (or from folders inside them) in one transaction."""
    index_dir = IndexDir(index_path)
    manifest = index_dir.read_manifest()
    roots = [source_for(source).root for source in sources]  # a URL stays a URL (a path would fold its '//')
    with index_dir.writer_lock():
        catalog = index_dir.open_catalog()
        try:
            known = catalog.roots()
            report = RemoveReport()
            removed_ids: list[int] = []
            forget_skipped: list[str] = []
            forget_sources: list[str] = []
            for root in roots:
                ids = catalog.ids_under(root)
                if not ids and root not in known:
                    listed = ", ".join(known) or "none"
                    raise ViewfinderError(f"{root} is not a source of this index (its sources: {listed}).")
                report.removed[root] = len(ids)
                removed_ids += ids
                forget_skipped += catalog.skipped_under(root)
                forget_sources += [r for r in known if r == root or source_for(root).contains(r)]
            saved = index_dir.saved_vectors(catalog, manifest)
            start_generation = catalog.generation()
            catalog.commit_batch(removed_ids=removed_ids, forget_skipped=forget_skipped, forget_sources=forget_sources)
            update_vectors(index_dir, catalog, manifest.dim, saved, start_generation, removed_ids, [], [])
            report.total = catalog.count()
        finally:
            catalog.close()
    return report
