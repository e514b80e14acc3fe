"""Indexing throughput benchmark: decoding alone, the model alone and the whole pipeline, per image size."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from viewfinder.bench.report import percentile
from viewfinder.errors import ViewfinderError

IMAGE_SIZES = ((4000, 3000), (1920, 1080))
DISTINCT_IMAGES = 12
JPEG_QUALITY = 92
NOUNS = ("dog", "beach", "mountain", "birthday cake", "red car", "city at night", "forest", "cat", "bridge", "snow")


@dataclass
class EmbedRow:
    """Throughputs for one image size, in images per second."""

    size: str
    jpeg_kb: float  # mean file size, to show the JPEGs are camera-like
    decode_per_s: float  # decode + resize only, on the pipeline's decode threads
    model_per_s: float  # the model only, on pre-decoded pixels
    pipeline_per_s: float  # the whole indexer (scan, decode, embed, catalog), steady state
    pipeline_vs_model: float
    pipeline_cpu_use: float  # the indexing run's process CPU time / wall time / cores: 1.0 keeps every core busy
    ray_pipeline_per_s: float | None = None  # with --engine ray: the same pipeline on Ray's actor pool
    ray_overhead: float | None = None  # local pipeline rate / Ray's, minus one (0.25 = Ray is 25% slower)
    wall_s: float = 0.0  # the whole `index` run, model loading included
    ray_wall_s: float | None = None  # the same with --engine ray, Ray's start-up and the actors' model loading included


def photo_like(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 (height, width, 3) pixels with what makes camera JPEGs large: smooth colour regions, mid-scale
    texture and sensor noise."""
    from PIL import Image

    coarse = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    texture_small = rng.integers(88, 168, (max(1, height // 12), max(1, width // 12), 3), dtype=np.uint8)
    texture = Image.fromarray(texture_small).resize((width, height), Image.Resampling.BICUBIC)
    pixels = np.asarray(coarse, np.float32) + np.asarray(texture, np.float32) - 128
    pixels += rng.standard_normal((height, width, 3), dtype=np.float32) * 5
    return np.clip(pixels, 0, 255).astype(np.uint8)


def bench_images(folder: Path, width: int, height: int, count: int) -> list[Path]:
    """`count` JPEGs of width x height in `folder`, generated once: DISTINCT_IMAGES different pictures,
    the rest hard links to them (decoding cost is per file, not per picture)."""
    import os

    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(width * height)
    paths = []
    for number in range(count):
        path = folder / f"photo-{number:05d}.jpg"
        if not path.exists():
            original = folder / f"photo-{number % DISTINCT_IMAGES:05d}.jpg"
            if number < DISTINCT_IMAGES:
                temporary = folder / f".{path.name}.tmp"
                Image.fromarray(photo_like(width, height, rng)).save(temporary, "JPEG", quality=JPEG_QUALITY)
                os.replace(temporary, path)
            else:
                os.link(original, path)
        paths.append(path)
    return paths


def pipeline_rate_of(
    folder: Path, model: str, device: str, runtime: str, batch_size: int, engine: str
) -> tuple[float, float]:
    """Steady-state images/s of `run_index` over a folder, from the first batch's commit to the last (model
    loading and Ray's start-up are not the steady state the model-only figure measures either), and the
    run's wall time in seconds."""
    import shutil
    import tempfile

    from viewfinder.pipeline.indexer import run_index

    marks: list[tuple[float, int]] = []
    scratch = Path(tempfile.mkdtemp(prefix="viewfinder-bench-"))
    started = time.perf_counter()
    try:
        run_index(
            scratch / "index",
            [str(folder)],
            model=model,
            device=device,
            runtime=runtime,
            batch_size=batch_size,
            engine=engine,
            progress=lambda done, total: marks.append((time.perf_counter(), done)),
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    (first_time, first_done), (last_time, last_done) = marks[0], marks[-1]
    return (last_done - first_done) / (last_time - first_time), last_time - started


def text_encode_ms(embedder, count: int = 50) -> float:
    """Median ms to embed one short query (2-4 words, each new to the embedder)."""
    embedder.encode_texts(["warm-up"])
    times = []
    for number in range(count):
        started = time.perf_counter()
        embedder.encode_texts([f"{NOUNS[number % len(NOUNS)]} {number}"])
        times.append((time.perf_counter() - started) * 1000)
    return percentile(times, 50)


def bench_embed(
    model: str = "random:ViT-B-32",
    count: int = 128,
    runtime: str = "auto",
    device: str = "auto",
    batch_size: int = 32,
    sizes: Sequence[tuple[int, int]] = IMAGE_SIZES,
    cache: Path | None = None,
    engine: str = "local",
) -> dict:
    """Images/s of decoding alone, the model alone and the whole indexing pipeline, per image size.

    With `engine` "ray" the pipeline also runs on a local Ray (same cores) and its overhead is reported.
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    from viewfinder.images.decode import decode_image
    from viewfinder.models.factory import load_embedder
    from viewfinder.models.onnx_format import cache_home
    from viewfinder.models.registry import resolve_model

    if count < 2 * batch_size:
        raise ViewfinderError(f"--count must be at least two batches ({2 * batch_size} images).")
    embedder = load_embedder(resolve_model(model), device, runtime, indexing=True)  # as indexing loads it
    cores = os.cpu_count() or 1
    workers = max(2, cores)
    rows = []
    for width, height in sizes:
        folder = (cache or cache_home() / "bench-images") / f"{width}x{height}"
        paths = bench_images(folder, width, height, count)
        with ThreadPoolExecutor(workers) as pool:
            started = time.perf_counter()
            decoded = list(pool.map(lambda path: decode_image(path, embedder.preprocess).pixels, paths))
            decode_rate = count / (time.perf_counter() - started)
        batch = np.stack(decoded[:batch_size])
        embedder.encode_images(batch)  # warm-up: first-run allocations and lazy session loading
        started = time.perf_counter()
        for _ in range(count // batch_size - 1):
            embedder.encode_images(batch)
        model_rate = (count // batch_size - 1) * batch_size / (time.perf_counter() - started)
        cpu_started, wall_started = time.process_time(), time.perf_counter()
        pipeline_rate, local_wall = pipeline_rate_of(folder, model, device, runtime, batch_size, "local")
        cpu_use = (time.process_time() - cpu_started) / (time.perf_counter() - wall_started) / cores
        ray_rate = ray_wall = None
        if engine == "ray":
            # Interleaved (local, Ray, local, Ray) and averaged, so that a change of the machine's load during
            # the run weighs on both engines alike.
            runs = [(pipeline_rate, local_wall)]
            runs += [pipeline_rate_of(folder, model, device, runtime, batch_size, e) for e in ("ray", "local", "ray")]
            pipeline_rate, local_wall = np.mean([runs[0], runs[2]], axis=0)
            ray_rate, ray_wall = np.mean([runs[1], runs[3]], axis=0)
        rows.append(
            EmbedRow(
                size=f"{width}x{height}",
                jpeg_kb=round(float(np.mean([p.stat().st_size for p in paths[:DISTINCT_IMAGES]])) / 1024, 1),
                decode_per_s=round(decode_rate, 2),
                model_per_s=round(model_rate, 2),
                pipeline_per_s=round(pipeline_rate, 2),
                pipeline_vs_model=round(pipeline_rate / model_rate, 3),
                pipeline_cpu_use=round(cpu_use, 3),
                ray_pipeline_per_s=None if ray_rate is None else round(ray_rate, 2),
                ray_overhead=None if ray_rate is None else round(pipeline_rate / ray_rate - 1, 3),
                wall_s=round(float(local_wall), 2),
                ray_wall_s=None if ray_wall is None else round(float(ray_wall), 2),
            )
        )
    return {
        "model": model,
        "engine": engine,
        "text_encode_p50_ms": text_encode_ms(embedder),
        "runtime": embedder.runtime,
        "device": embedder.device,
        "count": count,
        "batch_size": batch_size,
        "peak_rss_mb": _peak_rss_mb(),
        "results": [asdict(row) for row in rows],
    }


def _peak_rss_mb() -> float:
    """The benchmark process's peak resident memory so far (every model and run it made), in MB."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux
