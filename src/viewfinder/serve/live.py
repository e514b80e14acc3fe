"""Serving an index that changes: the engine in use, swapped atomically for a newer one when the index on disk
has been updated, by a reindex job run here or by a separate `viewfinder index` process.

A request holds the engine it started with until it finishes (a lease), so a swap never changes the index
under a running search, and a retired engine is closed when its last request is done. The new engine is only
built once the saved FAISS index reflects the catalog's generation, that is when the writer has finished,
or, when no writer holds the lock (one was killed), rebuilt from the catalog's committed batches; an engine
is never built from a half-written index. An index deleted and rebuilt in place is noticed by its identity.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from viewfinder.errors import ViewfinderError
from viewfinder.models.embedder import Embedder
from viewfinder.models.registry import example_queries
from viewfinder.pipeline.indexer import IndexReport, run_index
from viewfinder.pipeline.watch import FolderWatcher
from viewfinder.search.engine import SearchEngine
from viewfinder.search.query import Term
from viewfinder.sources import source_for
from viewfinder.store.faiss_index import saved_generation
from viewfinder.store.indexdir import IndexDir

POLL_SECONDS = 1.0

log = logging.getLogger(__name__)


@dataclass
class ReindexJob:
    """One background run of incremental indexing over the index's source folders."""

    id: int
    roots: list[str]
    started_at: float
    state: str = "running"  # running, done or failed
    missing_roots: list[str] = field(default_factory=list)  # source folders not there (an unmounted drive)
    finished_at: float | None = None
    report: IndexReport | None = None
    error: str | None = None
    generation: int | None = None  # the index generation served once the job finished


@dataclass(frozen=True)
class IndexStats:
    """A summary of the served index, computed once per generation."""

    images: int
    skipped: int
    model: str
    dim: int
    index_type: str
    bytes_on_disk: int
    folders: list[str]
    taken_range: tuple[str, str] | None
    generation: int
    example_queries: list[str]
    query_model: str | None = None  # what encodes text queries when not the index's model (--query-model)


class _Lease:
    """An engine and the number of requests using it."""

    def __init__(self, engine: SearchEngine) -> None:
        self.engine = engine
        self.users = 0
        self.retired = False


class LiveIndex:
    """The engine a server answers with; loads the model at once and follows the index on disk."""

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
        engine = SearchEngine(self.index_dir, device, embedder, runtime=runtime, query_model=query_model)
        # The text encoder loads before the server reports ready and stays loaded; one search warms up the
        # lazily initialised parts (torch kernels, FAISS threads) so the first user query is not the slow one.
        engine.search([Term(text="a photo")], k=1)
        self._current = _Lease(engine)
        self._lease_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._failed_state: tuple[object, int] | None = None
        self._stats: tuple[SearchEngine, IndexStats] | None = None
        self._job: ReindexJob | None = None
        self._job_lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def generation(self) -> int:
        return self._current.engine.generation

    @contextmanager
    def engine(self) -> Iterator[SearchEngine]:
        """The current engine, kept open for the caller until the block ends, even if a swap happens."""
        with self._lease_lock:
            lease = self._current
            lease.users += 1
        try:
            yield lease.engine
        finally:
            with self._lease_lock:
                lease.users -= 1
                finished = lease.retired and lease.users == 0
            if finished:
                lease.engine.close()

    def refresh(self) -> bool:
        """Swaps to the index on disk when it changed and is complete; returns whether it did.

        Complete means a writer saved the vector index for the catalog's generation, or no writer is left
        (one killed mid-run leaves committed images that the saved vector index lacks: they are rebuilt from
        the catalog). An index deleted and rebuilt in place is told by its identity, not its generation.
        Cheap when nothing changed (a stat, the small manifest and one catalog read), so it can run every second.
        """
        with self._refresh_lock:
            current = self._current.engine
            state = self._disk_state(current)
            if state is None or state == (current.identity, current.generation) or state == self._failed_state:
                return False
            if saved_generation(self.index_dir.path) != state[1] and self.index_dir.writer_active():
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
            fresh.text_encoder.load_text_tower()
            self._swap(fresh)
            return True

    def _disk_state(self, current: SearchEngine) -> tuple[object, int] | None:
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

    def _swap(self, fresh: SearchEngine) -> None:
        with self._lease_lock:
            old, self._current = self._current, _Lease(fresh)
            old.retired = True
            finished = old.users == 0
        if finished:
            old.engine.close()
        log.info("now serving generation %s of %s", fresh.generation, self.index_dir.path)

    def stats(self) -> IndexStats:
        """The summary of the index being served (cached until the next swap)."""
        with self.engine() as engine:
            if self._stats is not None and self._stats[0] is engine:  # per engine: a rebuilt index may reuse numbers
                return self._stats[1]
            stats = IndexStats(
                images=engine.catalog.count(),
                skipped=len(engine.catalog.skipped()),
                model=engine.manifest.model,
                dim=engine.manifest.dim,
                index_type=engine.vectors.params.kind,
                bytes_on_disk=self.index_dir.bytes_on_disk(),
                folders=engine.catalog.folders(),
                taken_range=engine.catalog.taken_range(),
                generation=engine.generation,
                example_queries=example_queries(engine.manifest.model),
                query_model=engine.query_model,
            )
            self._stats = (engine, stats)
            return stats

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

    @property
    def job(self) -> ReindexJob | None:
        """The latest reindex job, running or finished."""
        return self._job

    def reindex(self) -> ReindexJob:
        """Starts incremental indexing in the background and swaps to its result; returns the job.

        While a job runs, asking again returns that job rather than starting a second one.
        """
        with self._job_lock:
            if self._job is not None and self._job.state == "running":
                return self._job
            roots = self.source_roots()
            if not roots:
                raise ViewfinderError("This index has no known source folders; start the server with --source DIR.")
            job = ReindexJob(id=self._job.id + 1 if self._job else 1, roots=roots, started_at=time.time())
            self._job = job
        threading.Thread(target=self._run_job, args=(job,), name=f"viewfinder-reindex-{job.id}", daemon=True).start()
        return job

    def reindex_and_wait(self) -> None:
        """Runs a reindex to its end, starting a fresh one if a job begun earlier was running; raises on failure."""
        asked_at = time.time()
        job = self.reindex()
        while job.state == "running" or job.started_at < asked_at:
            while job.state == "running":
                time.sleep(0.05)  # the job runs on its own thread and sets its state last
            if job.started_at < asked_at:  # it began before the change that asked for this run
                job = self.reindex()
                asked_at = 0.0
        if job.state == "failed":
            raise ViewfinderError(job.error or "the reindex failed")

    def folder_watcher(self) -> FolderWatcher:
        """A watcher of the source folders that reindexes when photos change (`viewfinder serve --watch`)."""
        roots = [root for root in self.source_roots() if source_for(root).available()]
        if not roots:
            raise ViewfinderError("--watch needs a source folder that exists; add one with --source DIR.")

        def failed(error: Exception) -> None:
            log.warning("watch: reindex failed: %s (retrying on the next change)", error)

        watcher = FolderWatcher(roots, self.reindex_and_wait, on_error=failed)
        if watcher.not_watched:
            log.info("watch: %s", watcher.not_watched_note())
        return watcher

    def _run_job(self, job: ReindexJob) -> None:
        state = "failed"
        try:
            job.missing_roots = [root for root in job.roots if not source_for(root).available()]
            present = [root for root in job.roots if root not in job.missing_roots]
            if not present:
                raise ViewfinderError(f"No source folder can be found ({', '.join(job.roots)}); is its drive mounted?")
            with self.engine() as engine:
                embedder = engine.embedder
            job.report = run_index(self.index_dir.path, present, device=self.device, embedder=embedder)
            self.refresh()
            state = "done"
        except ViewfinderError as error:
            job.error = str(error)
        except Exception as error:
            log.exception("reindex job %s failed", job.id)
            job.error = f"unexpected error: {type(error).__name__}: {error}"
        finally:
            job.generation = self.generation
            job.finished_at = time.time()
            job.state = state  # last, so a client that sees the job finished sees all of it

    def start_watching(self) -> None:
        """Checks for an index updated by another process every `poll_seconds`, on a background thread."""
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="viewfinder-watch", daemon=True)
            self._watcher.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.refresh()
            except Exception:
                log.exception("cannot open the updated index at %s; serving the previous one", self.index_dir.path)

    def close(self) -> None:
        """Stops watching and closes the engine (a running reindex job is left to the writer lock's care)."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join()
        with self._lease_lock:
            self._current.retired = True
            finished = self._current.users == 0
        if finished:
            self._current.engine.close()
