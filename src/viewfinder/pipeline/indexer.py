"""The indexing pipeline: scan sources, work out what changed, decode and embed in overlapped batches,
commit each batch to the catalog, and bring the FAISS index up to date."""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from viewfinder.errors import ViewfinderError
from viewfinder.images.decode import DecodedImage
from viewfinder.models import factory
from viewfinder.models.embedder import Embedder
from viewfinder.models.prompts import prompt_vectors
from viewfinder.models.registry import DEFAULT_MODEL, ModelSpec, resolve_model
from viewfinder.pipeline.reading import Reader, decode_ahead
from viewfinder.pipeline.reuse import hash_files, missing_roots, resolve
from viewfinder.sources import FolderSource, Source, SourceFile, Unusable, is_remote, open_source
from viewfinder.store.catalog import Catalog, FileState, NewImage
from viewfinder.store.factory import apply_changes, normalise_store
from viewfinder.store.indexdir import IndexDir
from viewfinder.store.vector_store import Queries, VectorStore

DEFAULT_BATCH_SIZE = 32
ENGINES = ("local", "ray")
REMOTE_WORKERS = 8  # concurrent GETs for a remote source: network-bound, so more than the cores
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
    reused: int = 0  # added or updated with a stored vector found by content hash (no model call)
    # recorded source folders that no longer exist: {"source", "images", "removed"}; one whose images
    # turned up elsewhere (a renamed folder) is removed, one that merely vanished (an unplugged disk) is kept
    missing_sources: list[dict] = field(default_factory=list)


@dataclass
class ChangePlan:
    """The difference between what the sources hold and what the catalog has."""

    to_embed: list[tuple[SourceFile, int | None]] = field(default_factory=list)  # (file, id it replaces)
    to_check: list[tuple[SourceFile, FileState]] = field(default_factory=list)  # same size and mtime, new inode/ctime
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
            if (known.inode, known.ctime_ns) == (item.inode, item.ctime_ns):
                plan.unchanged += 1
            else:  # replaced in place or just touched: the content hash decides
                plan.to_check.append((item, known))
            continue
        failed = skipped.get(item.path)
        if known is None and failed is not None and (failed.size, failed.mtime_ns) == (item.size, item.mtime_ns):
            plan.still_skipped.append((item.path, failed.reason or "unreadable"))
            continue
        plan.to_embed.append((item, None if known is None else known.id))
    prefixes = tuple(_as_prefix(root) for root in roots)
    plan.removed_ids += [state.id for path, state in indexed.items() if path.startswith(prefixes) and path not in seen]
    plan.forget_skipped = [path for path in skipped if path.startswith(prefixes) and path not in seen]
    return plan


def _as_prefix(root: str) -> str:
    """What every key under a root starts with: the root and its separator ('/' for a URL)."""
    separator = "/" if "://" in root else os.sep
    return root.rstrip(separator) + separator


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
    engine: str = "local",
    ray_address: str | None = None,
    store: str | None = None,
) -> IndexReport:
    """Brings an index up to date with its source folders; returns what was done.

    `embedder` is a model already loaded (the server's), used when it is the index's model. `engine` "ray"
    decodes and embeds on a Ray cluster (`ray_address`, else a local one); commits stay here either way.
    `store` (faiss, milvus or milvus:URI) chooses the vector store of a new index; an existing one keeps its own.
    """
    started = time.perf_counter()
    if batch_size < 1:
        raise ViewfinderError("--batch-size must be at least 1.")
    if engine not in ENGINES:
        raise ViewfinderError(f"Unknown engine {engine!r}; use one of {', '.join(ENGINES)}.")
    index_dir = IndexDir(index_path)
    gone = [root for root in roots if not is_remote(root) and not Path(root).expanduser().is_dir()]
    if gone and index_dir.exists():
        raise ViewfinderError(
            f"Source folder {gone[0]} does not exist. If it was renamed or moved, index its new location (its "
            f"photos are found again without re-embedding); to drop it, run `viewfinder remove {gone[0]}`."
        )
    sources = _outermost([open_source(root) for root in roots])
    with index_dir.writer_lock():
        manifest = index_dir.read_manifest() if index_dir.exists() else None
        spec = resolve_model(model or (manifest.model if manifest else DEFAULT_MODEL))
        if embedder is not None and embedder.spec.identity() != spec.identity():
            embedder = None  # another model than this index's: load the right one when it is needed
        if manifest is not None:
            index_dir.check_model(spec)
            if store is not None and normalise_store(store, index_dir.path) != manifest.store:
                raise ViewfinderError(
                    f"{index_dir.path} keeps its vectors in {manifest.store}; --store applies when an index is created."
                )
        else:
            # A new index needs the model's dimension; loading it first means a model that cannot be
            # loaded leaves no half-made index behind.
            embedder = embedder or load_embedder_for(spec, device, runtime)
            manifest = index_dir.create(spec, embedder.dim, store)
        loaded = [embedder]

        def load() -> Embedder:
            if loaded[0] is None:
                loaded[0] = load_embedder_for(spec, device, runtime)
            return loaded[0]

        ray_embed = None
        if engine == "ray":
            from viewfinder.pipeline.ray_engine import embed_stream

            def ray_embed(work: list, thumbnails: dict[str, bytes]) -> Iterator:
                return embed_stream(work, spec.name, device, runtime, batch_size, ray_address, thumbnails)

        catalog = index_dir.open_catalog()
        try:
            report = _index_into(
                index_dir, catalog, sources, manifest.dim, batch_size, workers, progress, load, ray_embed
            )
        except (sqlite3.OperationalError, OSError, RuntimeError) as error:
            # SQLite says "database or disk is full"; FAISS's writer a RuntimeError naming strerror(ENOSPC).
            full = "full" in str(error) or os.strerror(errno.ENOSPC) in str(error)
            if not full and getattr(error, "errno", None) != errno.ENOSPC:
                raise
            raise ViewfinderError(
                f"The disk holding {index_dir.path} is full ({error}); the images committed so far stay "
                "searchable: free some space and run `viewfinder index` again to resume."
            ) from error
        finally:
            catalog.close()
    report.seconds = round(time.perf_counter() - started, 3)
    embedded = report.added + report.updated - report.reused
    report.images_per_second = round(embedded / report.seconds, 2) if report.seconds > 0 else 0.0
    return report


def _index_into(
    index_dir: IndexDir,
    catalog: Catalog,
    sources: Sequence[Source],
    dim: int,
    batch_size: int,
    workers: int | None,
    progress: Progress | None,
    load: Callable[[], Embedder],
    ray_embed: Callable[[list, dict[str, bytes]], Iterator] | None = None,
) -> IndexReport:
    """One run against an open catalog: moves and copies first (one transaction, no model), then embedding."""
    roots = [s.root for s in sources]
    catalog.add_sources(roots)
    found = [item for source in sources for item in source.scan(exclude=str(index_dir.path.resolve()))]
    plan = plan_changes(found, catalog.indexed_states(), catalog.skipped_states(), roots)
    opened = {source.root: source for source in sources}
    remote = {root: source for root, source in opened.items() if not isinstance(source, FolderSource)}
    workers = workers or (REMOTE_WORKERS if remote else max(2, os.cpu_count() or 2))
    candidates = [item for item, _ in plan.to_check] + [item for item, _ in plan.to_embed]
    hashes = hash_files(
        [item for item in candidates if item.root not in remote],
        lambda item: opened[item.root].open(item.path),
        workers,
    )
    # An object store's ETag already names the content: moved or copied objects match without a download.
    hashes |= {item.path: f"etag-{item.mtime_ns:x}" for item in candidates if item.root in remote}
    reuse = resolve(plan.to_check, plan.to_embed, hashes, catalog, dim)
    report = IndexReport(unchanged=plan.unchanged + len(reuse.restats), reused=len(reuse.images))
    removed_ids, forget_skipped, forget_sources = list(plan.removed_ids), list(plan.forget_skipped), []
    for root in missing_roots(catalog.roots(), roots):
        ids = catalog.ids_under(root)
        moved = root in reuse.from_roots  # its photos turned up here: a rename, not an unplugged drive
        report.missing_sources.append({"source": root, "images": len(ids), "removed": moved})
        if moved:
            removed_ids, forget_skipped = removed_ids + ids, forget_skipped + catalog.skipped_under(root)
            forget_sources.append(root)
    saved = index_dir.saved_vectors(catalog, index_dir.read_manifest())
    start_generation = catalog.generation()
    added_ids: list[np.ndarray] = []
    added_vectors: list[np.ndarray] = []
    if removed_ids or plan.newly_unusable or forget_skipped or reuse.restats or reuse.images or forget_sources:
        ids = catalog.commit_batch(
            images=reuse.images,
            skipped=[(u.path, u.root, None, None, u.reason) for u in plan.newly_unusable],
            removed_ids=removed_ids,
            forget_skipped=forget_skipped,
            restats=reuse.restats,
            forget_sources=forget_sources,
        )
        if reuse.images:
            added_ids.append(np.asarray(ids, np.int64))
            added_vectors.append(np.stack([image.vector for image in reuse.images]))
    replaced = sum(1 for image in reuse.images if image.id is not None)
    report.removed, report.updated, report.added = len(removed_ids), replaced, len(reuse.images) - replaced
    report.skipped = [{"path": u.path, "reason": u.reason} for u in plan.newly_unusable]
    report.skipped += [{"path": path, "reason": reason} for path, reason in plan.still_skipped]
    reader = Reader(remote, index_dir.path)
    if reuse.to_embed:
        if ray_embed is not None:
            stream = ray_embed(reuse.to_embed, reader.thumbnails)
        else:
            stream = _embed_all(reuse.to_embed, load(), batch_size, workers, reader)
        committed = _commit_all(stream, catalog, len(reuse.to_embed), progress, hashes, reader)
        for ids, vectors, failures, replaced in committed:
            added_ids.append(ids)
            added_vectors.append(vectors)
            report.updated += replaced
            report.added += len(ids) - replaced
            report.skipped += failures
    if remote:
        reader.make_missing_thumbnails(catalog, workers)
    update_vectors(
        index_dir,
        catalog,
        dim,
        saved,
        start_generation,
        removed_ids,
        added_ids,
        added_vectors,
        queries=lambda: prompt_vectors(load()),
    )
    report.total = catalog.count()
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


def load_embedder_for(spec: ModelSpec, device: str, runtime: str) -> Embedder:
    if runtime == "auto" and device == "auto":
        # A GPU embeds with torch; on a CPU the ONNX runtime is the faster one (BENCHMARKS.md).
        device = "cuda" if factory.cuda_available() else "cpu"
    # Indexing runs the image tower only; on a CPU its int8 version is the faster one at the same ranking.
    return factory.load_embedder(spec, device, runtime, auto_int8=True)


def _embed_all(
    work: list[tuple[SourceFile, int | None]],
    embedder: Embedder,
    batch_size: int,
    workers: int,
    reader: Reader,
) -> Iterator[tuple[list, np.ndarray, list[tuple[str, str, int, int, str]]]]:
    """Decodes on worker threads while the model embeds the previous batch; yields (images, vectors, skipped).

    Pillow releases the GIL while decoding and resizing, and torch while computing, so threads overlap.
    At most two batches of decoded pixels are held in memory.
    """
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode") as pool:
        # The model loads on one thread while the others decode the first batch, instead of before it.
        pool.submit(embedder.load_image_tower)
        for batch in _batched(decode_ahead(pool, work, reader, embedder.preprocess, 2 * batch_size), batch_size):
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
            yield images, vectors, skipped


def _commit_all(
    stream: Iterable[tuple[list, np.ndarray, list[tuple[str, str, int, int, str]]]],
    catalog: Catalog,
    total: int,
    progress: Progress | None,
    hashes: dict[str, str],
    reader: Reader,
) -> Iterator[tuple[np.ndarray, np.ndarray, list[dict[str, str]], int]]:
    """Commits each embedded batch to the catalog as one transaction, so a killed run keeps every batch it
    finished; yields (ids, vectors, failures, replaced) per batch. Either engine's stream feeds it."""
    done = 0
    for images, vectors, skipped in stream:
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
                content_hash=hashes.get(source.path),
                inode=source.inode,
                ctime_ns=source.ctime_ns,
            )
            for (source, replaces, decoded), vector in zip(images, vectors, strict=True)
        ]
        ids = catalog.commit_batch(images=new_images, skipped=skipped)
        reader.store_thumbnails(zip(ids, (source for source, _, _ in images), strict=True))
        done += len(images) + len(skipped)
        if progress:
            progress(done, total)
        replaced = sum(1 for _, replaces, _ in images if replaces is not None)
        failures = [{"path": path, "reason": reason} for path, _, _, _, reason in skipped]
        yield np.asarray(ids, dtype=np.int64), vectors, failures, replaced


def _batched(items: Iterable, size: int) -> Iterator[list]:
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def update_vectors(
    index_dir: IndexDir,
    catalog: Catalog,
    dim: int,
    saved: tuple[VectorStore, int | None] | None,
    start_generation: int,
    removed: list[int],
    added_ids: list[np.ndarray],
    added_vectors: list[np.ndarray],
    queries: Queries = None,
) -> None:
    """Saves the vector store for the catalog's new generation: updated in place when the saved one was
    current before this run, else rebuilt or repaired from the catalog (first run, or after an interrupted one).
    A FAISS (re)build chooses the index by measuring on `queries`: the model's text queries."""
    generation = catalog.generation()
    if saved is not None and saved[1] == generation:
        return
    if saved is not None and saved[1] == start_generation and saved[0].dim == dim:
        ids = np.concatenate(added_ids) if added_ids else np.empty(0, np.int64)
        vectors = np.concatenate(added_vectors) if added_vectors else np.empty((0, dim), np.float32)
        updated = apply_changes(saved[0], catalog, np.asarray(removed, np.int64), ids, vectors, queries)
    else:
        updated = index_dir.rebuild_vectors(catalog, index_dir.read_manifest(), saved, queries)
    index_dir.save_vectors(updated, generation)
