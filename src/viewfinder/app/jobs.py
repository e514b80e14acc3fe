"""Background runs over a served index: reindexing its sources, the folder watcher that asks for one, and
model upgrades."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from viewfinder.app import library, upgrade
from viewfinder.errors import ViewfinderError
from viewfinder.models.embedder import Embedder
from viewfinder.pipeline.indexer import IndexReport
from viewfinder.pipeline.watch import FolderWatcher
from viewfinder.sources import source_for

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


class Reindexer:
    """Runs one reindex job at a time over an index directory, then swaps the result in."""

    def __init__(
        self,
        index_path: Path,
        roots: Callable[[], list[str]],
        embedder: Callable[[], Embedder],
        refresh: Callable[[], object],
        generation: Callable[[], int],
        device: str = "auto",
    ) -> None:
        """`roots` gives the folders to scan, `embedder` the loaded model, `refresh` swaps in the result and
        `generation` says which generation is served."""
        self.index_path = index_path
        self._roots = roots
        self._embedder = embedder
        self._refresh = refresh
        self._generation = generation
        self.device = device
        self._job: ReindexJob | None = None
        self._lock = threading.Lock()

    @property
    def job(self) -> ReindexJob | None:
        """The latest reindex job, running or finished."""
        return self._job

    def start(self) -> ReindexJob:
        """Starts incremental indexing in the background; while a job runs, asking again returns that job."""
        with self._lock:
            if self._job is not None and self._job.state == "running":
                return self._job
            roots = self._roots()
            if not roots:
                raise ViewfinderError("This index has no known source folders; start the server with --source DIR.")
            job = ReindexJob(id=self._job.id + 1 if self._job else 1, roots=roots, started_at=time.time())
            self._job = job
        threading.Thread(target=self._run, args=(job,), name=f"viewfinder-reindex-{job.id}", daemon=True).start()
        return job

    def run_and_wait(self) -> None:
        """Runs a reindex to its end, starting a fresh one if a job begun earlier was running; raises on failure."""
        asked_at = time.time()
        job = self.start()
        while job.state == "running" or job.started_at < asked_at:
            while job.state == "running":
                time.sleep(0.05)  # the job runs on its own thread and sets its state last
            if job.started_at < asked_at:  # it began before the change that asked for this run
                job = self.start()
                asked_at = 0.0
        if job.state == "failed":
            raise ViewfinderError(job.error or "the reindex failed")

    def watcher(self) -> FolderWatcher:
        """A watcher of the source folders that reindexes when photos change (`viewfinder serve --watch`)."""
        roots = [root for root in self._roots() if source_for(root).available()]
        if not roots:
            raise ViewfinderError("--watch needs a source folder that exists; add one with --source DIR.")

        def failed(error: Exception) -> None:
            log.warning("watch: reindex failed: %s (retrying on the next change)", error)

        watcher = FolderWatcher(roots, self.run_and_wait, on_error=failed)
        if watcher.not_watched:
            log.info("watch: %s", watcher.not_watched_note())
        return watcher

    def _run(self, job: ReindexJob) -> None:
        def work() -> None:
            job.missing_roots = [root for root in job.roots if not source_for(root).available()]
            present = [root for root in job.roots if root not in job.missing_roots]
            if not present:
                raise ViewfinderError(f"No source folder can be found ({', '.join(job.roots)}); is its drive mounted?")
            job.report = library.update(self.index_path, present, device=self.device, embedder=self._embedder())
            self._refresh()

        def finish() -> None:
            job.generation = self._generation()

        _record(job, "reindex", work, finish)


@dataclass
class UpgradeJob:
    """One background model upgrade of the served index (`viewfinder upgrade`; its progress is in /stats)."""

    id: int
    model: str
    started_at: float
    state: str = "running"  # running, done or failed
    finished_at: float | None = None
    report: upgrade.UpgradeReport | None = None
    error: str | None = None


class Upgrader:
    """Runs one model upgrade at a time over an index directory, then swaps the result in."""

    def __init__(self, index_path: Path, refresh: Callable[[], object], device: str = "auto") -> None:
        self.index_path = index_path
        self._refresh = refresh
        self.device = device
        self.job: UpgradeJob | None = None
        self._lock = threading.Lock()

    def start(self, model: str, query_model: str | None = None, drop_query_model: bool = False) -> UpgradeJob:
        """Starts upgrading to `model` in the background; while a job runs, asking again returns that job.
        `query_model` is the server's: an upgrade that leaves it unaligned fails unless `drop_query_model`."""
        with self._lock:
            if self.job is not None and self.job.state == "running":
                return self.job
            job = UpgradeJob(id=self.job.id + 1 if self.job else 1, model=model, started_at=time.time())
            self.job = job
        arguments = (job, query_model, drop_query_model)
        threading.Thread(target=self._run, args=arguments, name=f"viewfinder-upgrade-{job.id}", daemon=True).start()
        return job

    def _run(self, job: UpgradeJob, query_model: str | None, drop_query_model: bool) -> None:
        def work() -> None:
            job.report = upgrade.upgrade(
                self.index_path,
                job.model,
                device=self.device,
                query_model=query_model,
                drop_query_model=drop_query_model,
            )
            self._refresh()

        _record(job, "upgrade", work)


def _record(
    job: ReindexJob | UpgradeJob, kind: str, work: Callable[[], None], finish: Callable[[], None] = lambda: None
) -> None:
    """Runs a background job's work and records how it ended: done, or failed with the error in words."""
    state = "failed"
    try:
        work()
        state = "done"
    except ViewfinderError as error:
        job.error = str(error)
    except Exception as error:
        log.exception("%s job %s failed", kind, job.id)
        job.error = f"unexpected error: {type(error).__name__}: {error}"
    finally:
        finish()
        job.finished_at = time.time()
        job.state = state  # last, so a client that sees the job finished sees all of it
