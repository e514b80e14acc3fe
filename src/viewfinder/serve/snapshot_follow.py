"""Serving a snapshot published to S3 (`viewfinder serve --index s3://bucket/indexes/NAME`): the current snapshot
is downloaded and verified into a local cache, and the pointer is polled; a newer (or rolled back) snapshot is
downloaded, verified and opened beside the one in use, then swapped in the way `live` swaps a local index, so
requests in flight finish on the generation they started with and none fails.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from viewfinder.app.index import Index
from viewfinder.app.jobs import ReindexJob
from viewfinder.app.live import POLL_SECONDS, LiveIndex
from viewfinder.errors import ViewfinderError
from viewfinder.models.embedder import Embedder
from viewfinder.models.factory import load_embedder
from viewfinder.models.registry import ModelSpec, resolve_model
from viewfinder.store.indexdir import IndexDir
from viewfinder.store.snapshots import cache_dir, current, download, drop_cached, manifest_model

log = logging.getLogger(__name__)


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
        pointer = current(self.url)
        # The text encoder loads while the snapshot downloads, so a cold start takes the longer of the two, not
        # their sum; the model is the one the snapshot's manifest names, checked again once it is verified.
        with ThreadPoolExecutor(1) as pool:
            spec = resolve_model(manifest_model(self.url, pointer))
            loading = pool.submit(_loaded, spec, device, runtime, query_model is None)
            path = download(self.url, pointer, self.cache)
            embedder = loading.result()
        IndexDir(path).check_model(spec)
        self.version = pointer["version"]
        self._failed_version: str | None = None
        super().__init__(
            path, device=device, poll_seconds=poll_seconds, runtime=runtime, embedder=embedder, query_model=query_model
        )
        drop_cached(self.cache, {self.version})

    def refresh(self) -> bool:
        """Swaps to the snapshot the pointer names when it is another one; returns whether it did."""
        with self._refresh_lock:
            pointer = current(self.url)
            if pointer["version"] in (self.version, self._failed_version):
                return False
            try:
                path = download(self.url, pointer, self.cache)
                with self.index() as index:
                    # The same models, loaded once, while the snapshot's model is the same.
                    fresh = Index(path, encoder=index.encoder)
                fresh.warm()  # and prove it answers, before any user sees it
            except Exception:
                self._failed_version = pointer["version"]  # logged once, tried again when the pointer moves
                raise
            previous, self.version = self.version, pointer["version"]
            self.index_dir = fresh.index_dir
            self._swap(fresh)
            drop_cached(self.cache, {self.version, previous})  # the previous one may still answer a request
            return True

    def reindex(self) -> ReindexJob:
        raise ViewfinderError(
            f"This server follows the snapshots published at {self.url}; index and `viewfinder publish` elsewhere."
        )


def _loaded(spec: ModelSpec, device: str, runtime: str, text_tower: bool) -> Embedder:
    """The index's model with its text tower loaded (runtimes load towers on first use), unless another
    model encodes the queries (--query-model)."""
    embedder = load_embedder(spec, device, runtime)
    if text_tower:
        embedder.load_text_tower()
    return embedder
