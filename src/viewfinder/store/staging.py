"""A second index built beside the live one in its directory (a model upgrade), and the swap that puts it in.

The staging folder (`.upgrade/`) is a complete index directory of its own: a manifest naming the new model,
a copy of the live catalog whose vectors are the new model's, and its vector store. Its catalog is copied
from the live one (same ids, so thumbnails, renditions and image ids stay valid), emptied of the old
vectors, and given each new vector as its batch commits; copying again (a resumed or a final pass) carries
over every vector already made for an image that has not changed since, matched by id and file facts or by
content hash, so nothing is embedded twice.

The swap moves the live generation's files into `.previous/` and the staging's into their place (a rollback
swaps `.previous/` back the same way): the old manifest leaves first and the new one arrives last, so a
reader sees the old index, then for a few renames no index at all, then the new one, and never the parts of
two. A server's `LiveIndex` keeps answering from the generation it holds (open files survive a rename) and
picks the new one up by its identity.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from viewfinder.errors import ViewfinderError

STAGING = ".upgrade"  # the index being built, inside the live index's directory
PREVIOUS = ".previous"  # the generation an upgrade replaced, kept for a rollback
LOCK = "upgrade.lock"  # held by a running upgrade, rollback or abort
PROGRESS = "progress.json"  # in the staging folder: what `info` and /stats show
_SWAPPING = ".previous.new"  # the generation being swapped out, until the swap is done
_JOURNAL = "swap.json"  # in _SWAPPING: which folder comes in, and whether the old files are all out
# Files of the directory that belong to no generation: the locks stay where every process looks for them.
_NOT_MOVED = {"index.lock", LOCK, PROGRESS, _JOURNAL}
_SHARED = "milvus.db"  # a Milvus Lite database in the directory holds the collections of both generations
_CATALOG = "catalog.sqlite"
_MANIFEST = "manifest.json"


@contextmanager
def upgrade_lock(index: Path) -> Iterator[None]:
    """Holds the index's upgrade lock; a second upgrade, rollback or abort fails with a clear error."""
    if not index.is_dir():
        raise ViewfinderError(f"No index at {index}; build one with `viewfinder index FOLDER --index {index}`.")
    with open(index / LOCK, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise ViewfinderError(
                f"An upgrade of {index} is running; wait for it (or stop it: it resumes where it stopped)."
            ) from error
        yield


def upgrade_running(index: Path) -> bool:
    """Whether an upgrade holds the lock now (a killed one's lock is free: the kernel drops it)."""
    try:
        handle = os.open(index / LOCK, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(handle)
    return False


def read_progress(index: Path) -> dict[str, Any] | None:
    """The progress of the upgrade staged in `index` (with `running`: whether a process is at it now), or None
    when no upgrade is staged there."""
    try:
        progress = json.loads((index / STAGING / PROGRESS).read_text())
    except (OSError, ValueError):
        return None
    return {**progress, "running": upgrade_running(index)} if isinstance(progress, dict) else None


def write_progress(index: Path, progress: dict[str, Any]) -> None:
    _write_json(index / STAGING / PROGRESS, progress)


def copy_catalog(live: Path, staging: Path) -> int:
    """Makes `staging` a copy of the catalog `live` holding, as its vectors, only those `staging` already had
    for images unchanged since (same id, file facts and content hash, or another image's with the same content
    hash); returns how many it kept.

    The copy is made beside `staging` and moved over it, so a kill at any moment leaves one or the other whole.
    """
    temporary = staging.with_name("catalog.next.sqlite")
    _remove_database(temporary)
    if staging.exists():
        _checkpoint(staging)  # its committed batches move from the -wal file into the database file
    source = sqlite3.connect(f"file:{live}?mode=ro", uri=True)
    copy = sqlite3.connect(temporary)
    try:
        source.execute("PRAGMA busy_timeout=10000")
        source.backup(copy)
        with copy:
            copy.execute("DELETE FROM vectors")
        if staging.exists():
            copy.execute("ATTACH DATABASE ? AS staged", (f"file:{staging}?mode=ro",))
            with copy:
                copy.execute(
                    "INSERT INTO vectors (id, vector) SELECT i.id, v.vector FROM images i"
                    " JOIN staged.images o ON o.id = i.id AND o.path = i.path AND o.size = i.size"
                    " AND o.mtime_ns = i.mtime_ns AND o.content_hash IS i.content_hash"
                    " JOIN staged.vectors v ON v.id = o.id"
                )
                copy.execute(
                    "INSERT OR IGNORE INTO vectors (id, vector) SELECT i.id, v.vector FROM images i"
                    " JOIN staged.images o ON o.content_hash = i.content_hash JOIN staged.vectors v ON v.id = o.id"
                    " WHERE i.content_hash IS NOT NULL"
                )
            copy.execute("DETACH DATABASE staged")
        kept = copy.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
    finally:
        source.close()
        copy.close()
    _remove_database(staging, journals_only=True)  # checkpointed: they hold nothing the file lacks
    os.replace(temporary, staging)
    return int(kept)


def _checkpoint(database: Path) -> None:
    db = sqlite3.connect(database)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()


def _remove_database(database: Path, journals_only: bool = False) -> None:
    for suffix in ("-wal", "-shm") if journals_only else ("-wal", "-shm", ""):
        with contextlib.suppress(FileNotFoundError):
            database.with_name(database.name + suffix).unlink()


def fill_copies(db: sqlite3.Connection) -> int:
    """Gives each image still without a vector the one of a byte-identical image (embedded once for all);
    returns how many it filled."""
    with db:
        cursor = db.execute(
            "INSERT OR IGNORE INTO vectors (id, vector) SELECT i.id, v.vector FROM images i"
            " JOIN images o ON o.content_hash = i.content_hash JOIN vectors v ON v.id = o.id"
            " WHERE i.content_hash IS NOT NULL AND i.id NOT IN (SELECT id FROM vectors)"
        )
    return cursor.rowcount


def unembedded(db: sqlite3.Connection) -> list[tuple[Any, ...]]:
    """(id, path, root, size, mtime_ns, inode, ctime_ns, content_hash) of every image without a vector, one
    per content hash (a copy gets its twin's vector: `fill_copies`), in id order."""
    rows = db.execute(
        "SELECT id, path, root, size, mtime_ns, inode, ctime_ns, content_hash FROM images"
        " WHERE id NOT IN (SELECT id FROM vectors) ORDER BY id"
    ).fetchall()
    seen: set[str] = set()
    unique = []
    for row in rows:
        if row[-1] is None or row[-1] not in seen:
            unique.append(row)
            seen.add(row[-1])
    return unique


def generation_files(folder: Path) -> list[Path]:
    """The files of the index generation in `folder`: its top-level files but the locks and the progress."""
    if not folder.is_dir():
        return []
    return [
        entry
        for entry in folder.iterdir()
        if entry.is_file() and entry.name not in _NOT_MOVED and not entry.name.lstrip(".").startswith(_SHARED)
    ]


def swap(index: Path, incoming: str) -> None:
    """Puts the generation in the folder `incoming` (STAGING, or PREVIOUS for a rollback) in place of the one in
    `index`, which becomes PREVIOUS (the one kept before is dropped). Call it holding the writer lock.

    Manifest out first and in last: between, the directory holds no index, which readers wait out. A journal
    in the new PREVIOUS says how far it got, so a swap killed half way is finished by the next one (`finish_swap`).
    """
    keep = index / _SWAPPING
    keep.mkdir()
    _write_json(keep / _JOURNAL, {"incoming": incoming, "phase": "out"})
    _continue_swap(index)


def finish_swap(index: Path) -> bool:
    """Finishes a swap a killed process left half done (call it holding the writer lock); whether there was one."""
    if not swap_stopped(index):
        return False
    _continue_swap(index)
    return True


def swap_stopped(index: Path) -> bool:
    """Whether a swap was stopped half way in `index` (its manifest may be missing until it is finished)."""
    return (index / _SWAPPING).is_dir()


def _continue_swap(index: Path) -> None:
    keep = index / _SWAPPING
    try:
        journal = json.loads((keep / _JOURNAL).read_text())
    except (OSError, ValueError):  # killed before the journal was written: nothing was moved yet
        shutil.rmtree(keep)
        return
    incoming = index / journal["incoming"]
    if journal["phase"] == "out":
        for path in reversed(_ordered(generation_files(index))):  # manifest, catalog, then the rest
            os.replace(path, keep / path.name)
        _write_json(keep / _JOURNAL, {**journal, "phase": "in"})
    for path in _ordered(generation_files(incoming)):  # the rest, catalog, then the manifest
        os.replace(path, index / path.name)
    if incoming.name == STAGING and incoming.exists():
        shutil.rmtree(incoming)
    if (index / PREVIOUS).exists():
        shutil.rmtree(index / PREVIOUS)
    os.replace(keep, index / PREVIOUS)
    (index / PREVIOUS / _JOURNAL).unlink()


def _write_json(path: Path, value: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(value))
    os.replace(temporary, path)


def _ordered(files: list[Path]) -> list[Path]:
    """The vector store and notes, then the catalog and its journal files, then the manifest."""

    def rank(path: Path) -> int:
        if path.name == _MANIFEST:
            return 2
        return 1 if path.name.startswith(_CATALOG) else 0

    return sorted(files, key=rank)


def bytes_of(folder: Path) -> int:
    """The size of the files directly in `folder` (0 when it does not exist)."""
    return sum(entry.stat().st_size for entry in generation_files(folder))
