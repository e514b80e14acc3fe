"""The indexing pipeline: scan sources, work out what changed, decode and embed in overlapped batches,
commit each batch to the catalog, and bring the FAISS index up to date."""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np

from viewfinder.errors import ViewfinderError, full_disk_cause
from viewfinder.images.ocr import require_ocr
from viewfinder.models import factory
from viewfinder.models.embedder import Embedder
from viewfinder.models.prompts import prompt_vectors
from viewfinder.models.registry import DEFAULT_MODEL, ModelSpec, resolve_model
from viewfinder.pipeline.changes import plan_changes
from viewfinder.pipeline.reading import Thumbnails, decode_ahead
from viewfinder.pipeline.records import Decoded, EmbeddedBatch, PlannedFile, Reason, Skip, new_image
from viewfinder.pipeline.reuse import hash_files, missing_roots, resolve
from viewfinder.pipeline.words import ReadWords, read_all_words, read_here
from viewfinder.settings import BATCH_SIZE, ENGINES
from viewfinder.sources import Source, open_source, source_for
from viewfinder.store.catalog import Catalog
from viewfinder.store.factory import apply_changes, normalise_store
from viewfinder.store.indexdir import IndexDir
from viewfinder.store.vector_store import Queries, VectorStore

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
    # `index --ocr` (kept by later runs): contents whose words were read, and photos OCR could not decode
    words_read: int = 0
    words_skipped: list[dict[str, str]] = field(default_factory=list)


def run_index(
    index_path: Path,
    roots: Sequence[str],
    model: str | None = None,
    device: str = "auto",
    batch_size: int = BATCH_SIZE,
    workers: int | None = None,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
    runtime: str = "auto",
    engine: str = "local",
    ray_address: str | None = None,
    store: str | None = None,
    ocr: bool = False,
) -> IndexReport:
    """Brings an index up to date with its source folders; returns what was done.

    `embedder` is a model already loaded (the server's), used when it is the index's model. `engine` "ray"
    decodes and embeds on a Ray cluster (`ray_address`, else a local one); commits stay here either way.
    `store` (faiss, milvus or milvus:URI) chooses the vector store of a new index; an existing one keeps its own.
    `ocr` reads the words in the photos too (pipeline.words), and is recorded so that later runs keep doing it.
    """
    started = time.perf_counter()
    if batch_size < 1:
        raise ViewfinderError("--batch-size must be at least 1.")
    if engine not in ENGINES:
        raise ViewfinderError(f"Unknown engine {engine!r}; use one of {', '.join(ENGINES)}.")
    if engine == "ray":
        from viewfinder.pipeline.ray_engine import import_ray

        import_ray()  # a missing Ray stops the run before the model loads
    index_dir = IndexDir(index_path)
    gone = [root for root in roots if not source_for(root).available()]
    if gone and index_dir.exists():
        raise ViewfinderError(
            f"Source folder {gone[0]} does not exist. If it was renamed or moved, index its new location (its "
            f"photos are found again without re-embedding); to drop it, run `viewfinder remove {gone[0]}`."
        )
    sources = _outermost([open_source(root) for root in roots])
    with index_dir.writer_lock():
        manifest = index_dir.read_manifest() if index_dir.exists() else None
        # Checked first: a missing [ocr] extra stops the run before anything is made or embedded.
        read_ocr = ocr or (manifest is not None and manifest.ocr)
        if read_ocr:
            require_ocr()
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
            normalise_store(store, index_dir.path)  # a store that cannot be used fails before the model loads
            # A new index needs the model's dimension; loading it first means a model that cannot be
            # loaded leaves no half-made index behind.
            embedder = embedder or load_embedder_for(spec, device, runtime)
            manifest = index_dir.create(spec, embedder.dim, store)
        if ocr and not manifest.ocr:
            manifest = replace(manifest, ocr=True)
            index_dir.write_manifest(manifest)
        loaded = [embedder]

        def load() -> Embedder:
            model = loaded[0]
            if model is None:
                model = loaded[0] = load_embedder_for(spec, device, runtime)
            return model

        ray_embed = None
        read_words: ReadWords | None = None
        if engine == "ray":
            from viewfinder.pipeline.ray_engine import embed_stream, words_stream

            def ray_embed(work: list[PlannedFile]) -> Iterator[EmbeddedBatch]:
                return embed_stream(work, spec.name, device, runtime, batch_size, ray_address)

            if read_ocr:
                read_words = partial(words_stream, batch_size=batch_size, address=ray_address)
        elif read_ocr:
            read_words = read_here({source.root: source for source in sources})

        catalog = index_dir.open_catalog()
        try:
            report = _index_into(
                index_dir, catalog, sources, manifest.dim, batch_size, workers, progress, load, ray_embed
            )
            if read_words is not None:
                found = read_all_words(catalog, {source.root: source for source in sources}, read_words, progress)
                report.words_read, report.words_skipped = found.read, found.skipped
        except (sqlite3.OperationalError, OSError, RuntimeError) as error:
            if full_disk_cause(error) is None:
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
    ray_embed: Callable[[list[PlannedFile]], Iterator[EmbeddedBatch]] | None = None,
) -> IndexReport:
    """One run against an open catalog: moves and copies first (one transaction, no model), then embedding."""
    roots = [s.root for s in sources]
    catalog.add_sources(roots)
    found = [item for source in sources for item in source.scan(exclude=str(index_dir.path.resolve()))]
    plan = plan_changes(found, catalog.indexed_states(), catalog.skipped_states(), roots)
    opened = {source.root: source for source in sources}
    remote = {root: source for root, source in opened.items() if source.remote}
    workers = workers or (REMOTE_WORKERS if remote else max(2, os.cpu_count() or 2))
    candidates = [planned.file for planned in plan.to_check + plan.to_embed]
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
    if removed_ids or plan.unusable or forget_skipped or reuse.restats or reuse.images or forget_sources:
        ids = catalog.commit_batch(
            images=reuse.images,
            skipped=[skip.row() for skip in plan.unusable],
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
    report.skipped = [skip.report() for skip in plan.unusable + plan.still_skipped]
    thumbnails = Thumbnails(remote, index_dir.path)
    if reuse.to_embed:
        if ray_embed is not None:
            stream = ray_embed(reuse.to_embed)
        else:
            stream = embed_all(reuse.to_embed, load(), batch_size, workers, opened)
        for batch, batch_ids in _commit_all(stream, catalog, len(reuse.to_embed), progress, thumbnails):
            if batch.images:
                added_ids.append(batch_ids)
                added_vectors.append(np.stack([image.vector for image in batch.images]))
            replaced = sum(1 for image in batch.images if image.id is not None)
            report.updated += replaced
            report.added += len(batch_ids) - replaced
            report.skipped += [skip.report() for skip in batch.skips]
    if remote:
        thumbnails.make_missing(catalog, workers)
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
    kept: dict[str, Source] = {}
    for source in sources:
        if source.root not in kept and not any(other.contains(source.root) for other in sources):
            kept[source.root] = source
    return list(kept.values())


def load_embedder_for(spec: ModelSpec, device: str, runtime: str) -> Embedder:
    """The model as indexing loads it (factory.choose_runtime says how `auto` decides)."""
    return factory.load_embedder(spec, device, runtime, indexing=True)


def embed_all(
    work: list[PlannedFile], embedder: Embedder, batch_size: int, workers: int, sources: dict[str, Source]
) -> Iterator[EmbeddedBatch]:
    """Decodes on worker threads while the model embeds the previous batch; yields each batch embedded.

    Pillow releases the GIL while decoding and resizing, and torch while computing, so threads overlap.
    At most two batches of decoded pixels are held in memory.
    """
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode") as pool:
        # The model loads on one thread while the others decode the first batch, instead of before it.
        pool.submit(embedder.load_image_tower)
        decoded = decode_ahead(pool, work, sources, embedder.preprocess, 2 * batch_size)
        for outcomes in _batched(decoded, batch_size):
            embedded = EmbeddedBatch()
            images = [(planned, outcome) for planned, outcome in outcomes if isinstance(outcome, Decoded)]
            embedded.skips = [Skip.of(p.file, outcome) for p, outcome in outcomes if isinstance(outcome, Reason)]
            if images:
                vectors = embedder.encode_images(np.stack([outcome.image.pixels for _, outcome in images]))
                for (planned, outcome), vector in zip(images, vectors, strict=True):
                    image = outcome.image
                    embedded.images.append(
                        new_image(planned, vector, image.width, image.height, image.format, image.taken_at, image.gps)
                    )
                    if outcome.thumbnail is not None:
                        embedded.thumbnails[planned.file.path] = outcome.thumbnail
                    if outcome.rendition is not None:
                        embedded.renditions[planned.file.path] = outcome.rendition
            yield embedded


def _commit_all(
    stream: Iterable[EmbeddedBatch], catalog: Catalog, total: int, progress: Progress | None, thumbnails: Thumbnails
) -> Iterator[tuple[EmbeddedBatch, np.ndarray]]:
    """Commits each embedded batch to the catalog as one transaction, so a killed run keeps every batch it
    finished; yields each batch with the ids its images got. Either engine's stream feeds it."""
    done = 0
    for batch in stream:
        ids = catalog.commit_batch(images=batch.images, skipped=[skip.row() for skip in batch.skips])
        thumbnails.store(ids, batch)
        done += len(batch.images) + len(batch.skips)
        if progress:
            progress(done, total)
        yield batch, np.asarray(ids, dtype=np.int64)


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
