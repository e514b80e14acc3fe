"""Serving a snapshot published to S3 (`viewfinder serve --index s3://bucket/indexes/NAME`): the current snapshot
is downloaded and verified into a local cache, and the pointer is polled; a newer (or rolled back) snapshot is
downloaded, verified and opened beside the one in use, then swapped in the way `live` swaps a local index, so
requests in flight finish on the generation they started with and none fails.

What cannot be followed is logged once per problem, naming what was refused and the snapshot still served: a
pointer that cannot be read or is no pointer; a snapshot refused for what it holds (checksums, a catalog and a
vector index that disagree), not tried again until the pointer moves; a download or an opening that failed,
tried again after a delay that doubles from the poll interval up to RETRY_MAX_SECONDS. The Lambda handler
calls the same refresh.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from viewfinder.app.index import Index
from viewfinder.app.jobs import ReindexJob
from viewfinder.app.live import POLL_SECONDS, LiveIndex
from viewfinder.errors import ViewfinderError
from viewfinder.models.embedder import Embedder
from viewfinder.models.factory import load_embedder
from viewfinder.models.prompts import prompt_vectors
from viewfinder.models.registry import ModelSpec, resolve_model
from viewfinder.search import relevance
from viewfinder.sources import is_object_store_url
from viewfinder.store.indexdir import IndexDir
from viewfinder.store.snapshot_cache import (
    Listed,
    cache_dir,
    catalog_mismatch,
    download,
    drop_cached,
    manifest_model,
    snapshot_listing,
)
from viewfinder.store.snapshots import SnapshotError, current

RETRY_MAX_SECONDS = 300.0
_Loaded = tuple[Embedder, np.ndarray | None]  # the model, and its calibration prompts' vectors when needed
_started: dict[tuple[str, str, str, bool], _ColdStart] = {}  # by prefetch(), for the SnapshotLiveIndex to come
_started_lock = threading.Lock()

log = logging.getLogger(__name__)


def prefetch(url: str, device: str = "auto", runtime: str = "auto", query_model: str | None = None) -> None:
    """Begins what a SnapshotLiveIndex of `url` (made with the same arguments) first waits for, on threads of
    their own: the download of the current snapshot and the load of its model; returns once the pointer is
    read. What a cold start does meanwhile (the web framework's import, ~0.3 s of CPU) then overlaps them; the
    index takes them over, and raises what they raised. Does nothing for a URL that is no object store's."""
    if not is_object_store_url(url):
        return
    url = url.rstrip("/")
    key = (url, device, runtime, query_model is None)
    with _started_lock:
        if key not in _started:
            _started[key] = _ColdStart(url, cache_dir(url), device, runtime, query_model is None)
        start = _started[key]
    # The pointer's read (with the S3 client's import and creation, ~0.2 s of CPU) is what the download waits
    # for: it has the interpreter to itself rather than sharing it with the caller's imports, and the download
    # starts ~0.2 s sooner. What it raised is raised by the index, as the rest.
    wait([start.head])


class _ColdStart:
    """The current snapshot of a URL on its way into the cache, and the model its manifest names loading
    meanwhile: a cold start takes the longer of the two, not their sum. `head` is the pointer, its listing and
    the model (named before the download, so that it loads during it; the downloaded manifest is checked
    again)."""

    def __init__(self, url: str, cache: Path, device: str, runtime: str, text_tower: bool) -> None:
        pool = ThreadPoolExecutor(2, thread_name_prefix="snapshot-cold-start")
        self.head = pool.submit(_Head.read, url)
        self.folder = pool.submit(lambda: download(url, self.head.result().pointer, cache, self.head.result().listed))
        self.embedder = pool.submit(lambda: _loaded(self.head.result(), device, runtime, text_tower))
        pool.shutdown(wait=False)  # its threads end with the last of the three


@dataclass(frozen=True)
class _Head:
    """What a cold start reads before the download: the pointer, the snapshot's listing (read once, for the
    download and to know whether the snapshot carries a relevance calibration), the model its manifest names."""

    pointer: dict[str, str]
    listed: Listed
    spec: ModelSpec

    @classmethod
    def read(cls, url: str) -> _Head:
        pointer = current(url)
        return cls(pointer, snapshot_listing(url, pointer), resolve_model(manifest_model(url, pointer)))

    @property
    def calibrated(self) -> bool:
        return relevance.CACHE_FILE in self.listed[1]


@dataclass(frozen=True)
class _Failure:
    """The last failed attempt at the snapshot a pointer names."""

    pointer: dict[str, str]
    attempts: int
    retry_at: float  # time.monotonic(); never for a snapshot refused for what it holds


class SnapshotLiveIndex(LiveIndex):
    """A LiveIndex whose refresh follows the published pointer instead of a local directory."""

    def __init__(
        self,
        url: str,
        device: str = "auto",
        poll_seconds: float = POLL_SECONDS,
        runtime: str = "auto",
        query_model: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.cache = cache_dir(self.url)
        key = (self.url, device, runtime, query_model is None)
        with _started_lock:
            start = _started.pop(key, None)
        start = start or _ColdStart(self.url, self.cache, device, runtime, query_model is None)
        both: list[Future[Any]] = [start.folder, start.embedder]
        wait(both)  # the model loads while the snapshot downloads; neither is left running when one fails
        head = start.head.result()
        path, (embedder, prompts) = start.folder.result(), start.embedder.result()
        IndexDir(path).check_model(head.spec)
        self.version = head.pointer["version"]
        self._failure: _Failure | None = None
        self._problem: str | None = None  # the last problem logged, so that each is logged once
        super().__init__(
            path, device=device, poll_seconds=poll_seconds, runtime=runtime, embedder=embedder, query_model=query_model
        )
        with self.index() as index:
            mismatch = catalog_mismatch(index.catalog, index.vectors)
            if prompts is not None and not mismatch:
                index.calibration(prompts)
        if mismatch:
            self.close()
            raise SnapshotError(f"Cannot serve snapshot {self.version} of {self.url}: {mismatch}.")
        drop_cached(self.cache, {self.version})

    def refresh(self) -> bool:
        """Swaps to the snapshot the pointer names when it is another one; returns whether it did. What fails is
        logged here (once per problem), not raised: the snapshot in use goes on answering."""
        with self._refresh_lock:
            try:
                pointer = current(self.url)
            except ViewfinderError as error:
                self._report(f"{str(error).rstrip('.')}; still serving snapshot {self.version}")
                return False
            version = pointer["version"]
            if version == self.version:
                self._report(None)
                return False
            failure = self._failure if self._failure is not None and self._failure.pointer == pointer else None
            if failure is not None and time.monotonic() < failure.retry_at:
                return False
            try:
                fresh = self._open(pointer)
            except Exception as error:
                self._failed(pointer, failure.attempts + 1 if failure is not None else 1, error)
                return False
            previous, self.version = self.version, version
            self._failure = None
            self.index_dir = fresh.index_dir
            self._swap(fresh)
            self._report(None)
            drop_cached(self.cache, {self.version, previous})  # the previous one may still answer a request
            return True

    def _failed(self, pointer: dict[str, str], attempts: int, error: Exception) -> None:
        """Records a failed attempt at a snapshot and when to try it again, and reports it."""
        refused = isinstance(error, SnapshotError)  # for what it holds: trying again changes nothing
        backoff = min(RETRY_MAX_SECONDS, self.poll_seconds * 2.0 ** min(attempts - 1, 30))  # 1, 2, 4… polls
        self._failure = _Failure(pointer, attempts, float("inf") if refused else time.monotonic() + backoff)
        reason = str(error) if isinstance(error, ViewfinderError) else f"{type(error).__name__}: {error}"
        self._report(
            f"Cannot serve snapshot {pointer['version']} of {self.url}: {reason.rstrip('.')}; still serving snapshot "
            f"{self.version} {'until the pointer moves' if refused else 'and trying again'}"
        )

    def _open(self, pointer: dict[str, str]) -> Index:
        """The snapshot `pointer` names, downloaded, verified, opened and warmed up; not yet serving."""
        path = download(self.url, pointer, self.cache)
        with self.index() as index:
            # The same models, loaded once, while the snapshot's model is the same.
            fresh = Index(path, encoder=index.encoder)
        try:
            mismatch = catalog_mismatch(fresh.catalog, fresh.vectors)
            if mismatch:
                raise SnapshotError(mismatch)
            fresh.warm()  # and prove it answers, before any user sees it
        except BaseException:
            fresh.close()
            raise
        return fresh

    def _report(self, problem: str | None) -> None:
        """Logs a problem when it is not the one logged last, and that it is over when it is (None)."""
        if problem == self._problem:
            return
        if problem is not None:
            log.warning("%s.", problem)
        else:
            log.info("following %s again: serving snapshot %s", self.url, self.version)
        self._problem = problem

    def reindex(self) -> ReindexJob:
        raise ViewfinderError(
            f"This server follows the snapshots published at {self.url}; index and `viewfinder publish` elsewhere."
        )


def _loaded(head: _Head, device: str, runtime: str, text_tower: bool) -> _Loaded:
    """The index's model with its text tower loaded (runtimes load towers on first use), unless another
    model encodes the queries (--query-model); and the text vectors of its calibration prompts when the
    snapshot carries no calibration: encoded while the snapshot downloads, the calibration then takes a few
    ms of the cold start instead of the second the first query spent encoding them."""
    embedder = load_embedder(head.spec, device, runtime)
    if not text_tower:
        return embedder, None
    embedder.load_text_tower()
    if not head.calibrated:
        return embedder, prompt_vectors(embedder)
    # A first run sets up what the runtime and the tokenizer make on first use (its text cleaner's import alone
    # is ~0.15 s): here, while the snapshot downloads, instead of in the warm-up search after it.
    embedder.encode_texts(["a photo"])
    return embedder, None
