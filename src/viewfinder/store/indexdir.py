"""One index = one directory: the manifest naming the model, the SQLite catalog and the FAISS index."""

from __future__ import annotations

import fcntl
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from viewfinder.errors import IndexMismatchError, ViewfinderError
from viewfinder.models.registry import ModelSpec
from viewfinder.store.catalog import Catalog
from viewfinder.store.faiss_index import VectorIndex, needs_retrain
from viewfinder.store.vector_store import VectorStore

DEFAULT_INDEX = "viewfinder-index"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Manifest:
    """Which model made an index's vectors; vectors from two models never mix."""

    model: str  # the --model string that resolves to this model again
    identity: str  # changes whenever the model's vectors would (name or weights checksum)
    dim: int
    format_version: int = FORMAT_VERSION
    created_at: float = 0.0
    # Random, written once when the index is made: a directory deleted and rebuilt at the same path is
    # another index even when its generation numbers happen to match (empty in indexes made before it).
    index_uuid: str = ""


def default_index_path(explicit: str | None) -> Path:
    """`--index DIR`, else $VIEWFINDER_INDEX, else ./viewfinder-index."""
    return Path(explicit or os.environ.get("VIEWFINDER_INDEX") or DEFAULT_INDEX).expanduser()


class IndexDir:
    """The files of one index and the rules for opening them."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.manifest_path = self.path / "manifest.json"
        self.catalog_path = self.path / "catalog.sqlite"

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def read_manifest(self) -> Manifest:
        """The manifest, or a clear error when the directory is not an index."""
        if not self.exists():
            raise ViewfinderError(
                f"No index at {self.path}; build one with `viewfinder index FOLDER --index {self.path}`."
            )
        try:
            manifest = Manifest(**json.loads(self.manifest_path.read_text()))
        except (OSError, ValueError, TypeError) as error:
            raise IndexMismatchError(f"{self.manifest_path} is not a Viewfinder manifest ({error}).") from error
        if manifest.format_version != FORMAT_VERSION:
            raise IndexMismatchError(
                f"{self.path} was written by another Viewfinder version (format {manifest.format_version});"
                " index into a new directory."
            )
        return manifest

    def create(self, spec: ModelSpec, dim: int) -> Manifest:
        """Starts a new index for a model (the directory may exist but must hold no index)."""
        if self.path.exists() and not self.path.is_dir():
            raise ViewfinderError(f"{self.path} is a file; choose a directory for --index.")
        self.path.mkdir(parents=True, exist_ok=True)
        manifest = Manifest(
            model=spec.name, identity=spec.identity(), dim=dim, created_at=time.time(), index_uuid=uuid.uuid4().hex
        )
        temporary = self.path / ".manifest.json.tmp"
        temporary.write_text(json.dumps(asdict(manifest), indent=2))
        os.replace(temporary, self.manifest_path)
        return manifest

    def check_model(self, spec: ModelSpec) -> Manifest:
        """The manifest, after making sure `spec` is the model that built this index."""
        manifest = self.read_manifest()
        if manifest.identity != spec.identity():
            raise IndexMismatchError(
                f"{self.path} was built with model {manifest.model}, not {spec.name}; use --model "
                f"{manifest.model} or a new --index directory."
            )
        return manifest

    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        """Holds the index's single-writer lock; a second `index` run fails with a clear error."""
        lock = self.path / "index.lock"
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            lock.touch()
        except OSError as error:
            raise ViewfinderError(f"Cannot write the index at {self.path}: {error.strerror or error}.") from error
        with open(lock, "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as error:
                raise ViewfinderError(
                    f"Another `viewfinder index` run is updating {self.path}; wait for it."
                ) from error
            yield

    def writer_active(self) -> bool:
        """Whether a writer holds the lock now (a killed writer's lock is free: the kernel drops it)."""
        try:
            handle = os.open(self.path / "index.lock", os.O_RDONLY)
        except OSError:
            return False  # no lock file: no writer ever ran here, or the directory is gone
        try:
            # Shared, so two servers checking at once do not see each other as writers.
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(handle)  # closing drops the lock taken just above
        return False

    def identity(self, manifest: Manifest | None = None) -> tuple[int, int, str] | None:
        """What tells this index from one rebuilt in its place: the catalog file's device and inode and the
        manifest's index_uuid; None while either is missing or unreadable.

        Pass the manifest already read, so both parts describe the same moment as closely as possible.
        """
        try:
            manifest = manifest or self.read_manifest()
            status = self.catalog_path.stat()
        except (OSError, ViewfinderError):
            return None
        return status.st_dev, status.st_ino, manifest.index_uuid

    def open_catalog(self, readonly: bool = False) -> Catalog:
        if readonly and not self.catalog_path.exists():
            raise IndexMismatchError(f"{self.path} has a manifest but no catalog; re-run `viewfinder index`.")
        return Catalog(self.catalog_path, readonly=readonly)

    def load_vectors(self, catalog: Catalog, dim: int) -> tuple[VectorIndex, bool]:
        """The FAISS index matching the catalog's current generation, and whether it had to be rebuilt.

        A saved index older than the catalog (an interrupted run) is rebuilt from the catalog's vectors.
        """
        generation = catalog.generation()
        loaded = VectorIndex.load(self.path)
        if loaded is not None:
            vectors, saved_generation = loaded
            if saved_generation == generation and vectors.dim == dim:
                return vectors, False
        return rebuild_from_catalog(catalog, dim), True

    def save_vectors(self, vectors: VectorStore, generation: int) -> None:
        vectors.save(self.path, generation)

    def bytes_on_disk(self) -> int:
        return sum(entry.stat().st_size for entry in self.path.iterdir() if entry.is_file())


def rebuild_from_catalog(catalog: Catalog, dim: int) -> VectorIndex:
    """A fresh index over every vector in the catalog, shaped for the collection's size."""
    chunks = list(catalog.vectors(dim))
    if not chunks:
        return VectorIndex.empty(dim)
    ids = np.concatenate([c[0] for c in chunks])
    data = np.concatenate([c[1] for c in chunks])
    return VectorIndex.build(ids, data, dim)


def apply_changes(
    vectors: VectorIndex,
    catalog: Catalog,
    dim: int,
    removed: np.ndarray,
    added: np.ndarray,
    added_vectors: np.ndarray,
) -> VectorIndex:
    """Updates the index in place for one run's changes, or rebuilds it when the collection outgrew it."""
    if needs_retrain(vectors.params, vectors.count - len(removed) + len(added)):
        return rebuild_from_catalog(catalog, dim)
    vectors.remove(np.concatenate([removed, added]).astype(np.int64))
    vectors.add(added, added_vectors)
    return vectors
