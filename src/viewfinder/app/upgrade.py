"""Changing an index's model without taking search down: `upgrade`, `rollback_model` and `abort_upgrade`.

An upgrade builds the new model's index beside the live one (store/staging.py: `.upgrade/` in the index
directory, a copy of the catalog with the new model's vectors), re-embedding every image the catalog holds,
each decoded once, batch by batch (pipeline/reembed.py), so a killed run resumes without embedding anything
twice. Meanwhile the live index stays as it was: servers answer from it and `viewfinder index` runs add to it.
At the end, under the writer lock, a last pass takes in what those runs changed; the vector index is chosen
and the relevance calibrated as `index` does; then the staged index is swapped in and the replaced one is
kept in `.previous/` for `rollback_model`. A server following the directory (`LiveIndex`) swaps to the new
model with no restart.
"""

from __future__ import annotations

import os
import shutil
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from viewfinder.app.index import Index
from viewfinder.errors import IndexMismatchError, ViewfinderError
from viewfinder.models.embedder import Embedder
from viewfinder.models.prompts import prompt_vectors
from viewfinder.models.query_registry import check_aligned, resolve_query_model
from viewfinder.models.registry import resolve_model
from viewfinder.pipeline.indexer import Progress, load_embedder_for
from viewfinder.pipeline.reembed import reembed
from viewfinder.settings import BATCH_SIZE
from viewfinder.store.indexdir import IndexDir
from viewfinder.store.staging import (
    PREVIOUS,
    STAGING,
    bytes_of,
    copy_catalog,
    finish_swap,
    swap,
    upgrade_lock,
    write_progress,
)

# The new vectors are written twice (the catalog's copy and the vector store), beside a copy of the catalog.
SPACE_MARGIN = 1.1


@dataclass
class UpgradeReport:
    """What `viewfinder upgrade` did (its --json shape)."""

    model: str  # the model the index has now
    previous_model: str  # the one kept for `--rollback`
    dim: int
    images: int  # in the upgraded index
    embedded: int = 0  # images the new model embedded in this run
    reused: int = 0  # vectors an interrupted earlier run had made, or given to a byte-identical copy
    dropped: list[dict[str, str]] = field(default_factory=list)  # images that could no longer be read
    seconds: float = 0.0
    images_per_second: float = 0.0  # embedded per second of the whole run


def upgrade(
    index_path: Path,
    model: str,
    device: str = "auto",
    runtime: str = "auto",
    batch_size: int = BATCH_SIZE,
    workers: int | None = None,
    progress: Progress | None = None,
    query_model: str | None = None,
    drop_query_model: bool = False,
) -> UpgradeReport:
    """Re-embeds the index at `index_path` with `model` beside the live one, then swaps it in; resumes an
    interrupted upgrade to the same model. `query_model` is the one servers of this index encode text with
    (--query-model): an upgrade that leaves it unaligned is refused unless `drop_query_model`."""
    started = time.perf_counter()
    if batch_size < 1:
        raise ViewfinderError("--batch-size must be at least 1.")
    index = Path(index_path).expanduser()
    live_dir, staging_dir = IndexDir(index), IndexDir(index / STAGING)
    spec = resolve_model(model)
    with upgrade_lock(index):
        with live_dir.writer_lock(wait=True):
            finish_swap(index)  # one a killed upgrade or rollback left half done
        live = live_dir.read_manifest()
        if spec.identity() == live.identity:
            raise ViewfinderError(f"{index} is already built with {live.model}; there is nothing to upgrade.")
        if staging_dir.exists() and staging_dir.read_manifest().identity != spec.identity():
            staged = staging_dir.read_manifest().model
            raise ViewfinderError(
                f"An upgrade of {index} to {staged} is half done; resume it with `viewfinder upgrade --model "
                f"{staged}`, or drop it with `viewfinder upgrade --abort`."
            )
        embedder = load_embedder_for(spec, device, runtime)
        _check_query_model(query_model, spec.name, embedder.dim, drop_query_model)
        _check_space(live_dir, staging_dir, embedder.dim)
        if not staging_dir.exists():
            staging_dir.create(spec, embedder.dim, live.store)
        tracker = _Tracker(index, spec.name, live.model, progress)
        report = UpgradeReport(spec.name, live.model, embedder.dim, 0)
        work = (embedder, batch_size, workers or max(2, os.cpu_count() or 2))
        report.reused += _pass(live_dir, staging_dir, work, tracker, report)
        tracker.state = "waiting for the writer"
        tracker.write()
        with live_dir.writer_lock(wait=True):
            tracker.state = "catching up"
            _pass(live_dir, staging_dir, work, tracker, report)  # what `index` runs changed meanwhile
            tracker.state = "choosing the vector index"
            tracker.write()
            report.images = _finish(staging_dir, embedder)
            swap(index, STAGING)
    report.seconds = round(time.perf_counter() - started, 3)
    report.images_per_second = round(report.embedded / report.seconds, 2) if report.seconds > 0 else 0.0
    return report


def rollback_model(index_path: Path) -> str:
    """Brings back the index an upgrade replaced (kept in `.previous/`), keeping the replacing one there in
    turn; returns the model the index has now."""
    index = Path(index_path).expanduser()
    with upgrade_lock(index), IndexDir(index).writer_lock(wait=True):
        finish_swap(index)
        if not IndexDir(index / PREVIOUS).exists():
            raise ViewfinderError(f"No earlier model is kept in {index}; there is nothing to roll back to.")
        swap(index, PREVIOUS)
        return IndexDir(index).read_manifest().model


def abort_upgrade(index_path: Path) -> str:
    """Drops a half-built upgrade (its staged index) and returns the model it was for."""
    index = Path(index_path).expanduser()
    staging = IndexDir(index / STAGING)
    with upgrade_lock(index):
        with IndexDir(index).writer_lock(wait=True):
            finish_swap(index)  # one stopped half way has moved part of the staged index already
        if not staging.path.exists():
            raise ViewfinderError(f"No upgrade of {index} is under way; there is nothing to abort.")
        model = staging.read_manifest().model if staging.exists() else "another model"
        shutil.rmtree(staging.path)
        return model


def _check_query_model(query_model: str | None, model: str, dim: int, drop: bool) -> None:
    """A query model is aligned with one image model: one that the new model leaves behind is said so."""
    if not query_model:
        return
    spec = resolve_query_model(query_model)
    try:
        check_aligned(spec, model, dim)
    except IndexMismatchError:
        if not drop:
            raise ViewfinderError(
                f"Query model {spec.name} is aligned with {spec.arch.aligned_model}, not {model}: after this "
                "upgrade it no longer applies; pass --drop-query-model to upgrade anyway (servers then encode "
                f"text with {model}), or upgrade to {spec.arch.aligned_model}."
            ) from None


def _check_space(live_dir: IndexDir, staging_dir: IndexDir, dim: int) -> None:
    """Refuses to start when the disk cannot hold the new index beside the live one."""
    with closing(live_dir.open_catalog(readonly=True)) as catalog:
        images = catalog.count()
    catalog_bytes = sum(
        path.stat().st_size
        for path in live_dir.path.glob("catalog.sqlite*")
        if path.is_file() and not path.name.endswith("-shm")
    )
    needed = int((catalog_bytes + 2 * images * dim * 4) * SPACE_MARGIN) - bytes_of(staging_dir.path)
    free = shutil.disk_usage(live_dir.path).free
    if needed > free:
        raise ViewfinderError(
            f"Upgrading {live_dir.path} needs about {_megabytes(needed)} free on its disk, and "
            f"{_megabytes(free)} is; free some space and run the upgrade again."
        )


def _megabytes(size: int) -> str:
    return f"{size / 2**20:,.1f} MB"


class _Tracker:
    """The upgrade's progress, written to the staging folder after each batch (`info`, /stats) and given to
    the front's progress bar."""

    def __init__(self, index: Path, model: str, previous: str, progress: Progress | None) -> None:
        self.index = index
        self.fields: dict[str, Any] = {"model": model, "from_model": previous, "started_at": time.time()}
        self.progress = progress
        self.state = "embedding"
        self.done = self.total = self.embedded = 0
        self.pass_started = time.perf_counter()
        self.pass_embedded = 0

    def start_pass(self, total: int, done: int) -> None:
        self.total, self.done = total, done
        self.pass_started, self.pass_embedded = time.perf_counter(), 0
        self.write()

    def advance(self, images: int, embedded: int) -> None:
        self.done += images
        self.embedded += embedded
        self.pass_embedded += embedded
        self.write()

    def write(self) -> None:
        elapsed = time.perf_counter() - self.pass_started
        rate = self.pass_embedded / elapsed if elapsed > 0 else 0.0
        remaining = max(self.total - self.done, 0)
        write_progress(
            self.index,
            {
                **self.fields,
                "state": self.state,
                "done": self.done,
                "total": self.total,
                "embedded": self.embedded,
                "images_per_second": round(rate, 2),
                "seconds_left": round(remaining / rate, 1) if rate > 0 else None,
                "updated_at": time.time(),
            },
        )
        if self.progress is not None:
            self.progress(self.done, self.total)


def _pass(
    live_dir: IndexDir,
    staging_dir: IndexDir,
    work: tuple[Embedder, int, int],
    tracker: _Tracker,
    report: UpgradeReport,
) -> int:
    """Brings the staged catalog in step with the live one and embeds what it lacks; returns how many vectors
    it carried over from before (an interrupted run's, or this run's first pass)."""
    kept = copy_catalog(live_dir.catalog_path, staging_dir.catalog_path)
    embedder, batch_size, workers = work
    with closing(staging_dir.open_catalog()) as catalog:
        tracker.start_pass(catalog.count(), kept)
        done = reembed(catalog, embedder, batch_size, workers, tracker.advance)
    report.embedded += done.embedded
    report.reused += done.copies
    report.dropped += done.dropped
    return kept


def _finish(staging_dir: IndexDir, embedder: Embedder) -> int:
    """Chooses and saves the staged index's vector store and calibrates its relevance; returns its images."""
    with closing(staging_dir.open_catalog()) as catalog:
        vectors = staging_dir.rebuild_vectors(
            catalog, staging_dir.read_manifest(), None, queries=lambda: prompt_vectors(embedder)
        )
        staging_dir.save_vectors(vectors, catalog.generation())
        images = catalog.count()
    if images:
        with Index(staging_dir.path, embedder=embedder) as staged:
            staged.calibration()
    return images
