"""One index = one directory: the manifest naming the model and the vector store, the SQLite catalog, and the
store's files when it keeps them here (FAISS)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from viewfinder import settings
from viewfinder.errors import IndexMismatchError, ViewfinderError
from viewfinder.models.registry import ModelSpec
from viewfinder.store.catalog import Catalog
from viewfinder.store.factory import DEFAULT_STORE, normalise_store, rebuild, store_address, store_class
from viewfinder.store.faiss_index import saved_generation
from viewfinder.store.staging import swap_stopped
from viewfinder.store.vector_store import Queries, StoreAddress, VectorStore

FORMAT_VERSION = 1
# A published snapshot whose vector index holds float16 vectors (faiss_precision). Its own number: a reader
# from before them refuses the snapshot as another version's, and keeps serving the one it has, where it would
# read the vectors as float32 and fail the searches that scan them (a narrow filter).
HALF_PRECISION_FORMAT = 2
READABLE_FORMATS = (FORMAT_VERSION, HALF_PRECISION_FORMAT)


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
    store: str = DEFAULT_STORE  # the vector store: faiss (files here) or milvus:URI (factory.normalise_store)
    store_collection: str = ""  # the Milvus collection holding this index's vectors
    ocr: bool = False  # `index --ocr` was asked once: every later run reads the words of new photos too


def default_index_path(explicit: str | None) -> Path:
    """`--index DIR`, else $VIEWFINDER_INDEX, else ./viewfinder-index (the `index` setting)."""
    return Path(explicit or settings.value("index")).expanduser()


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
        if not self.exists() and swap_stopped(self.path):
            raise ViewfinderError(
                f"A model swap in {self.path} was stopped half way; run `viewfinder check --repair --index "
                f"{self.path}` to finish it."
            )
        if not self.exists():
            raise ViewfinderError(
                f"No index at {self.path}; build one with `viewfinder index FOLDER --index {self.path}`."
            )
        try:
            fields = json.loads(self.manifest_path.read_text())
            manifest = Manifest(**{**fields, "dim": _valid_dim(fields.get("dim"))})
        except (OSError, ValueError, TypeError, AttributeError) as error:
            raise IndexMismatchError(f"{self.manifest_path} is not a Viewfinder manifest ({error}).") from error
        if manifest.format_version not in READABLE_FORMATS:
            raise IndexMismatchError(
                f"{self.path} was written by another Viewfinder version (format {manifest.format_version});"
                " index into a new directory."
            )
        return manifest

    def create(self, spec: ModelSpec, dim: int, store: str | None = None) -> Manifest:
        """Starts a new index for a model (the directory may exist but must hold no index)."""
        if self.path.exists() and not self.path.is_dir():
            raise ViewfinderError(f"{self.path} is a file; choose a directory for --index.")
        store = normalise_store(store, self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        index_uuid = uuid.uuid4().hex
        manifest = Manifest(
            model=spec.name,
            identity=spec.identity(),
            dim=dim,
            created_at=time.time(),
            index_uuid=index_uuid,
            store=store,
            store_collection="" if store_class(store).in_index_dir else f"viewfinder_{index_uuid}",
        )
        self.write_manifest(manifest)
        return manifest

    def write_manifest(self, manifest: Manifest) -> None:
        """Writes the manifest atomically (when an index is made, and when `check --repair` restores it)."""
        temporary = self.path / ".manifest.json.tmp"
        temporary.write_text(json.dumps(asdict(manifest), indent=2))
        os.replace(temporary, self.manifest_path)

    def check_model(self, spec: ModelSpec) -> Manifest:
        """The manifest, after making sure `spec` is the model that built this index."""
        manifest = self.read_manifest()
        if manifest.identity != spec.identity():
            if manifest.model == spec.name:  # the same name with other weights, e.g. a retrained test model
                raise IndexMismatchError(
                    f"{self.path} was built with model {manifest.model} as its weights were then, not the ones "
                    f"installed now; `viewfinder upgrade --model {spec.name} --index {self.path}` embeds it again "
                    "with them while search goes on, or index again into a new --index directory."
                )
            raise IndexMismatchError(
                f"{self.path} was built with model {manifest.model}, not {spec.name}; use --model "
                f"{manifest.model} or a new --index directory."
            )
        return manifest

    @contextmanager
    def writer_lock(self, wait: bool = False) -> Iterator[None]:
        """Holds the index's single-writer lock; a second `index` run fails with a clear error, or with `wait`
        (a model upgrade's swap) waits for the writer at work to finish."""
        lock = self.path / "index.lock"
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            lock.touch()
        except OSError as error:
            raise ViewfinderError(f"Cannot write the index at {self.path}: {error.strerror or error}.") from error
        with open(lock, "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
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

    def open_catalog(self, readonly: bool = False, check_dim: bool = True) -> Catalog:
        """The catalog; unless `check_dim` is False (`check` compares them itself), refused with a clear error
        when the manifest's dimension is not its vectors' (a damaged manifest would break every search)."""
        if readonly and not self.catalog_path.exists():
            raise IndexMismatchError(f"{self.path} has a manifest but no catalog; re-run `viewfinder index`.")
        catalog = Catalog(self.catalog_path, readonly=readonly)
        if check_dim:
            try:
                self._require_dim(catalog)
            except IndexMismatchError:
                catalog.close()
                raise
        return catalog

    def _require_dim(self, catalog: Catalog) -> None:
        dim = self.read_manifest().dim
        row = catalog.db.execute("SELECT length(vector) FROM vectors LIMIT 1").fetchone()
        stored = None if row is None else row[0] / 4
        if dim and stored in (None, dim):
            return
        damage = (
            f"it says the vectors have {dim} dimensions, but the catalog's have {stored:g}"
            if dim
            else ("its dim is no number of dimensions")
        )
        raise IndexMismatchError(
            f"The manifest {self.manifest_path} is damaged: {damage}; run `viewfinder check --repair --index "
            f"{self.path}` to restore it."
        )

    def load_vectors(self, catalog: Catalog, dim: int) -> tuple[VectorStore, bool]:
        """The vector store matching the catalog's current generation, and whether it had to be rebuilt.

        A saved FAISS index older than the catalog (an interrupted run) is rebuilt from the catalog's vectors;
        a Milvus collection is repaired in place, unless a writer is at work (it repairs it as it finishes).
        """
        manifest = self.read_manifest()
        in_index_dir = store_class(manifest.store).in_index_dir
        loaded = self.saved_vectors(catalog, manifest)
        # The saved store when it reflects the catalog's generation at the manifest's dimension.
        current = None
        if loaded is not None and loaded[1] == catalog.generation() and loaded[0].dim == dim:
            current = loaded[0]
        if not catalog.keeps_vectors:  # a published snapshot: its vector index is the only copy of its vectors
            if current is None or not in_index_dir:
                raise IndexMismatchError(
                    f"The snapshot in {self.path} has no vector index matching its catalog; download it again."
                )
            catalog.read_vectors_from(current)
            return current, False
        if current is not None:
            return current, False
        if loaded is not None and not in_index_dir and self.writer_active():
            return loaded[0], False  # a shared store: the writer repairs it as it finishes
        return rebuild(self.store_address(manifest), manifest.store, catalog, loaded), True

    def store_address(self, manifest: Manifest) -> StoreAddress:
        """Where the manifest's vector store lives."""
        return store_address(self.path, manifest.store, manifest.store_collection, manifest.dim)

    def saved_vectors(self, catalog: Catalog, manifest: Manifest) -> tuple[VectorStore, int | None] | None:
        """The saved vector store and the catalog generation it reflects (VectorStore.open)."""
        return store_class(manifest.store).open(self.store_address(manifest), catalog)

    def saved_generation(self) -> int | None:
        """The catalog generation of the vector index saved in this directory, read cheaply (nothing is loaded);
        None when none is saved here (or the store lives outside it)."""
        return saved_generation(self.path)

    def rebuild_vectors(
        self,
        catalog: Catalog,
        manifest: Manifest,
        saved: tuple[VectorStore, int | None] | None,
        queries: Queries = None,
    ) -> VectorStore:
        """A store matching the catalog (factory.rebuild); a FAISS index is chosen by measuring on `queries`."""
        return rebuild(self.store_address(manifest), manifest.store, catalog, saved, queries)

    def save_vectors(self, vectors: VectorStore, generation: int) -> None:
        vectors.save(self.path, generation)

    def bytes_on_disk(self) -> int:
        total = 0
        for entry in self.path.iterdir():
            with contextlib.suppress(FileNotFoundError):  # moved away meanwhile (a model swap)
                total += entry.stat().st_size if entry.is_file() else 0
        return total

    def read_note(self, name: str) -> str | None:
        """A small file the index keeps beside its catalog (its relevance calibration), or None when absent."""
        try:
            return (self.path / name).read_text()
        except OSError:
            return None

    def write_note(self, name: str, text: str) -> None:
        """Writes such a file atomically; an index the process cannot write (a snapshot, a read-only mount)
        simply keeps none, and what it would hold is measured again next time."""
        temporary = self.path / f".{name}.{os.getpid()}.tmp"
        try:
            temporary.write_text(text)
            os.replace(temporary, self.path / name)
        except OSError:
            with contextlib.suppress(OSError):
                temporary.unlink()


def _valid_dim(value: object) -> int:
    """A manifest's dimension; 0 for one that is no positive whole number (damaged: opening the catalog
    refuses such an index, and `viewfinder check --repair` restores the dimension from the vectors)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
