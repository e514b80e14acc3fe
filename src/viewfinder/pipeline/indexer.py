"""The indexing pipeline: scan sources, work out what changed, decode and embed in overlapped batches,
commit each batch to the catalog, and bring the FAISS index up to date."""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from viewfinder.errors import ViewfinderError
from viewfinder.images.decode import DecodedImage, DecodeError, PreprocessSpec, decode_image
from viewfinder.models import factory
from viewfinder.models.embedder import Embedder
from viewfinder.models.registry import DEFAULT_MODEL, ModelSpec, resolve_model
from viewfinder.sources import Source, SourceFile, Unusable, open_source
from viewfinder.store.catalog import Catalog, FileState, NewImage
from viewfinder.store.faiss_index import VectorIndex
from viewfinder.store.indexdir import IndexDir, apply_changes, rebuild_from_catalog

DEFAULT_BATCH_SIZE = 32
Progress = Callable[[int, int], None]

log = logging.getLogger(__name__)


@dataclass
class IndexReport:
    """What one `viewfinder index` run did (the contract's --json shape)."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    total: int = 0
    seconds: float = 0.0
    images_per_second: float = 0.0


@dataclass
class ChangePlan:
    """The difference between what the sources hold and what the catalog has."""

    to_embed: list[tuple[SourceFile, int | None]] = field(default_factory=list)  # (file, id it replaces)
    removed_ids: list[int] = field(default_factory=list)
    unchanged: int = 0
    still_skipped: list[tuple[str, str]] = field(default_factory=list)  # unchanged files that failed before
    newly_unusable: list[Unusable] = field(default_factory=list)
    forget_skipped: list[str] = field(default_factory=list)


def plan_changes(
    found: Iterable[SourceFile | Unusable],
    indexed: dict[str, FileState],
    skipped: dict[str, FileState],
    roots: Sequence[str],
) -> ChangePlan:
    """Compares a scan with the catalog: new and changed files to embed, vanished ones to remove.

    Only catalog paths under the scanned roots can be removed, so indexing another folder into the same
    index leaves the first one alone.
    """
    plan = ChangePlan()
    seen: set[str] = set()
    for item in found:
        if item.path in seen:  # overlapping roots find a file twice
            continue
        seen.add(item.path)
        if isinstance(item, Unusable):
            plan.newly_unusable.append(item)
            if item.path in indexed:
                plan.removed_ids.append(indexed[item.path].id)
            continue
        known = indexed.get(item.path)
        if known is not None and (known.size, known.mtime_ns) == (item.size, item.mtime_ns):
            plan.unchanged += 1
            continue
        failed = skipped.get(item.path)
        if known is None and failed is not None and (failed.size, failed.mtime_ns) == (item.size, item.mtime_ns):
            plan.still_skipped.append((item.path, failed.reason or "unreadable"))
            continue
        plan.to_embed.append((item, None if known is None else known.id))
    prefixes = tuple(root.rstrip(os.sep) + os.sep for root in roots)
    plan.removed_ids += [state.id for path, state in indexed.items() if path.startswith(prefixes) and path not in seen]
    plan.forget_skipped = [path for path in skipped if path.startswith(prefixes) and path not in seen]
    return plan


def run_index(
    index_path: Path,
    roots: Sequence[str],
    model: str | None = None,
    device: str = "auto",
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int | None = None,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
    runtime: str = "auto",
) -> IndexReport:
    """Brings an index up to date with its source folders; returns what was done.

    `embedder` is a model already loaded (the server's), used when it is the index's model.
    """
    started = time.perf_counter()
    if batch_size < 1:
        raise ViewfinderError("--batch-size must be at least 1.")
    sources = _outermost([open_source(root) for root in roots])
    index_dir = IndexDir(index_path)
    with index_dir.writer_lock():
        manifest = index_dir.read_manifest() if index_dir.exists() else None
        spec = resolve_model(model or (manifest.model if manifest else DEFAULT_MODEL))
        if embedder is not None and embedder.spec.identity() != spec.identity():
            embedder = None  # another model than this index's: load the right one when it is needed
        if manifest is not None:
            index_dir.check_model(spec)
        else:
            # A new index needs the model's dimension; loading it first means a model that cannot be
            # loaded leaves no half-made index behind.
            embedder = embedder or _load_embedder(spec, device, runtime)
            manifest = index_dir.create(spec, embedder.dim)
        catalog = index_dir.open_catalog()
        try:
            found = [item for source in sources for item in source.scan(exclude=str(index_dir.path.resolve()))]
            plan = plan_changes(found, catalog.indexed_states(), catalog.skipped_states(), [s.root for s in sources])
            saved = VectorIndex.load(index_dir.path)
            start_generation = catalog.generation()
            if plan.removed_ids or plan.newly_unusable or plan.forget_skipped:
                catalog.commit_batch(
                    skipped=[(u.path, u.root, None, None, u.reason) for u in plan.newly_unusable],
                    removed_ids=plan.removed_ids,
                    forget_skipped=plan.forget_skipped,
                )
            report = IndexReport(removed=len(plan.removed_ids), unchanged=plan.unchanged)
            report.skipped = [{"path": u.path, "reason": u.reason} for u in plan.newly_unusable]
            report.skipped += [{"path": path, "reason": reason} for path, reason in plan.still_skipped]
            added_ids: list[np.ndarray] = []
            added_vectors: list[np.ndarray] = []
            dim = manifest.dim
            if plan.to_embed:
                embedder = embedder or _load_embedder(spec, device, runtime)
                for ids, vectors, failures, replaced in _embed_all(
                    plan.to_embed, embedder, catalog, batch_size, workers, progress
                ):
                    added_ids.append(ids)
                    added_vectors.append(vectors)
                    report.updated += replaced
                    report.added += len(ids) - replaced
                    report.skipped += failures
            _update_vectors(
                index_dir, catalog, dim, saved, start_generation, plan.removed_ids, added_ids, added_vectors
            )
            report.total = catalog.count()
        finally:
            catalog.close()
    report.seconds = round(time.perf_counter() - started, 3)
    embedded = report.added + report.updated
    report.images_per_second = round(embedded / report.seconds, 2) if report.seconds > 0 else 0.0
    return report


def _outermost(sources: list[Source]) -> list[Source]:
    """The sources not inside another one given, each once: a folder given with its parent is indexed under
    the parent, so its images' folder (and the folder filter) is the same as when the parent alone is given."""
    roots = {source.root.rstrip(os.sep) + os.sep for source in sources}
    kept: dict[str, Source] = {}
    for source in sources:
        own = source.root.rstrip(os.sep) + os.sep
        if own not in kept and not any(own.startswith(root) and own != root for root in roots):
            kept[own] = source
    return list(kept.values())


def _load_embedder(spec: ModelSpec, device: str, runtime: str) -> Embedder:
    if runtime == "auto" and device == "auto":
        # A GPU embeds with torch; on a CPU the ONNX runtime is the faster one (BENCHMARKS.md).
        device = "cuda" if factory.cuda_available() else "cpu"
    return factory.load_embedder(spec, device, runtime)


def _embed_all(
    work: list[tuple[SourceFile, int | None]],
    embedder: Embedder,
    catalog: Catalog,
    batch_size: int,
    workers: int | None,
    progress: Progress | None,
) -> Iterator[tuple[np.ndarray, np.ndarray, list[dict[str, str]], int]]:
    """Decodes on worker threads while the model embeds the previous batch; commits one batch at a time.

    Pillow releases the GIL while decoding and resizing, and torch while computing, so threads overlap.
    At most two batches of decoded pixels are held in memory.
    """
    done = 0
    workers = workers or max(2, os.cpu_count() or 2)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode") as pool:
        for batch in _batched(_decode_ahead(pool, work, embedder.preprocess, 2 * batch_size), batch_size):
            images: list[tuple[SourceFile, int | None, DecodedImage]] = []
            skipped: list[tuple[str, str, int, int, str]] = []
            for (source, replaces), outcome in batch:
                if isinstance(outcome, DecodedImage):
                    images.append((source, replaces, outcome))
                else:
                    skipped.append((source.path, source.root, source.size, source.mtime_ns, outcome))
            vectors = np.empty((0, embedder.dim), np.float32)
            if images:
                vectors = embedder.encode_images(np.stack([decoded.pixels for _, _, decoded in images]))
            new_images = [
                NewImage(
                    path=source.path,
                    root=source.root,
                    size=source.size,
                    mtime_ns=source.mtime_ns,
                    width=decoded.width,
                    height=decoded.height,
                    format=decoded.format,
                    taken_at=decoded.taken_at,
                    vector=vector,
                    id=replaces,
                )
                for (source, replaces, decoded), vector in zip(images, vectors, strict=True)
            ]
            ids = catalog.commit_batch(images=new_images, skipped=skipped)
            done += len(batch)
            if progress:
                progress(done, len(work))
            replaced = sum(1 for _, replaces, _ in images if replaces is not None)
            failures = [{"path": path, "reason": reason} for path, _, _, _, reason in skipped]
            yield np.asarray(ids, dtype=np.int64), vectors, failures, replaced


def _decode_ahead(pool: ThreadPoolExecutor, work: list, preprocess: PreprocessSpec, ahead: int) -> Iterator:
    """Yields (item, DecodedImage or reason) in order, keeping at most `ahead` decodes in flight."""
    pending: deque[tuple[object, Future]] = deque()
    items = iter(work)
    for item in items:
        pending.append((item, pool.submit(_decode_or_reason, item[0].path, preprocess)))
        if len(pending) >= ahead:
            break
    while pending:
        item, future = pending.popleft()
        next_item = next(items, None)
        if next_item is not None:
            pending.append((next_item, pool.submit(_decode_or_reason, next_item[0].path, preprocess)))
        yield item, future.result()


def _decode_or_reason(path: str, preprocess: PreprocessSpec) -> DecodedImage | str:
    """Decodes one file, or says why it cannot be used: one file never stops the run."""
    try:
        return decode_image(path, preprocess)
    except DecodeError as error:
        return str(error)
    except Exception as error:  # whatever a crafted file makes a decoder raise
        # Logged with its traceback, since a bug in decode would land here too.
        log.warning("unexpected error decoding %s", path, exc_info=error)
        detail = " ".join(str(error).split())
        return f"cannot be decoded ({type(error).__name__}{': ' + detail if detail else ''})"


def _batched(items: Iterable, size: int) -> Iterator[list]:
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _update_vectors(
    index_dir: IndexDir,
    catalog: Catalog,
    dim: int,
    saved: tuple[VectorIndex, int] | None,
    start_generation: int,
    removed: list[int],
    added_ids: list[np.ndarray],
    added_vectors: list[np.ndarray],
) -> None:
    """Saves a FAISS index for the catalog's new generation: updated in place when the saved one was
    current before this run, else rebuilt from the catalog (first run, or after an interrupted one)."""
    generation = catalog.generation()
    if saved is not None and saved[1] == generation:
        return
    if saved is not None and saved[1] == start_generation and saved[0].dim == dim:
        ids = np.concatenate(added_ids) if added_ids else np.empty(0, np.int64)
        vectors = np.concatenate(added_vectors) if added_vectors else np.empty((0, dim), np.float32)
        updated = apply_changes(saved[0], catalog, dim, np.asarray(removed, np.int64), ids, vectors)
    else:
        updated = rebuild_from_catalog(catalog, dim)
    index_dir.save_vectors(updated, generation)
