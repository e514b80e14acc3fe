"""`viewfinder check`: verifies an index's files against each other and repairs what can be repaired.

The catalog is the source of truth. The vector index is rebuilt from it; thumbnails are a cache and stale
ones are deleted; catalog rows whose vector is missing are dropped so the next `viewfinder index` embeds
those files again. A catalog SQLite cannot read is set aside (never deleted) and a fresh one started.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import time
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np

from viewfinder.errors import IndexMismatchError, ViewfinderError
from viewfinder.images.decode import DecodeError
from viewfinder.sources import OriginalChangedError, source_for
from viewfinder.store.catalog import Catalog, CatalogDamagedError
from viewfinder.store.indexdir import IndexDir
from viewfinder.store.thumbnails import FOLDER, make_thumbnail_of

THUMBNAIL_NAME = re.compile(r"^(\d+)-([0-9a-f]+)-([0-9a-f]+)\.jpg$")

log = logging.getLogger(__name__)


@dataclass
class CheckReport:
    """Problems found (each one sentence) and, with repair, what was done about them."""

    problems: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    missing_files: int = 0  # indexed images whose file is gone (`viewfinder index` or `remove` settles them)

    @property
    def healthy(self) -> bool:
        return not self.problems or len(self.repaired) >= len(self.problems)


def check_index(index_dir: IndexDir, repair: bool = False) -> CheckReport:
    """Verifies the catalog, the vector index and the thumbnails; with `repair`, fixes what it can."""
    manifest = index_dir.read_manifest()
    report = CheckReport()
    # A repair writes: it takes the writer lock, so it never races a `viewfinder index` run.
    with index_dir.writer_lock() if repair else nullcontext():
        catalog = _open(index_dir, repair, report)
        if catalog is None:
            return report
        try:
            _check_catalog(catalog, manifest.dim, repair, report)
            _check_vectors(index_dir, catalog, manifest.dim, repair, report)
            _check_thumbnails(index_dir, catalog, repair, report)
            report.missing_files = _count_missing(catalog)
        finally:
            catalog.close()
    return report


def _open(index_dir: IndexDir, repair: bool, report: CheckReport) -> Catalog | None:
    """The catalog (upgraded and writable with repair), or None when it cannot be checked further."""
    if not index_dir.catalog_path.exists():
        report.problems.append("The catalog is missing.")
    try:
        if not repair:
            return index_dir.open_catalog(readonly=True)
        before = _version(index_dir) if index_dir.catalog_path.exists() else None
        catalog = index_dir.open_catalog()
        if before is not None and before != catalog.db.execute("PRAGMA user_version").fetchone()[0]:
            report.problems.append("The catalog was in an older format.")
            report.repaired.append("Upgraded the catalog to the current format.")
        return catalog
    except CatalogDamagedError as error:
        report.problems.append(str(error).split(";")[0] + ".")
        if not repair:
            return None
    except IndexMismatchError as error:
        report.problems.append(str(error))
        return None
    except sqlite3.DatabaseError as error:  # unreadable even as a file header: damaged as well
        report.problems.append(f"The catalog cannot be read ({error}).")
        if not repair:
            return None
    aside = index_dir.catalog_path.with_name(f"catalog.sqlite.damaged-{int(time.time())}")
    for suffix in ("", "-wal", "-shm"):
        damaged = index_dir.catalog_path.with_name(index_dir.catalog_path.name + suffix)
        if damaged.exists():
            os.replace(damaged, aside.with_name(aside.name + suffix))
    report.repaired.append(
        f"Set the damaged catalog aside as {aside.name} and started an empty one: run `viewfinder index "
        "SOURCE...` to index the folders again."
    )
    return index_dir.open_catalog()


def _version(index_dir: IndexDir) -> int:
    db = sqlite3.connect(f"file:{index_dir.catalog_path}?mode=ro", uri=True)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def _check_catalog(catalog: Catalog, dim: int, repair: bool, report: CheckReport) -> None:
    db = catalog.db
    result = [row[0] for row in db.execute("PRAGMA integrity_check")]
    if result != ["ok"]:
        report.problems.append(f"SQLite integrity check failed: {'; '.join(result[:3])}.")
        if repair:
            db.execute("REINDEX")
            if [row[0] for row in db.execute("PRAGMA integrity_check")] == ["ok"]:
                report.repaired.append("Rebuilt the catalog's SQL indexes.")
    bad = [
        row[0]
        for row in db.execute(
            "SELECT i.id FROM images i LEFT JOIN vectors v ON v.id = i.id WHERE v.id IS NULL OR length(v.vector) != ?",
            (dim * 4,),
        )
    ]
    if bad:
        report.problems.append(f"{len(bad)} catalog images have no usable vector.")
        if repair:
            catalog.commit_batch(removed_ids=bad)
            report.repaired.append(f"Dropped them; `viewfinder index` embeds those {len(bad)} files again.")


def _check_vectors(index_dir: IndexDir, catalog: Catalog, dim: int, repair: bool, report: CheckReport) -> None:
    generation = catalog.generation()
    manifest = index_dir.read_manifest()
    loaded = index_dir.saved_vectors(catalog, manifest)
    if loaded is None:
        problem = "The vector index is missing or unreadable."
    elif loaded[1] != generation or loaded[0].dim != dim:
        problem = f"The vector index is for catalog generation {loaded[1]}, not {generation}."
    else:
        ids = np.fromiter((row[0] for row in catalog.db.execute("SELECT id FROM vectors ORDER BY id")), np.int64)
        # A FAISS index lists its ids; a remote store is checked by count (listing a cluster's ids is costly).
        same = np.array_equal(loaded[0].ids(), ids) if hasattr(loaded[0], "ids") else loaded[0].count == len(ids)
        if same:
            return
        problem = "The vector index's ids differ from the catalog's."
    report.problems.append(problem)
    if repair:
        index_dir.save_vectors(index_dir.rebuild_vectors(catalog, manifest, loaded), generation)
        report.repaired.append("Rebuilt the vector index from the catalog.")


def _check_thumbnails(index_dir: IndexDir, catalog: Catalog, repair: bool, report: CheckReport) -> None:
    folder = index_dir.path / FOLDER
    if not folder.is_dir():
        return
    current = {
        f"{image_id}-{size:x}-{mtime:x}.jpg"
        for image_id, size, mtime in catalog.db.execute("SELECT id, size, mtime_ns FROM images")
    }
    stale = [
        entry
        for entry in folder.iterdir()
        if entry.name not in current or not THUMBNAIL_NAME.match(entry.name) or entry.stat().st_size == 0
    ]
    if stale:
        report.problems.append(f"{len(stale)} thumbnails are stale or empty.")
        if repair:
            remade = _remake_remote(index_dir, catalog, stale)
            for entry in stale:
                if entry.name not in remade:
                    entry.unlink(missing_ok=True)
            if len(remade) < len(stale):
                report.repaired.append(
                    f"Deleted {len(stale) - len(remade)} stale thumbnails (they are made again when shown, or by "
                    "`viewfinder index` for images in object storage)."
                )
            if remade:
                report.repaired.append(
                    f"Made {len(remade)} damaged thumbnails again from their originals in object storage."
                )


def _remake_remote(index_dir: IndexDir, catalog: Catalog, stale: list) -> set[str]:
    """The names of the damaged current thumbnails of images in object storage, made again from the objects:
    the service never fetches such an original to make one when shown."""
    current = {int(match[1]): entry.name for entry in stale if (match := THUMBNAIL_NAME.match(entry.name))}
    remade = set()
    for image in catalog.images(list(current)).values():
        name = current[image.id]
        if name != f"{image.id}-{image.size:x}-{image.mtime_ns:x}.jpg" or not source_for(image.root).remote:
            continue
        try:
            make_thumbnail_of(index_dir.path, image)
        except (OriginalChangedError, DecodeError, ViewfinderError, OSError) as error:
            log.warning("cannot make the thumbnail of %s again: %s", image.path, error)
            continue
        remade.add(name)
    return remade


def _count_missing(catalog: Catalog) -> int:
    """How many indexed entries their sources say are gone (one listing per object-storage source)."""
    by_root: dict[str, list[str]] = {}
    for path, root in catalog.db.execute("SELECT path, root FROM images"):
        by_root.setdefault(root, []).append(path)
    missing = 0
    for root, paths in by_root.items():
        try:
            missing += len(source_for(root).gone(paths))
        except ViewfinderError as error:  # an unreachable store: its entries are neither counted nor lost
            log.warning("cannot tell which images of %s are gone: %s", root, error)
    return missing
