"""The Ray engine of the indexing pipeline: decoding and embedding run as Ray Data `map_batches` over a pool of
actors (one model per actor, one GPU each when the cluster has GPUs), while this process (the driver) streams
the results back and commits them batch by batch, exactly as the local pipeline does.

Actors read entries through the `Source` protocol (`open(key)`), so any source the driver can scan works once
its module is importable on the workers. Per-row failures come back as an `error` column: an exception in an
actor would abort the whole dataset.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from viewfinder.errors import ViewfinderError
from viewfinder.sources import SourceFile, open_source

if TYPE_CHECKING:
    from viewfinder.images.decode import DecodedImage

LOCAL_CPUS = 2  # a local (driver-started) cluster's CPUs when no --ray-address is given
CPUS_PER_CPU_ACTOR = 4  # a CPU actor's model uses a node's cores; this many cluster CPUs per actor
DECODE_THREADS = 4
RAY_HINT = "the Ray engine needs Ray: pip install 'viewfinder[ray]'"


@dataclass(frozen=True)
class Decoded:
    """What the catalog records about a decoded image (the pixels stay on the actor)."""

    width: int
    height: int
    format: str
    taken_at: str | None


@dataclass(frozen=True)
class ActorDecoded:
    """An entry an actor decoded, with the thumbnail made from its fetched bytes (b"" for a local file)."""

    image: DecodedImage
    thumbnail: bytes


def import_ray() -> ModuleType:
    """Ray, imported with the settings that keep a local cluster on loopback (before its first import)."""
    # Without this, Ray replaces 127.0.0.1 by the machine's routable address and listens on every interface.
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # no token file written to the user's home
    try:
        import ray
    except ImportError as error:
        raise ViewfinderError(f"--engine ray: {RAY_HINT}.") from error
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

    def __init__(self, model: str, device: str, runtime: str, roots: Sequence[str]) -> None:
        from viewfinder.models.factory import load_embedder
        from viewfinder.models.registry import resolve_model

        # As the local engine loads it: on a CPU, auto is the int8 image tower (pipeline.indexer.load_embedder_for).
        self.embedder = load_embedder(resolve_model(model), device, runtime, auto_int8=True)
        self.sources = {root: open_source(root) for root in roots}

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(DECODE_THREADS) as pool:
            outcomes = list(pool.map(self._decode, batch["key"], batch["root"]))
        pixels = [outcome.image.pixels for outcome in outcomes if not isinstance(outcome, str)]
        dim = self.embedder.dim
        encoded = self.embedder.encode_images(np.stack(pixels)) if pixels else np.empty((0, dim), np.float32)
        vectors = np.zeros((len(outcomes), dim), np.float32)
        good = np.array([not isinstance(outcome, str) for outcome in outcomes], dtype=bool)
        vectors[good] = encoded

        def column(name: str, empty: object) -> np.ndarray:
            values = [empty if isinstance(o, str) else getattr(o.image, name) for o in outcomes]
            return np.array([empty if v is None else v for v in values], dtype=type(empty))

        return {
            "row": batch["row"],
            "vector": vectors,
            "thumbnail": np.array([b"" if isinstance(o, str) else o.thumbnail for o in outcomes], dtype=object),
            "width": column("width", 0),
            "height": column("height", 0),
            "format": np.array([o if isinstance(o, str) else o.image.format for o in outcomes], dtype=object),
            "taken_at": column("taken_at", ""),
            "error": np.array([o if isinstance(o, str) else "" for o in outcomes], dtype=object),
        }

    def _decode(self, key: str, root: str) -> ActorDecoded | str:
        """The decoded image, or the reason it cannot be used (never raises: one bad file must not stop a job).

        An entry read through its source (object storage) gets its thumbnail made here too, from the bytes
        already fetched, as the local engine does: the service never fetches the original for the grid.
        """
        from viewfinder.images.decode import MAX_BYTES, DecodeError, decode_bytes, decode_image
        from viewfinder.images.thumbnails import make_thumbnail

        source = self.sources[root]
        try:
            if not source.remote:
                # By path, as the local engine decodes: the same checks (FIFOs, links, sizes) before reading.
                return ActorDecoded(decode_image(key, self.embedder.preprocess), b"")
            with source.open(key) as handle:
                data = handle.read(MAX_BYTES + 1)
            return ActorDecoded(decode_bytes(data, self.embedder.preprocess), make_thumbnail(data))
        except DecodeError as error:
            return str(error) or "cannot decode"
        except FileNotFoundError:
            return "file not found"
        except PermissionError:
            return "permission denied"
        except OSError as error:
            return f"cannot read file ({error.strerror or error})"
        except Exception as error:  # a crafted file, or a source's own failure (network): reported per file
            detail = " ".join(str(error).split())
            return f"cannot be decoded ({type(error).__name__}{': ' + detail if detail else ''})"


def embed_stream(
    work: list[tuple[SourceFile, int | None]],
    model: str,
    device: str,
    runtime: str,
    batch_size: int,
    address: str | None = None,
    thumbnails: dict[str, bytes] | None = None,
) -> Iterator[tuple[list, np.ndarray, list[tuple[str, str, int, int, str]]]]:
    """Yields (images, vectors, skipped) per batch as the actors finish them, in the shape the indexer commits.

    `images` are (file, id it replaces, Decoded) with `vectors` row for row; `skipped` are catalog skip rows.
    Thumbnails the actors made (of entries read through a source) go into `thumbnails`, by path, for the
    indexer to store once the batch is committed.
    """
    with ray_session(address) as ray:
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # the CLI's output is the index report
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        gpus = int(ray.cluster_resources().get("GPU", 0))
        cpus = int(ray.cluster_resources().get("CPU", 1))
        if gpus:
            device, runtime = "cuda", ("torch" if runtime == "auto" else runtime)
            placement = {"num_gpus": 1, "num_cpus": 1, "compute": _pool(ray, gpus)}
        else:
            # An actor holding every CPU starves the tasks that feed it and the job hangs, so one CPU each.
            size = max(1, cpus // CPUS_PER_CPU_ACTOR)
            placement = {"num_cpus": 1, "compute": _pool(ray, size)}
        items = [{"row": row, "key": source.path, "root": source.root} for row, (source, _) in enumerate(work)]
        roots = sorted({source.root for source, _ in work})
        dataset = ray.data.from_items(items).map_batches(
            EmbedActor,
            fn_constructor_kwargs={"model": model, "device": device, "runtime": runtime, "roots": roots},
            batch_size=batch_size,
            batch_format="numpy",
            **placement,
        )
        try:
            for batch in dataset.iter_batches(batch_size=batch_size, batch_format="numpy"):
                yield _unpack(batch, work, {} if thumbnails is None else thumbnails)
        except ray.exceptions.RayError as error:
            # Typically an actor that could not start: viewfinder or the source folders missing on a node.
            # Batches committed so far stay; the next run resumes after them.
            reason = str(error).strip().splitlines()[-1][:300]
            raise ViewfinderError(
                f"The Ray job failed ({reason}); every node needs viewfinder installed and the sources at the"
                " same paths."
            ) from error


def _pool(ray, size: int):
    """`size` actors, each running two batches at once on threads, so one decodes while the other embeds (as
    the local engine overlaps them): Pillow and the runtimes release the GIL."""
    return ray.data.ActorPoolStrategy(size=size, max_concurrent_calls_per_actor=2, enable_true_multi_threading=True)


def _unpack(batch: dict[str, np.ndarray], work: list[tuple[SourceFile, int | None]], thumbnails: dict) -> tuple:
    images, rows, skipped = [], [], []
    for position, row in enumerate(batch["row"]):
        source, replaces = work[int(row)]
        error = str(batch["error"][position])
        if error:
            skipped.append((source.path, source.root, source.size, source.mtime_ns, error))
            continue
        taken_at = str(batch["taken_at"][position]) or None
        decoded = Decoded(
            int(batch["width"][position]), int(batch["height"][position]), str(batch["format"][position]), taken_at
        )
        images.append((source, replaces, decoded))
        rows.append(position)
        if thumbnail := bytes(batch["thumbnail"][position]):
            thumbnails[source.path] = thumbnail
    return images, np.asarray(batch["vector"], np.float32)[rows], skipped
