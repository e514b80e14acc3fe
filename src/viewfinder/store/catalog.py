"""The SQLite catalog: one row per indexed image with its vector, plus skipped files and their reasons.

Vectors live in the catalog so that each batch of work is one transaction: a crash at any moment leaves the
last committed batch intact, and the FAISS index can always be rebuilt from here. `generation` counts
committed changes, so a FAISS file knows whether it is current.

A published snapshot's catalog is the exception: its vectors are left out (`leave_vectors_to_index`), since
the snapshot's vector index holds the same ones, so a server starting from it downloads each vector once.
Such a catalog is read-only and reads its vectors from that index (`read_vectors_from`).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from viewfinder.errors import ViewfinderError
from viewfinder.store import migrations
from viewfinder.store.catalog_rows import FileState, ImageRecord, NewImage, Restat, relative_folder
from viewfinder.store.filters import Filters, sql_conditions


class CatalogDamagedError(ViewfinderError):
    """The catalog file cannot be read as a database."""


READ_CACHE_KB = 65536  # the page cache of a read-only catalog (SQLite's default is 2 MB)
IMAGE_COLUMNS = (
    "id, path, root, size, mtime_ns, width, height, format, taken_at, indexed_at, inode, latitude, longitude"
)
PAGE_SIZE = 16384
VECTORS_IN_INDEX = "in-vector-index"  # meta 'vectors' of a catalog whose vectors only its vector index holds


class VectorLookup(Protocol):
    """Where a catalog without vectors reads them: the vector index published with it."""

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        """The (len(ids), dim) vectors of these ids; KeyError when one is not there."""
        ...


def leave_vectors_to_index(db: sqlite3.Connection) -> None:
    """Empties the vectors table of a snapshot's copy of a catalog and marks it, then compacts the file."""
    db.execute("DELETE FROM vectors")
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('vectors', ?)", (VECTORS_IN_INDEX,))
    db.commit()
    db.execute("VACUUM")


def _keeps_vectors(db: sqlite3.Connection) -> bool:
    """False for a snapshot's catalog, whose vectors its vector index holds (a new file has no meta yet)."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is None:
        return True
    row = db.execute("SELECT value FROM meta WHERE key = 'vectors'").fetchone()
    return row is None or row[0] != VECTORS_IN_INDEX


class Catalog:
    """The catalog of one index directory, over a WAL-mode SQLite database."""

    def __init__(self, path: Path, readonly: bool = False) -> None:
        self.path = path
        try:
            if readonly:
                self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
                self.db.execute("PRAGMA busy_timeout=10000")
                # A server reads the rows of each query's hits, scattered over the file: kept once read, a
                # search's 66 rows of 100,000 took 0.61 instead of 0.87 ms (BENCHMARKS.md, "HTTP service").
                # Pages are kept as they are read, up to this, and dropped when a writer changes the file.
                self.db.execute(f"PRAGMA cache_size=-{READ_CACHE_KB}")
                migrations.require_current(self.db, str(path.parent))
            else:
                self.db = sqlite3.connect(path, check_same_thread=False)
                self.db.execute("PRAGMA busy_timeout=10000")
                if not _keeps_vectors(self.db):
                    self.db.close()
                    raise ViewfinderError(
                        f"{path.parent} is a published snapshot, which is read-only: index the original index"
                        " directory, then `viewfinder publish` it again."
                    )
                # For a new file only: a 2 KB vector (512 dims) takes a whole 4 KB page, as two do not fit in
                # one; 16 KB pages hold seven, so the catalog is 1.14x its vectors' bytes instead of 2x.
                self.db.execute(f"PRAGMA page_size={PAGE_SIZE}")
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                migrations.upgrade(self.db)
            self.db.execute("PRAGMA foreign_keys=ON")
            self.keeps_vectors = _keeps_vectors(self.db)
        except sqlite3.OperationalError:
            raise  # locked, disk full, unreadable: not damage
        except sqlite3.DatabaseError as error:
            raise CatalogDamagedError(
                f"The catalog {path} is damaged ({error}); run `viewfinder check --repair --index {path.parent}` "
                "to set it aside, then `viewfinder index SOURCE...` to rebuild it."
            ) from error
        self._lookup: VectorLookup | None = None

    def read_vectors_from(self, lookup: VectorLookup) -> None:
        """Reads vectors from `lookup` (the snapshot's vector index) for a catalog that left them out."""
        self._lookup = lookup

    def close(self) -> None:
        self.db.close()

    def generation(self) -> int:
        """How many changes have been committed; FAISS files record the generation they reflect."""
        return int(self.db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM images").fetchone()[0]

    def stamps(self) -> dict[int, float]:
        """Each image's id with its `indexed_at` stamp, which changes whenever its vector is rewritten."""
        return dict(self.db.execute("SELECT id, indexed_at FROM images"))

    def indexed_states(self) -> dict[str, FileState]:
        rows = self.db.execute("SELECT path, size, mtime_ns, id, inode, ctime_ns, content_hash FROM images")
        return {
            path: FileState(
                size, mtime, id=image_id, inode=-1 if inode is None else inode, ctime_ns=ctime or 0, content_hash=digest
            )
            for path, size, mtime, image_id, inode, ctime, digest in rows
        }

    def skipped_states(self) -> dict[str, FileState]:
        rows = self.db.execute("SELECT path, size, mtime_ns, reason FROM skipped")
        return {path: FileState(size or 0, mtime or 0, reason=reason) for path, size, mtime, reason in rows}

    def skipped(self) -> list[tuple[str, str]]:
        return self.db.execute("SELECT path, reason FROM skipped ORDER BY path").fetchall()

    def commit_batch(
        self,
        images: Sequence[NewImage] = (),
        skipped: Iterable[tuple[str, str, int | None, int | None, str]] = (),
        removed_ids: Iterable[int] = (),
        forget_skipped: Iterable[str] = (),
        restats: Iterable[Restat] = (),
        forget_sources: Iterable[str] = (),
    ) -> list[int]:
        """Writes one batch of work atomically and returns the ids of `images`, in order.

        `skipped` rows are (path, root, size, mtime_ns, reason); `forget_skipped` are paths no longer there.
        """
        now = time.time()
        ids: list[int] = []
        with self.db:
            self.db.executemany("DELETE FROM images WHERE id = ?", ((i,) for i in removed_ids))
            self.db.executemany("DELETE FROM skipped WHERE path = ?", ((p,) for p in forget_skipped))
            self.db.executemany("DELETE FROM sources WHERE root = ?", ((r,) for r in forget_sources))
            self.db.executemany(
                "UPDATE images SET size=?, mtime_ns=?, inode=?, ctime_ns=?, content_hash=? WHERE id=?",
                ((r.size, r.mtime_ns, r.inode, r.ctime_ns, r.content_hash, r.id) for r in restats),
            )
            for image in images:
                values = (
                    image.path,
                    image.root,
                    image.size,
                    image.mtime_ns,
                    image.width,
                    image.height,
                    image.format,
                    image.taken_at,
                    now,
                    image.content_hash,
                    image.inode,
                    image.ctime_ns,
                    image.latitude,
                    image.longitude,
                )
                if image.id is None:
                    cursor = self.db.execute(
                        "INSERT INTO images (path, root, size, mtime_ns, width, height, format, taken_at,"
                        " indexed_at, content_hash, inode, ctime_ns, latitude, longitude)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        values,
                    )
                    if cursor.lastrowid is None:  # sqlite3 sets it after every INSERT of one row
                        raise RuntimeError(f"{self.path}: no id given to the new row of {image.path}")
                    image_id = cursor.lastrowid
                else:
                    image_id = image.id
                    self.db.execute(
                        "UPDATE images SET path=?, root=?, size=?, mtime_ns=?, width=?, height=?, format=?,"
                        " taken_at=?, indexed_at=?, content_hash=?, inode=?, ctime_ns=?, latitude=?, longitude=?"
                        " WHERE id=?",
                        (*values, image_id),
                    )
                vector = np.ascontiguousarray(image.vector, dtype=np.float32)
                self.db.execute("INSERT OR REPLACE INTO vectors (id, vector) VALUES (?, ?)", (image_id, vector))
                self.db.execute("DELETE FROM skipped WHERE path = ?", (image.path,))
                ids.append(image_id)
            for path, root, size, mtime_ns, reason in skipped:
                self.db.execute(
                    "INSERT OR REPLACE INTO skipped (path, root, size, mtime_ns, reason, seen_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (path, root, size, mtime_ns, reason, now),
                )
            self.db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
        return ids

    def vectors(self, dim: int, chunk: int = 50_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All (ids, vectors) in id order, in chunks, read in one snapshot."""
        if not self.keeps_vectors:
            cursor = self.db.execute("SELECT id FROM images ORDER BY id")
            while rows := cursor.fetchmany(chunk):
                ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
                yield ids, self._vector_lookup().vectors_of(ids)
            return
        cursor = self.db.execute("SELECT id, vector FROM vectors ORDER BY id")
        while rows := cursor.fetchmany(chunk):
            ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
            data = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32).reshape(len(rows), dim)
            yield ids, data

    def vector_of(self, image_id: int, dim: int) -> np.ndarray | None:
        if not self.keeps_vectors:
            try:
                return self._vector_lookup().vectors_of(np.array([image_id], np.int64))[0]
            except KeyError:
                return None
        row = self.db.execute("SELECT vector FROM vectors WHERE id = ?", (image_id,)).fetchone()
        return None if row is None else np.frombuffer(row[0], dtype=np.float32).reshape(dim).copy()

    def _vector_lookup(self) -> VectorLookup:
        if self._lookup is None:  # a bug, not bad input: IndexDir.load_vectors attaches the index
            raise RuntimeError(f"{self.path} keeps no vectors and no vector index was attached to read them from")
        return self._lookup

    def images(self, ids: Sequence[int]) -> dict[int, ImageRecord]:
        """Catalog rows for the given ids (missing ids are absent from the result)."""
        found: dict[int, ImageRecord] = {}
        for start in range(0, len(ids), 500):
            part = [int(i) for i in ids[start : start + 500]]
            marks = ",".join("?" * len(part))
            for row in self.db.execute(f"SELECT {IMAGE_COLUMNS} FROM images WHERE id IN ({marks})", part):
                found[row[0]] = ImageRecord(*row)
        return found

    def roots(self) -> list[str]:
        """The source folders this index was built from (recorded, or of indexed and of skipped files)."""
        rows = self.db.execute(
            "SELECT root FROM sources UNION SELECT root FROM images UNION SELECT root FROM skipped ORDER BY root"
        )
        return [row[0] for row in rows]

    def add_sources(self, roots: Iterable[str]) -> None:
        """Records folders the index is built from, so a vanished one can be reported and removed."""
        with self.db:
            self.db.executemany(
                "INSERT OR IGNORE INTO sources (root, added_at) VALUES (?, ?)", ((r, time.time()) for r in roots)
            )

    def source_counts(self) -> dict[str, int]:
        """Each source folder with its number of indexed images, in the order of roots(). The images are read
        once, not again for their roots (roots() would: 0.03 s of a server's first query over 100k, BENCHMARKS.md)."""
        counts = dict(self.db.execute("SELECT root, COUNT(*) FROM images GROUP BY root").fetchall())
        for (root,) in self.db.execute("SELECT root FROM sources UNION SELECT root FROM skipped"):
            counts.setdefault(root, 0)
        return dict(sorted(counts.items()))

    def ids_under(self, root: str) -> list[int]:
        """Ids of the images indexed from a source folder (found under it, whichever root recorded them)."""
        prefix = root.rstrip(os.sep) + os.sep
        rows = self.db.execute(
            "SELECT id FROM images WHERE root = ? OR substr(path, 1, ?) = ?", (root, len(prefix), prefix)
        )
        return [row[0] for row in rows]

    def skipped_under(self, root: str) -> list[str]:
        prefix = root.rstrip(os.sep) + os.sep
        rows = self.db.execute(
            "SELECT path FROM skipped WHERE root = ? OR substr(path, 1, ?) = ?", (root, len(prefix), prefix)
        )
        return [row[0] for row in rows]

    def by_hash(self, hashes: Iterable[str], dim: int) -> dict[str, tuple[ImageRecord, np.ndarray]]:
        """For each content hash the catalog knows, one image with it and its vector."""
        wanted = list(set(hashes))
        found: dict[str, tuple[ImageRecord, np.ndarray]] = {}
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            marks = ",".join("?" * len(part))
            sql = (
                f"SELECT {', '.join('i.' + c for c in IMAGE_COLUMNS.split(', '))}, i.content_hash, v.vector"
                f" FROM images i JOIN vectors v ON v.id = i.id WHERE i.content_hash IN ({marks})"
            )
            for row in self.db.execute(sql, part):
                vector = np.frombuffer(row[-1], dtype=np.float32).reshape(dim).copy()
                found.setdefault(row[-2], (ImageRecord(*row[:-2]), vector))
        return found

    def content_hashes(self, ids: Sequence[int]) -> dict[int, str | None]:
        found: dict[int, str | None] = {}
        for start in range(0, len(ids), 500):
            part = [int(i) for i in ids[start : start + 500]]
            marks = ",".join("?" * len(part))
            found.update(self.db.execute(f"SELECT id, content_hash FROM images WHERE id IN ({marks})", part))
        return found

    def exact_copies(self) -> list[list[ImageRecord]]:
        """Groups of indexed images with the same content hash (byte-identical files), largest first."""
        sql = (
            f"SELECT {IMAGE_COLUMNS}, content_hash FROM images WHERE content_hash IN (SELECT content_hash FROM"
            " images WHERE content_hash IS NOT NULL GROUP BY content_hash HAVING COUNT(*) > 1)"
            " ORDER BY content_hash, path"
        )
        groups: dict[str, list[ImageRecord]] = {}
        for row in self.db.execute(sql):
            groups.setdefault(row[-1], []).append(ImageRecord(*row[:-1]))
        return sorted(groups.values(), key=lambda group: (-len(group), group[0].path))

    def folders(self) -> list[str]:
        """Every folder, relative to its source root, that holds indexed images, with its parent folders."""
        found: set[str] = set()
        for path, root in self.db.execute("SELECT path, root FROM images"):
            folder = relative_folder(path, root)
            while folder and folder not in found:
                found.add(folder)
                folder = folder.rpartition("/")[0]
        return sorted(found)

    def taken_range(self) -> tuple[str, str] | None:
        """The earliest and latest capture times, or None when no image has one."""
        row = self.db.execute("SELECT MIN(taken_at), MAX(taken_at) FROM images WHERE taken_at IS NOT NULL").fetchone()
        return None if row[0] is None else (row[0], row[1])

    def sample_vectors(self, size: int, dim: int) -> np.ndarray:
        """The vectors of up to `size` images drawn at random (seeded: the same catalog gives the same sample)."""
        ids = self.ids_matching()
        chosen = np.random.default_rng(0).choice(ids, size=min(size, len(ids)), replace=False)
        vectors = [self.vector_of(int(i), dim) for i in sorted(chosen)]
        return np.stack([v for v in vectors if v is not None]).astype(np.float32)

    def ids_matching(self, filters: Filters | None = None) -> np.ndarray:
        """Ids of the images that pass the filters (every image for None)."""
        clauses, params = sql_conditions(filters) if filters is not None else ([], [])
        sql = "SELECT group_concat(id) FROM images" + (" WHERE " + " AND ".join(clauses) if clauses else "")
        # One row of text that numpy parses: a row per image through Python took four times as long (0.035 s
        # for 100k ids, which a snapshot's check reads at every cold start; BENCHMARKS.md).
        text = self.db.execute(sql, params).fetchone()[0]
        return np.fromstring(text or "", dtype=np.int64, sep=",")
