"""The write side of an index: bring it up to date with its sources, remove sources, check and repair it,
publish snapshots, follow folders, and make the sample library. Each is one call a front makes; an index
that does not exist yet is created by `update`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from viewfinder.models.embedder import Embedder
from viewfinder.models.registry import resolve_model
from viewfinder.pipeline.indexer import IndexReport, Progress, load_embedder_for, run_index
from viewfinder.pipeline.maintenance import RemoveReport, remove_sources
from viewfinder.pipeline.review import ReviewReport, UndoReport, undo_review
from viewfinder.pipeline.review import move_to_review as _move_to_review
from viewfinder.pipeline.watch import FolderWatcher
from viewfinder.settings import BATCH_SIZE, RECONCILE_SECONDS
from viewfinder.sources import IMAGE_SUFFIXES, is_object_store_url
from viewfinder.store import snapshots
from viewfinder.store.check import CheckReport, check_index
from viewfinder.store.indexdir import IndexDir, default_index_path

__all__ = [
    "IMAGE_SUFFIXES",
    "check",
    "default_index_path",
    "default_review_folder",
    "is_object_store_url",
    "make_sample",
    "move_to_review",
    "publish",
    "remove",
    "rollback",
    "undo_move_to_review",
    "update",
    "use_s3_endpoint",
    "watch",
]


def use_s3_endpoint(url: str | None) -> None:
    """Every S3 client of this process talks to `url` (an S3-compatible store), else $AWS_ENDPOINT_URL."""
    from viewfinder.sources.s3 import use_endpoint

    use_endpoint(url)


def update(
    index_path: Path,
    sources: Sequence[str],
    model: str | None = None,
    device: str = "auto",
    runtime: str = "auto",
    engine: str = "local",
    store: str | None = None,
    batch_size: int = BATCH_SIZE,
    workers: int | None = None,
    ray_address: str | None = None,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
    ocr: bool = False,
) -> IndexReport:
    """Brings an index up to date with its sources (folders or s3:// prefixes), creating it with `model` when
    new; `embedder` is a model already loaded (a server's), used when it is the index's model. `ocr` reads the
    words in the photos too, in this run and every later one (a quoted phrase in a search then finds them)."""
    return run_index(
        Path(index_path).expanduser(),
        [str(source) for source in sources],
        model=model,
        device=device,
        batch_size=batch_size,
        workers=workers,
        progress=progress,
        embedder=embedder,
        runtime=runtime,
        engine=engine,
        ray_address=ray_address,
        store=store,
        ocr=ocr,
    )


def remove(index_path: Path, sources: Sequence[str]) -> RemoveReport:
    """Drops the images of these sources from the index (also when the folder is gone)."""
    return remove_sources(Path(index_path), sources)


def move_to_review(
    index_path: Path, image_ids: Sequence[int], review_folder: Path, dry_run: bool = False
) -> ReviewReport:
    """Moves these images' files to `review_folder` (local sources only), taking them out of the index and
    journalling the move so it can be undone; changed or missing files are skipped with their reason."""
    return _move_to_review(Path(index_path), image_ids, review_folder, dry_run)


def undo_move_to_review(index_path: Path) -> UndoReport:
    """Moves the files of the latest move to a review folder back and indexes them again, without the model."""
    return undo_review(Path(index_path))


def default_review_folder(index_path: Path) -> Path:
    """Where a server moves the duplicates its page resolves when no review folder is set: beside the index."""
    return Path(index_path).expanduser().resolve().parent / "viewfinder-review"


def check(index_path: Path, repair: bool = False) -> CheckReport:
    """Verifies the index's files; `repair` upgrades and rebuilds what it can from the catalog."""
    return check_index(IndexDir(Path(index_path)), repair=repair)


def publish(index_path: Path, to: str, keep: int | None = None, thumbnails: bool = True) -> str:
    """Uploads a snapshot of the index to `to` (s3://…) and makes it current; returns its version."""
    return snapshots.publish(Path(index_path), to, keep=keep, thumbnails=thumbnails)


def rollback(url: str, to: str | None = None) -> str:
    """Points the published index at an earlier snapshot (`to`, else the one before); returns its version."""
    return snapshots.rollback(url, to)


def watch(
    index_path: Path,
    sources: Sequence[str],
    on_update: Callable[[IndexReport], None],
    on_error: Callable[[Exception], None],
    device: str = "auto",
    runtime: str = "auto",
    reconcile_seconds: float = RECONCILE_SECONDS,
) -> FolderWatcher:
    """A watcher (not started) that updates the index when photos under `sources` change, with one model
    loaded once for every run; the index must exist (run `update` first)."""
    spec = resolve_model(IndexDir(Path(index_path)).read_manifest().model)
    embedder = load_embedder_for(spec, device, runtime)

    def changed() -> None:
        on_update(run_index(Path(index_path), list(sources), embedder=embedder, device=device, runtime=runtime))

    return FolderWatcher(list(sources), changed, on_error=on_error, reconcile_seconds=reconcile_seconds)


def make_sample(folder: Path, count: int, seed: int) -> int:
    """Writes a generated library of shapes pictures with their captions (for the test models and the demo);
    returns how many pictures it wrote."""
    from viewfinder.images.synthetic import generate_library

    return len(generate_library(Path(folder), count, seed=seed))
