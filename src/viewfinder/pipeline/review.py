"""Moving duplicates to a review folder and back: files are moved, never overwritten or deleted, and the
index follows at once without the model.

A resolve moves each file to the review folder under its source folder's name and its path inside it (two
files of one source never share a name there), takes its row and vector out of the index, and writes a
journal in the index directory: where each file was and went, its content hash, catalog facts and vector.
Undo reads the latest journal, moves each file back and adds its row again with the stored vector; nothing
is embedded again. A file changed or missing since it was listed is skipped with its reason, on the way
out and on the way back, and the others go ahead.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from viewfinder.errors import ViewfinderError
from viewfinder.pipeline.indexer import update_vectors
from viewfinder.sources import is_object_store_url
from viewfinder.store.catalog import Catalog
from viewfinder.store.catalog_rows import ImageRecord, NewImage, relative_folder
from viewfinder.store.indexdir import IndexDir

JOURNALS = "review-journal"  # folder of the index directory holding one journal per resolve
UNDONE = ".undone.json"  # a journal's name once undone (kept as the record of what happened)


@dataclass(frozen=True)
class MovedFile:
    """A file moved (or, in a dry run, to be moved) to the review folder, or back from it."""

    image_id: int
    path: str  # where it was indexed
    folder: str  # of `path`, relative to its source folder
    moved_to: str
    size: int


@dataclass
class ReviewReport:
    """What a resolve moved and skipped (path and reason), the bytes it freed, and its journal."""

    moved: list[MovedFile] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    dry_run: bool = False
    journal: str | None = None

    @property
    def freed_bytes(self) -> int:
        return sum(item.size for item in self.moved)


@dataclass
class UndoReport:
    """What an undo moved back into place, what it left (path and reason), and the journal it read."""

    restored: list[MovedFile] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    journal: str | None = None


def review_destination(image: ImageRecord, review_folder: Path) -> Path:
    """Where a file goes in the review folder: under its source folder's name, at its path inside it."""
    relative = os.path.relpath(image.path, image.root)
    return review_folder / (Path(image.root).name or "source") / relative


def move_to_review(
    index_path: Path, image_ids: Sequence[int], review_folder: Path, dry_run: bool = False
) -> ReviewReport:
    """Moves the files of these indexed images to `review_folder` and takes them out of the index."""
    index_dir = IndexDir(index_path)
    manifest = index_dir.read_manifest()
    review_folder = Path(review_folder).expanduser().resolve()
    report = ReviewReport(dry_run=dry_run)
    with index_dir.writer_lock():
        catalog = index_dir.open_catalog()
        try:
            _check_review_folder(review_folder, catalog.roots())
            records = catalog.images(list(image_ids))
            remote = [record.path for record in records.values() if is_object_store_url(record.root)]
            if remote:
                raise ViewfinderError(
                    f"{remote[0]} is in an object store: only photos in local folders can be moved to a review folder."
                )
            hashes = catalog.content_hashes(list(records))
            entries: list[dict[str, Any]] = []
            try:
                for image_id in dict.fromkeys(image_ids):
                    record = records.get(image_id)
                    if record is None:
                        report.skipped.append((str(image_id), "no longer indexed"))
                        continue
                    target = review_destination(record, review_folder)
                    reason = _why_not_movable(record, target)
                    if reason is None and not dry_run:
                        reason = _move(record.path, target)
                    if reason is not None:
                        report.skipped.append((record.path, reason))
                        continue
                    if not dry_run:
                        entries.append(
                            _entry(record, target, hashes.get(record.id), catalog.vector_of(record.id, manifest.dim))
                        )
                    report.moved.append(MovedFile(record.id, record.path, record.folder, str(target), record.size))
            finally:  # also after an unexpected error: what moved is journalled and leaves the index
                if entries:
                    report.journal = str(_write_journal(index_dir, review_folder, entries))
                    _take_out(index_dir, catalog, [entry["image_id"] for entry in entries])
        finally:
            catalog.close()
    return report


def undo_review(index_path: Path) -> UndoReport:
    """Moves the files of the latest resolve back and adds them to the index again with their vectors."""
    index_dir = IndexDir(index_path)
    manifest = index_dir.read_manifest()
    with index_dir.writer_lock():
        journal = latest_journal(index_dir.path)
        if journal is None:
            raise ViewfinderError("There is nothing to undo: no duplicates were moved to a review folder.")
        entries = json.loads(journal.read_text())["entries"]
        report = UndoReport(journal=str(journal))
        restored: list[NewImage] = []
        try:
            for entry in entries:
                reason = _why_not_restorable(entry)
                if reason is None:
                    reason = _move(entry["moved_to"], Path(entry["path"]))
                if reason is not None:
                    report.skipped.append((entry["path"], reason))
                    continue
                restored.append(_restored_image(entry, manifest.dim))
                folder = relative_folder(entry["path"], entry["root"])
                moved = MovedFile(entry["image_id"], entry["path"], folder, entry["moved_to"], entry["size"])
                report.restored.append(moved)
        finally:  # also after an unexpected error: what moved back is indexed again
            if restored:
                _add_back(index_dir, restored)
        journal.rename(journal.with_name(journal.name.removesuffix(".json") + UNDONE))
    return report


def _take_out(index_dir: IndexDir, catalog: Catalog, ids: list[int]) -> None:
    """Removes these images' rows and vectors from the index in one batch."""
    manifest = index_dir.read_manifest()
    saved = index_dir.saved_vectors(catalog, manifest)
    start = catalog.generation()
    catalog.commit_batch(removed_ids=ids)
    update_vectors(index_dir, catalog, manifest.dim, saved, start, ids, [], [])


def _add_back(index_dir: IndexDir, images: list[NewImage]) -> None:
    """Adds rows for files moved back, with their stored vectors, in one batch."""
    manifest = index_dir.read_manifest()
    catalog = index_dir.open_catalog()
    try:
        saved = index_dir.saved_vectors(catalog, manifest)
        start = catalog.generation()
        ids = np.asarray(catalog.commit_batch(images=images), np.int64)
        vectors = np.stack([image.vector for image in images]).astype(np.float32)
        update_vectors(index_dir, catalog, manifest.dim, saved, start, [], [ids], [vectors])
    finally:
        catalog.close()


def latest_journal(index_path: Path) -> Path | None:
    """The journal of the latest resolve not undone yet, or None."""
    folder = Path(index_path) / JOURNALS
    found = sorted(p for p in folder.glob("*.json") if not p.name.endswith(UNDONE)) if folder.is_dir() else []
    return found[-1] if found else None


def _check_review_folder(review_folder: Path, roots: Sequence[str]) -> None:
    for root in roots:
        if is_object_store_url(root):
            continue
        if review_folder.is_relative_to(Path(root).resolve()):
            raise ViewfinderError(
                f"The review folder {review_folder} is inside the source {root}: indexing would add the moved"
                " photos again; choose a folder outside the sources."
            )


def _why_not_movable(record: ImageRecord, target: Path) -> str | None:
    """Why a file cannot be moved to `target` now, or None when it can."""
    try:
        facts = os.stat(record.path)
    except FileNotFoundError:
        return "missing since it was indexed"
    except OSError as error:
        return f"cannot be read ({error.strerror})"
    if (facts.st_size, facts.st_mtime_ns) != (record.size, record.mtime_ns):
        return "changed since it was indexed (re-run indexing, then resolve again)"
    if target.exists():
        return "a file of that name is in the review folder already"
    return None


def _why_not_restorable(entry: dict[str, Any]) -> str | None:
    try:
        facts = os.stat(entry["moved_to"])
    except FileNotFoundError:
        return "no longer in the review folder"
    if (facts.st_size, facts.st_mtime_ns) != (entry["size"], entry["mtime_ns"]):
        return "changed in the review folder; move it back by hand and re-run indexing"
    if os.path.lexists(entry["path"]):
        return "another file is at its original path now"
    return None


def _move(source: str, target: Path) -> str | None:
    """Moves a file to a path that does not exist yet (a rename, or a copy then delete across disks); the
    reason it could not, or None."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if os.path.lexists(target):  # checked before; a file that appeared since is never overwritten
            return "a file appeared at its new place while moving; nothing was overwritten"
        shutil.move(source, target)
    except OSError as error:
        return f"cannot be moved ({error.strerror or error})"
    return None


def _entry(record: ImageRecord, target: Path, content_hash: str | None, vector: np.ndarray | None) -> dict[str, Any]:
    if vector is None:  # a bug: every indexed row has a vector
        raise RuntimeError(f"{record.path} is indexed without a vector")
    return {
        "image_id": record.id,
        "path": record.path,
        "moved_to": str(target),
        "root": record.root,
        "content_hash": content_hash,
        "size": record.size,
        "mtime_ns": record.mtime_ns,
        "width": record.width,
        "height": record.height,
        "format": record.format,
        "taken_at": record.taken_at,
        "latitude": record.latitude,
        "longitude": record.longitude,
        "vector": base64.b64encode(np.ascontiguousarray(vector, np.float32).tobytes()).decode("ascii"),
    }


def _write_journal(index_dir: IndexDir, review_folder: Path, entries: list[dict[str, Any]]) -> Path:
    folder = index_dir.path / JOURNALS
    folder.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    number = len(list(folder.glob(f"{stamp}-*.json")))
    path = folder / f"{stamp}-{number:03d}.json"
    partial = path.with_suffix(".part")
    body = {"created_at": time.time(), "review_folder": str(review_folder), "entries": entries}
    partial.write_text(json.dumps(body, indent=1))
    partial.replace(path)
    return path


def _restored_image(entry: dict[str, Any], dim: int) -> NewImage:
    """The catalog row of a file moved back, with its stored vector and the facts of the file in place."""
    facts = os.stat(entry["path"])
    vector = np.frombuffer(base64.b64decode(entry["vector"]), dtype=np.float32).reshape(dim)
    return NewImage(
        path=entry["path"],
        root=entry["root"],
        size=facts.st_size,
        mtime_ns=facts.st_mtime_ns,
        width=entry["width"],
        height=entry["height"],
        format=entry["format"],
        taken_at=entry["taken_at"],
        vector=vector,
        content_hash=entry["content_hash"],
        inode=facts.st_ino,
        ctime_ns=facts.st_ctime_ns,
        latitude=entry.get("latitude"),  # journals written before places were recorded have none
        longitude=entry.get("longitude"),
    )
