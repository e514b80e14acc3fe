"""The Ray engine of the indexing pipeline: decoding and embedding run as Ray Data `map_batches` over a pool of
actors (one model per actor, one GPU each when the cluster has GPUs), while this process (the driver) streams
the results back and commits them batch by batch, exactly as the local pipeline does.

Actors read entries through the `Source` protocol (`open(key, version)`), so any source the driver can scan works once
its module is importable on the workers. Per-row failures come back as an `error` column: an exception in an
actor would abort the whole dataset.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from viewfinder.errors import ViewfinderError, needs_extra
from viewfinder.pipeline.records import Decoded, EmbeddedBatch, PlannedFile, Reason, Skip, new_image
from viewfinder.pipeline.words import Outcome
from viewfinder.sources import open_source
from viewfinder.sources.s3 import endpoint, use_endpoint
from viewfinder.store.catalog_rows import ImageRecord

LOCAL_CPUS = 2  # a local (driver-started) cluster's CPUs when no --ray-address is given
CPUS_PER_CPU_ACTOR = 4  # a CPU actor's model uses a node's cores; this many cluster CPUs per actor
DECODE_THREADS = 4


def import_ray() -> ModuleType:
    """Ray, imported with the settings that keep a local cluster on loopback (before its first import)."""
    # Without this, Ray replaces 127.0.0.1 by the machine's routable address and listens on every interface.
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # no token file written to the user's home
    with needs_extra("--engine ray"):
        import ray
    return ray


@contextmanager
def ray_session(address: str | None = None) -> Iterator[ModuleType]:
    """Ray, connected: to `address` when given, else a local cluster bound to 127.0.0.1 only.

    A session already started in this process (by a caller or a test) is used and left running.
    """
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    try:
        if address:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        else:
            start_local(ray)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise ViewfinderError(f"Cannot start or reach Ray at {address or 'a local cluster'}: {error}") from error
    try:
        yield ray
    finally:
        ray.shutdown()


def start_local(ray: ModuleType | None = None, num_cpus: int = LOCAL_CPUS) -> None:
    """Starts a single-node Ray whose every listener (GCS, raylet, workers) is on 127.0.0.1."""
    ray = ray or import_ray()
    ray.init(
        num_cpus=num_cpus,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        log_to_driver=False,
        logging_level=logging.WARNING,
    )


class EmbedActor:
    """One model per actor: decodes a batch of entries through their source and embeds them."""

    def __init__(
        self, model: str, device: str, runtime: str, roots: Sequence[str], s3_endpoint: str | None = None
    ) -> None:
        from viewfinder.models.factory import load_embedder
        from viewfinder.models.registry import resolve_model

        if s3_endpoint:  # the driver's (--s3-endpoint): a worker process has its own S3 client
            use_endpoint(s3_endpoint)
        self.embedder = load_embedder(resolve_model(model), device, runtime, indexing=True)
        self.sources = {root: open_source(root) for root in roots}

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The batch's rows decoded (by `reading.decode_entry`, as the local engine does) and embedded, as columns:
        a row that cannot be used has its reason in `error` (an exception would abort the whole dataset)."""
        from concurrent.futures import ThreadPoolExecutor

        from viewfinder.pipeline.reading import decode_entry

        def decode(key: str, root: str, version: str) -> Decoded | Reason:
            return decode_entry(self.sources[root], key, self.embedder.preprocess, str(version))

        with ThreadPoolExecutor(DECODE_THREADS) as pool:
            outcomes = list(pool.map(decode, batch["key"], batch["root"], batch["version"]))
        decoded = [outcome for outcome in outcomes if isinstance(outcome, Decoded)]
        dim = self.embedder.dim
        vectors = np.zeros((len(outcomes), dim), np.float32)
        good = np.array([isinstance(outcome, Decoded) for outcome in outcomes], dtype=bool)
        if decoded:
            vectors[good] = self.embedder.encode_images(np.stack([outcome.image.pixels for outcome in decoded]))

        def column(read: Callable[[Decoded], object], empty: object, kind: type = object) -> np.ndarray:
            return np.array([read(o) if isinstance(o, Decoded) else empty for o in outcomes], dtype=kind)

        return {
            "row": batch["row"],
            "vector": vectors,
            "thumbnail": column(lambda o: o.thumbnail or b"", b""),
            "rendition": column(lambda o: o.rendition or b"", b""),
            "width": column(lambda o: o.image.width, 0, int),
            "height": column(lambda o: o.image.height, 0, int),
            "format": column(lambda o: o.image.format, ""),
            "taken_at": column(lambda o: o.image.taken_at or "", ""),
            # NaN where a photo has no GPS position (Arrow columns hold one type).
            "latitude": column(lambda o: o.image.gps[0] if o.image.gps else np.nan, np.nan, float),
            "longitude": column(lambda o: o.image.gps[1] if o.image.gps else np.nan, np.nan, float),
            "error": np.array([o.text if isinstance(o, Reason) else "" for o in outcomes], dtype=object),
            "retry": np.array([isinstance(o, Reason) and o.retry for o in outcomes], dtype=bool),
        }


def embed_stream(
    work: list[PlannedFile], model: str, device: str, runtime: str, batch_size: int, address: str | None = None
) -> Iterator[EmbeddedBatch]:
    """Yields each batch as the actors finish it, in the record the indexer commits (as the local engine's)."""
    with ray_session(address) as ray:
        _quiet(ray)
        gpus = int(ray.cluster_resources().get("GPU", 0))
        if gpus:
            device = "cuda"  # each actor holds a GPU; the runtime follows from the device (factory.choose_runtime)
            placement = {"num_gpus": 1, "num_cpus": 1, "compute": _pool(ray, gpus)}
        else:
            placement = _cpu_placement(ray)
        items = [
            {"row": row, "key": planned.file.path, "root": planned.file.root, "version": planned.file.version}
            for row, planned in enumerate(work)
        ]
        roots = sorted({planned.file.root for planned in work})
        dataset = ray.data.from_items(items).map_batches(
            EmbedActor,
            fn_constructor_kwargs={
                "model": model,
                "device": device,
                "runtime": runtime,
                "roots": roots,
                "s3_endpoint": endpoint(),
            },
            batch_size=batch_size,
            batch_format="numpy",
            **placement,
        )
        yield from (unpack(batch, work) for batch in _results(ray, dataset, batch_size))


@dataclass(frozen=True)
class IndexedEntry:
    """What the catalog recorded of a photo, as far as its source needs to read it only while unchanged."""

    path: str
    root: str
    size: int
    mtime_ns: int
    inode: int | None = None  # only originals served from a folder check it


class WordsActor:
    """One OCR engine per actor: reads the words of a batch of indexed photos through their sources."""

    def __init__(self, roots: Sequence[str], s3_endpoint: str | None = None) -> None:
        from viewfinder.images.ocr import WordReader

        if s3_endpoint:
            use_endpoint(s3_endpoint)
        self.reader = WordReader()
        self.sources = {root: open_source(root) for root in roots}

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The batch's words, as columns: a photo that cannot be read has why in `error` (and `retry` when it
        may be read next run); photos are decoded and read on threads, one photo per thread."""
        from concurrent.futures import ThreadPoolExecutor

        from viewfinder.images.decode import DecodeError, UnreadableError
        from viewfinder.pipeline.words import load, read_prepared

        def read(path: str, root: str, size: int, mtime_ns: int) -> str | Exception:
            loaded = load(self.sources[root], IndexedEntry(path, root, int(size), int(mtime_ns)))
            return loaded if isinstance(loaded, Exception) else read_prepared(self.reader, loaded, path)

        with ThreadPoolExecutor(DECODE_THREADS) as pool:
            outcomes = list(pool.map(read, batch["path"], batch["root"], batch["size"], batch["mtime_ns"]))
        read_now = [isinstance(o, str) for o in outcomes]
        # A decode or OCR failure is kept with the content; a photo gone or replaced is read next run.
        kept = [isinstance(o, DecodeError) and not isinstance(o, UnreadableError) for o in outcomes]
        return {
            "row": batch["row"],
            "words": np.array([o if isinstance(o, str) else "" for o in outcomes], dtype=object),
            "error": np.array(["" if isinstance(o, str) else str(o) or type(o).__name__ for o in outcomes], object),
            "retry": np.array([not (done or keep) for done, keep in zip(read_now, kept, strict=True)], dtype=bool),
        }


def words_stream(
    records: list[ImageRecord], batch_size: int, address: str | None = None
) -> Iterator[tuple[ImageRecord, Outcome]]:
    """Reads the words of indexed photos (catalog records) on the cluster, one OCR engine per actor; yields
    each record with its words or why not (pipeline.words.Outcome), as the actors finish them."""
    from viewfinder.images.decode import DecodeError, UnreadableError

    with ray_session(address) as ray:
        _quiet(ray)
        items = [
            {"row": row, "path": r.path, "root": r.root, "size": r.size, "mtime_ns": r.mtime_ns}
            for row, r in enumerate(records)
        ]
        dataset = ray.data.from_items(items).map_batches(
            WordsActor,
            fn_constructor_kwargs={"roots": sorted({r.root for r in records}), "s3_endpoint": endpoint()},
            batch_size=batch_size,
            batch_format="numpy",
            **_cpu_placement(ray),
        )
        for batch in _results(ray, dataset, batch_size, needs="the [ocr] extra"):
            for position, row in enumerate(batch["row"]):
                error = str(batch["error"][position])
                kind = UnreadableError if batch["retry"][position] else DecodeError
                yield records[int(row)], kind(error) if error else str(batch["words"][position])


def _results(ray, dataset, batch_size: int, needs: str = "") -> Iterator[dict[str, np.ndarray]]:
    """The dataset's batches as the actors finish them; a failed job is one clear error (batches committed so
    far stay, and the next run resumes after them)."""
    try:
        yield from dataset.iter_batches(batch_size=batch_size, batch_format="numpy")
    except ray.exceptions.RayError as error:
        # Typically an actor that could not start (viewfinder or the source folders missing on a node), or a
        # source failing as a whole.
        reason = str(error).strip().splitlines()[-1][:300]
        raise ViewfinderError(
            f"The Ray job failed ({reason}); every node needs viewfinder{' with ' + needs if needs else ''} installed"
            " and the sources at the same paths."
        ) from error


def _quiet(ray) -> None:
    """No progress bars or execution banners: the CLI's output is the index report."""
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False


def _cpu_placement(ray) -> dict[str, Any]:
    """One CPU and a share of the pool per actor: an actor holding every CPU starves the tasks that feed it and
    the job hangs."""
    cpus = int(ray.cluster_resources().get("CPU", 1))
    return {"num_cpus": 1, "compute": _pool(ray, max(1, cpus // CPUS_PER_CPU_ACTOR))}


def _pool(ray, size: int):
    """`size` actors, each running two batches at once on threads, so one decodes while the other embeds (as
    the local engine overlaps them): Pillow and the runtimes release the GIL."""
    return ray.data.ActorPoolStrategy(size=size, max_concurrent_calls_per_actor=2, enable_true_multi_threading=True)


def unpack(batch: dict[str, np.ndarray], work: list[PlannedFile]) -> EmbeddedBatch:
    """The record of a batch of the actors' columns, its rows matched to the planned files by `row`."""
    embedded = EmbeddedBatch()
    for position, row in enumerate(batch["row"]):
        planned = work[int(row)]
        if error := str(batch["error"][position]):
            embedded.skips.append(Skip.of(planned.file, Reason(error, bool(batch["retry"][position]))))
            continue
        embedded.images.append(
            new_image(
                planned,
                batch["vector"][position],
                int(batch["width"][position]),
                int(batch["height"][position]),
                str(batch["format"][position]),
                str(batch["taken_at"][position]) or None,
                _position(batch, position),
            )
        )
        if thumbnail := bytes(batch["thumbnail"][position]):
            embedded.thumbnails[planned.file.path] = thumbnail
        if rendition := bytes(batch["rendition"][position]):
            embedded.renditions[planned.file.path] = rendition
    return embedded


def _position(batch: dict, position: int) -> tuple[float, float] | None:
    latitude, longitude = float(batch["latitude"][position]), float(batch["longitude"][position])
    return None if np.isnan(latitude) or np.isnan(longitude) else (latitude, longitude)
