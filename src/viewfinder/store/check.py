"""`viewfinder check`: verifies an index's files against each other and repairs what can be repaired.

The catalog is the source of truth. The manifest's dimension must be its vectors' (repair restores it from
them, and never drops a row over it). Every vector must be a finite unit vector, and the vector index must hold
the catalog's ids with the catalog's vectors; it is rebuilt from the catalog when not. A catalog row whose
vector is missing or broken is kept and marked for embedding again: its file facts are forgotten, so the next
`viewfinder index` embeds the file under the same id. Thumbnails and renditions, of every size, are a cache and
stale ones are deleted. A
catalog SQLite cannot read is set aside (never deleted) and a fresh one started.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from viewfinder.errors import IndexMismatchError, ViewfinderError
from viewfinder.images.decode import DecodeError
from viewfinder.images.thumbnails import THUMBNAIL_SIDE
from viewfinder.sources import OriginalChangedError, source_for
from viewfinder.store.catalog import Catalog, CatalogDamagedError
from viewfinder.store.factory import store_class
from viewfinder.store.faiss_index import VectorIndex
from viewfinder.store.indexdir import IndexDir, Manifest
from viewfinder.store.staging import finish_swap, swap_stopped
from viewfinder.store.thumbnails import (
    FOLDER,
    RENDITION_SIDE,
    RENDITION_SIDES,
    RENDITIONS,
    THUMBNAIL_SIDES,
    make_thumbnail_of,
    sized_folder,
)
from viewfinder.store.vector_store import VectorStore

THUMBNAIL_NAME = re.compile(r"^(\d+)-([0-9a-f]+)-([0-9a-f]+)\.jpg$")
NORM_TOLERANCE = 1e-3  # models write float32 unit vectors: their norms are within ~1e-6 of 1
VALUE_TOLERANCE = 1e-5  # a vector index holds the catalog's float32 vectors unchanged
CHUNK = 20_000  # vectors compared at a time: 20k x 512 float32 is 40 MB per copy, whatever the index's size
AWAITING = -1  # size and mtime_ns of a row marked for embedding again: no file has them, so `index` embeds it

log = logging.getLogger(__name__)

Saved = tuple[VectorStore, int | None] | None  # a saved vector store and its generation (IndexDir.saved_vectors)


@dataclass
class CheckReport:
    """Problems found (each one sentence) and, with repair, what was done about them."""

    problems: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    missing_files: int = 0  # indexed images whose file is gone (`viewfinder index` or `remove` settles them)
    awaiting_embedding: int = 0  # rows a repair kept without their broken vector (`viewfinder index` embeds them)

    @property
    def healthy(self) -> bool:
        return not self.problems or len(self.repaired) >= len(self.problems)


def check_index(index_dir: IndexDir, repair: bool = False) -> CheckReport:
    """Verifies the catalog, the vector index and the thumbnails; with `repair`, fixes what it can."""
    report = CheckReport()
    if swap_stopped(index_dir.path):
        report.problems.append("A model swap (`viewfinder upgrade`) was stopped half way.")
        if not repair:
            return report
        with index_dir.writer_lock():
            finish_swap(index_dir.path)
        report.repaired.append("Finished the model swap.")
    manifest = index_dir.read_manifest()
    # A repair writes: it takes the writer lock, so it never races a `viewfinder index` run.
    with index_dir.writer_lock() if repair else nullcontext():
        catalog = _open(index_dir, repair, report)
        if catalog is None:
            return report
        try:
            _check_integrity(catalog, repair, report)
            saved = index_dir.saved_vectors(catalog, manifest)
            settled = _check_dim(index_dir, manifest, catalog, saved, repair, report)
            if settled is not None:
                _check_vectors(index_dir, catalog, settled, saved, repair, report)
            _check_thumbnails(index_dir, catalog, repair, report)
            report.missing_files = _count_missing(catalog)
            report.awaiting_embedding = catalog.db.execute(
                "SELECT COUNT(*) FROM images WHERE size = ?", (AWAITING,)
            ).fetchone()[0]
        finally:
            catalog.close()
    return report


def _open(index_dir: IndexDir, repair: bool, report: CheckReport) -> Catalog | None:
    """The catalog (upgraded and writable with repair), or None when it cannot be checked further."""
    if not index_dir.catalog_path.exists():
        report.problems.append("The catalog is missing.")
    try:
        if not repair:
            return index_dir.open_catalog(readonly=True, check_dim=False)
        before = _version(index_dir) if index_dir.catalog_path.exists() else None
        catalog = index_dir.open_catalog(check_dim=False)
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
    return index_dir.open_catalog(check_dim=False)


def _version(index_dir: IndexDir) -> int:
    db = sqlite3.connect(f"file:{index_dir.catalog_path}?mode=ro", uri=True)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def _check_integrity(catalog: Catalog, repair: bool, report: CheckReport) -> None:
    db = catalog.db
    result = [row[0] for row in db.execute("PRAGMA integrity_check")]
    if result != ["ok"]:
        report.problems.append(f"SQLite integrity check failed: {'; '.join(result[:3])}.")
        if repair:
            db.execute("REINDEX")
            if [row[0] for row in db.execute("PRAGMA integrity_check")] == ["ok"]:
                report.repaired.append("Rebuilt the catalog's SQL indexes.")


def _check_dim(
    index_dir: IndexDir, manifest: Manifest, catalog: Catalog, saved: Saved, repair: bool, report: CheckReport
) -> Manifest | None:
    """The manifest to check the vectors against: as it is, or with the dimension repair restored from the
    vectors; None while its dimension is wrong (the vectors are not checked then: a damaged manifest never
    costs a row)."""
    lengths = dict(catalog.db.execute("SELECT length(vector), COUNT(*) FROM vectors GROUP BY 1").fetchall())
    # The most common length: one damaged row is that row's problem, not the manifest's.
    stored = max(lengths, key=lambda length: lengths[length]) / 4 if lengths else None
    indexed = saved[0].dim if saved is not None and store_class(manifest.store).in_index_dir else None
    truth = stored if stored is not None else indexed  # the catalog first: it is the source of truth
    said = f"{manifest.dim} dimensions" if manifest.dim else "no valid number of dimensions"
    if truth is None or truth == manifest.dim:
        if manifest.dim:
            return manifest
        report.problems.append(
            f"The manifest says the vectors have {said}, and there are no vectors to restore it from: index "
            "into a new directory."
        )
        return None
    if indexed not in (None, truth) or not float(truth).is_integer():
        report.problems.append(
            f"The manifest says the vectors have {said}; the catalog's have {stored:g} and the vector index's "
            f"{indexed}, which do not agree either: set manifest.json's dim by hand."
        )
        return None
    dim = int(truth)
    report.problems.append(
        f"The manifest says the vectors have {said}, but the {'catalog' if stored else 'vector index'}'s have {dim}."
    )
    if not repair:
        return None
    restored = replace(manifest, dim=dim)
    index_dir.write_manifest(restored)
    report.repaired.append(f"Restored the manifest's dimension to {dim}, as the vectors have.")
    return restored


def _check_vectors(
    index_dir: IndexDir, catalog: Catalog, manifest: Manifest, saved: Saved, repair: bool, report: CheckReport
) -> None:
    """Every vector a finite unit vector, and the vector index holding the catalog's ids and vectors."""
    problem = _vector_index_problem(catalog, manifest.dim, saved)
    if not catalog.keeps_vectors:  # a published snapshot: its vector index holds the only copy of its vectors
        if problem is None and saved is not None and isinstance(saved[0], VectorIndex):
            catalog.read_vectors_from(saved[0])
            broken = _scan(catalog, manifest.dim, None)[0]
            if broken:
                problem = f"{len(broken)} vectors of the vector index are not finite unit vectors."
        if problem is not None:
            report.problems.append(f"{problem} Download the snapshot again.")
        return  # a snapshot is read-only: nothing to repair in place
    # A FAISS index returns its vectors; a remote store's are not fetched (its rows are rewritten from the
    # catalog's, and reading them all back would cost a download of the collection).
    comparable = saved[0] if problem is None and saved is not None and isinstance(saved[0], VectorIndex) else None
    broken, differing = _scan(catalog, manifest.dim, comparable)
    unusable = _without_vector(catalog) + broken
    if unusable:
        report.problems.append(f"{len(unusable)} catalog images have no usable vector.")
        if repair:
            _mark_for_embedding(catalog, unusable)
            report.repaired.append(
                f"Kept them, marked for embedding again: the next `viewfinder index` embeds those {len(unusable)} "
                "files again."
            )
    if differing:
        problem = f"{differing} vectors in the vector index differ from the catalog's."
    if problem is not None:
        report.problems.append(problem)
    if repair and (problem is not None or unusable):
        index_dir.save_vectors(index_dir.rebuild_vectors(catalog, manifest, saved), catalog.generation())
        report.repaired.append("Rebuilt the vector index from the catalog.")


def _vector_index_problem(catalog: Catalog, dim: int, saved: Saved) -> str | None:
    """Why the saved vector index cannot be the catalog's (its vectors aside), or None."""
    if saved is None:
        return "The vector index is missing or unreadable."
    store, generation = saved
    if store.dim != dim:
        return f"The vector index has {store.dim} dimensions, not {dim}."
    if generation != catalog.generation():
        return f"The vector index is for catalog generation {generation}, not {catalog.generation()}."
    if isinstance(store, VectorIndex):  # a FAISS index lists its ids
        table = "vectors" if catalog.keeps_vectors else "images"  # a snapshot's catalog has no vectors table rows
        ids = np.fromiter((row[0] for row in catalog.db.execute(f"SELECT id FROM {table} ORDER BY id")), np.int64)
        same = np.array_equal(store.ids(), ids)
    else:  # a remote store, kept in step with the catalog's rows, is checked by count (listing ids is costly)
        same = store.count == catalog.count()
    return None if same else "The vector index's ids differ from the catalog's."


def _scan(catalog: Catalog, dim: int, store: VectorIndex | None) -> tuple[list[int], int]:
    """One pass over the catalog's vectors, a chunk at a time: the ids of those that are no finite unit vector
    of `dim` values, and how many of `store`'s vectors (when given) differ from the catalog's."""
    broken: list[int] = []
    differing = 0
    for ids, data, wrong_length in _chunks(catalog, dim):
        broken += wrong_length
        with np.errstate(over="ignore", invalid="ignore"):
            norms = np.sqrt(np.einsum("ij,ij->i", data, data, dtype=np.float64))
            unit = np.abs(norms - 1) <= NORM_TOLERANCE  # False for inf and NaN as well
        broken += ids[~unit].tolist()
        if store is not None and len(ids):
            held = store.vectors_of(ids)
            # Bit for bit first (FAISS keeps float32 vectors as given, so nearly always), then within tolerance.
            same = (held.view(np.uint32) == data.view(np.uint32)).all(axis=1)
            if not same.all():
                rest = ~same
                with np.errstate(invalid="ignore"):
                    close = np.isclose(held[rest], data[rest], rtol=0, atol=VALUE_TOLERANCE, equal_nan=True)
                same[rest] = close.all(axis=1)
            differing += int(np.count_nonzero(~same))
    return broken, differing


def _chunks(catalog: Catalog, dim: int) -> Iterator[tuple[np.ndarray, np.ndarray, list[int]]]:
    """(ids, vectors, ids of vectors of another length) in id order, CHUNK rows at a time."""
    if not catalog.keeps_vectors:
        for ids, data in catalog.vectors(dim, CHUNK):
            yield ids, data, []
        return
    cursor = catalog.db.execute("SELECT id, vector FROM vectors ORDER BY id")
    while rows := cursor.fetchmany(CHUNK):
        right = [(image_id, blob) for image_id, blob in rows if len(blob) == 4 * dim]
        ids = np.fromiter((image_id for image_id, _ in right), np.int64, count=len(right))
        data = np.frombuffer(b"".join(blob for _, blob in right), np.float32).reshape(len(right), dim)
        yield ids, data, [image_id for image_id, blob in rows if len(blob) != 4 * dim]


def _without_vector(catalog: Catalog) -> list[int]:
    """Rows with no vector that are not already marked for embedding again."""
    sql = "SELECT i.id FROM images i LEFT JOIN vectors v ON v.id = i.id WHERE v.id IS NULL AND i.size != ?"
    return [row[0] for row in catalog.db.execute(sql, (AWAITING,))]


def _mark_for_embedding(catalog: Catalog, ids: list[int]) -> None:
    """Keeps these rows but deletes their vectors, so the vector index leaves them out, and forgets their file
    facts and content hash, so the next `viewfinder index` embeds their files again under the same ids (no
    stored vector can stand in for them)."""
    catalog.db.executemany("DELETE FROM vectors WHERE id = ?", ((i,) for i in ids))
    catalog.db.executemany(
        "UPDATE images SET size = ?, mtime_ns = ?, content_hash = NULL WHERE id = ?",
        ((AWAITING, AWAITING, i) for i in ids),
    )
    catalog.commit_batch()  # commits both with the new generation they make, in one transaction


def _cache_folders(index_dir: IndexDir) -> list[Path]:
    """The thumbnail and rendition folders of every size a page may ask for that exist in the index."""
    names = [sized_folder(FOLDER, side, THUMBNAIL_SIDE) for side in THUMBNAIL_SIDES]
    names += [sized_folder(RENDITIONS, side, RENDITION_SIDE) for side in RENDITION_SIDES]
    return [index_dir.path / name for name in names if (index_dir.path / name).is_dir()]


def _check_thumbnails(index_dir: IndexDir, catalog: Catalog, repair: bool, report: CheckReport) -> None:
    """Stale or empty files in every cache folder; with repair, deleted, or made again for the default
    thumbnails of images in object storage (the service never fetches such an original when one is shown)."""
    current = {
        f"{image_id}-{size:x}-{mtime:x}.jpg"
        for image_id, size, mtime in catalog.db.execute("SELECT id, size, mtime_ns FROM images")
    }
    stale = [
        entry
        for folder in _cache_folders(index_dir)
        for entry in folder.iterdir()
        if entry.name not in current or not THUMBNAIL_NAME.match(entry.name) or entry.stat().st_size == 0
    ]
    if not stale:
        return
    report.problems.append(f"{len(stale)} thumbnails are stale or empty.")
    if not repair:
        return
    thumbnails = index_dir.path / FOLDER
    remade = _remake_remote(index_dir, catalog, [entry for entry in stale if entry.parent == thumbnails])
    for entry in stale:
        if entry not in remade:
            entry.unlink(missing_ok=True)
    if len(remade) < len(stale):
        report.repaired.append(
            f"Deleted {len(stale) - len(remade)} stale thumbnails (they are made again when shown, or by "
            "`viewfinder index` for images in object storage)."
        )
    if remade:
        report.repaired.append(f"Made {len(remade)} damaged thumbnails again from their originals in object storage.")


def _remake_remote(index_dir: IndexDir, catalog: Catalog, stale: list[Path]) -> set[Path]:
    """The damaged current default thumbnails of images in object storage, made again from the objects."""
    current = {int(match[1]): entry for entry in stale if (match := THUMBNAIL_NAME.match(entry.name))}
    remade = set()
    for image in catalog.images(list(current)).values():
        entry = current[image.id]
        if entry.name != f"{image.id}-{image.size:x}-{image.mtime_ns:x}.jpg" or not source_for(image.root).remote:
            continue
        try:
            make_thumbnail_of(index_dir.path, image)
        except (OriginalChangedError, DecodeError, ViewfinderError, OSError) as error:
            log.warning("cannot make the thumbnail of %s again: %s", image.path, error)
            continue
        remade.add(entry)
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
