"""Serving an index that changes: the `Index` generation in use, swapped atomically for a newer one when the
index on disk has been updated, by a reindex job run here or by a separate `viewfinder index` process.

A request holds the generation it started with until it finishes (a lease), so a swap never changes the index
under a running search, and a retired generation is closed when its last request is done. The new one is only
opened once the saved vector index reflects the catalog's generation, that is when the writer has finished,
or, when no writer holds the lock (one was killed), rebuilt from the catalog's committed batches; a
generation is never opened from a half-written index. An index deleted and rebuilt in place is noticed by its identity.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import replace
from pathlib import Path

from viewfinder.app.index import Index
from viewfinder.app.jobs import Reindexer, ReindexJob, UpgradeJob, Upgrader
from viewfinder.app.records import IndexInfo
from viewfinder.errors import ViewfinderError
from viewfinder.models.embedder import Embedder
from viewfinder.pipeline.watch import FolderWatcher
from viewfinder.sources import source_for
from viewfinder.store.indexdir import IndexDir

POLL_SECONDS = 1.0

log = logging.getLogger(__name__)


class _Lease:
    """An index generation and the number of requests using it."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self.users = 0
        self.retired = False


class LiveIndex:
    """The index a server answers with; loads the model at once and follows the index on disk."""

    def __init__(
        self,
        path: str | Path,
        device: str = "auto",
        sources: Sequence[str] = (),
        poll_seconds: float = POLL_SECONDS,
        runtime: str = "auto",
        embedder: Embedder | None = None,
        query_model: str | None = None,
    ) -> None:
        self.index_dir = IndexDir(Path(path))
        self.device = device
        self.sources = [source_for(source).root for source in sources]
        self.poll_seconds = poll_seconds
        index = Index(self.index_dir.path, device, runtime, query_model, embedder=embedder)
        index.warm()
        self._current = _Lease(index)
        self._lease_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._failed_state: tuple[object, int] | None = None
        self._info: tuple[Index, IndexInfo] | None = None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._warmer: threading.Thread | None = None
        self.reindexer = Reindexer(
            self.index_dir.path, self.source_roots, self._embedder, self.refresh, lambda: self.generation, device
        )
        self.upgrader = Upgrader(self.index_dir.path, self.refresh, device)

    @property
    def generation(self) -> int:
        return self._current.index.generation

    @contextmanager
    def index(self) -> Iterator[Index]:
        """The current generation, kept open for the caller until the block ends, even if a swap happens."""
        with self._lease_lock:
            lease = self._current
            lease.users += 1
        try:
            yield lease.index
        finally:
            with self._lease_lock:
                lease.users -= 1
                finished = lease.retired and lease.users == 0
            if finished:
                lease.index.close()

    def refresh(self) -> bool:
        """Swaps to the index on disk when it changed and is complete; returns whether it did.

        Complete means a writer saved the vector index for the catalog's generation, or no writer is left
        (one killed mid-run leaves committed images that the saved vector index lacks: they are rebuilt from
        the catalog). An index deleted and rebuilt in place is told by its identity, not its generation.
        Cheap when nothing changed (a stat, the small manifest and one catalog read), so it can run every second.
        """
        with self._refresh_lock:
            current = self._current.index
            state = self._disk_state(current)
            if state is None or state == (current.identity, current.generation) or state == self._failed_state:
                return False
            if self.index_dir.saved_generation() != state[1] and self.index_dir.writer_active():
                return False  # a writer is at work; its final save rewrites ann.json
            try:
                fresh = current.reopen()
            except Exception:
                self._failed_state = state  # logged once, tried again when the index changes
                raise
            if (fresh.identity, fresh.generation) != state:
                fresh.close()  # the index changed again between the check and the load: look again next time
                return False
            # A new model (the index was rebuilt with another) loads, text tower included, before the swap.
            fresh.warm()
            self._swap(fresh)
            return True

    def _disk_state(self, current: Index) -> tuple[object, int] | None:
        """(identity, catalog generation) of the index on disk now; None while it is missing or half made."""
        identity = self.index_dir.identity()
        if identity is None:
            return None
        if identity == current.identity:
            return identity, current.catalog.generation()
        try:
            with closing(self.index_dir.open_catalog(readonly=True)) as catalog:
                return identity, catalog.generation()
        except (ViewfinderError, sqlite3.Error):
            return None  # removed again, or a new catalog whose tables are not written yet

    def _swap(self, fresh: Index) -> None:
        with self._lease_lock:
            old, self._current = self._current, _Lease(fresh)
            old.retired = True
            finished = old.users == 0
        if finished:
            old.index.close()
        log.info("now serving generation %s of %s", fresh.generation, fresh.path)

    def info(self) -> IndexInfo:
        """The summary of the generation being served (kept until the next swap), with the progress of a model
        upgrade read anew each time."""
        with self.index() as index:
            if self._info is not None and self._info[0] is index:  # per generation: a rebuilt index may reuse numbers
                return replace(self._info[1], upgrade=index.upgrade_status())
            info = index.info()
            self._info = (index, info)
            return info

    def source_roots(self) -> list[str]:
        """The folders a reindex scans: those given at start-up, else those the index on disk was built from
        (read from its catalog now: the index served may have been replaced by another one since)."""
        if self.sources:
            return list(self.sources)
        try:
            with closing(self.index_dir.open_catalog(readonly=True)) as catalog:
                return catalog.roots()
        except sqlite3.Error as error:
            raise ViewfinderError(f"Cannot read the index at {self.index_dir.path}: {error}.") from error

    def _embedder(self) -> Embedder:
        with self.index() as index:
            return index.embedder

    @property
    def job(self) -> ReindexJob | None:
        """The latest reindex job, running or finished."""
        return self.reindexer.job

    def reindex(self) -> ReindexJob:
        """Starts incremental indexing in the background and swaps to its result; returns the job."""
        return self.reindexer.start()

    def upgrade(self, model: str, drop_query_model: bool = False) -> UpgradeJob:
        """Starts re-embedding the index with `model` in the background and swaps to it; returns the job. An
        upgrade that leaves this server's query model unaligned fails unless `drop_query_model`."""
        with self.index() as index:
            query_model = index.query_model
        return self.upgrader.start(model, query_model, drop_query_model)

    def folder_watcher(self) -> FolderWatcher:
        """A watcher of the source folders that reindexes when photos change (`viewfinder serve --watch`)."""
        return self.reindexer.watcher()

    def start_watching(self) -> None:
        """Checks for an index updated by another process every `poll_seconds`, on a background thread."""
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="viewfinder-watch", daemon=True)
            self._watcher.start()

    def start_warming(self) -> None:
        """Makes the thumbnails local photos lack on a background thread, for each generation served, so that
        searches after indexing find them made rather than wait for them (one decode at a time)."""
        if self._warmer is None:
            self._warmer = threading.Thread(target=self._warm, name="viewfinder-thumbnails", daemon=True)
            self._warmer.start()

    def _warm(self) -> None:
        warmed = None
        while not self._stop.is_set():
            if self.generation != warmed:
                warmed = self.generation
                try:
                    with self.index() as index:
                        index.warm_thumbnails(self._stop)
                except Exception:
                    log.exception("cannot make the thumbnails of %s ahead of time", self.index_dir.path)
            self._stop.wait(self.poll_seconds)

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.refresh()
            except Exception:
                log.exception("cannot open the updated index at %s; serving the previous one", self.index_dir.path)

    def close(self) -> None:
        """Stops watching and closes the index (a running reindex job is left to the writer lock's care)."""
        self._stop.set()
        for thread in (self._watcher, self._warmer):
            if thread is not None:
                thread.join()
        with self._lease_lock:
            self._current.retired = True
            finished = self._current.users == 0
        if finished:
            self._current.index.close()
