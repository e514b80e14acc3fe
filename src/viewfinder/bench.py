"""The benchmarks behind `viewfinder bench`: vector search, the indexing pipeline and the HTTP service.

Each figure is measured in the same run as its baseline, and latencies are medians (p50) and p99 over many
single queries, because these machines are shared and noisy: compare ratios, not absolute numbers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from viewfinder.errors import ViewfinderError

K = 50
QUERY_ROWS = 1000
CLUSTERS = 317  # prime, so it matches no nlist any index picks
SUBTOPICS = 24
LOCAL_DIMS = 16
SUBTOPIC_RADIUS = 0.9
POINT_RADIUS = 0.65
NOISE_RADIUS = 0.2
TIMING_BUDGET_S = 15.0
MIN_TIMED_QUERIES = 50


def clustered_vectors(n: int, dim: int = 512, seed: int = 0) -> np.ndarray:
    """n unit vectors drawn from a mixture shaped like CLIP embeddings of a photo library.

    Two levels: CLUSTERS topics around a direction all vectors share (unrelated photos still have a positive
    cosine in CLIP space), each with SUBTOPICS sub-topics. Topic sizes are log-normal (the largest ~30× the
    smallest) and each topic has its own spread (0.7–1.4×), so some are dense and tight, others sparse and
    diffuse. Within a topic, vectors vary mostly along LOCAL_DIMS directions of its own, plus a little
    isotropic noise: real embeddings have a low intrinsic dimension, which is what makes ANN search work.
    The constants put the seed's IVF1264/nprobe=32 at recall@50 ≈ 0.987 at n = 100k, as measured on real
    embeddings before (issue 6). A mixture is fixed by its seed: queries drawn with
    `mixture_sample(n, dim, seed, other_seed)` come from the same mixture without being in the database.
    """
    return mixture_sample(n, dim, seed, seed)


def mixture_sample(n: int, dim: int, mixture_seed: int, sample_seed: int) -> np.ndarray:
    """n unit vectors from the mixture `mixture_seed` defines, drawn with `sample_seed`."""
    shape = np.random.default_rng(mixture_seed)
    common = _unit(shape.standard_normal(dim, dtype=np.float32))
    topics = _unit(common + _unit(shape.standard_normal((CLUSTERS, dim), dtype=np.float32)))
    weights = shape.lognormal(0.0, 0.85, CLUSTERS)
    spreads = shape.uniform(0.7, 1.4, CLUSTERS).astype(np.float32)
    local = dim if dim <= LOCAL_DIMS else LOCAL_DIMS
    bases = np.linalg.qr(shape.standard_normal((CLUSTERS, dim, local), dtype=np.float32))[0]
    offsets = shape.standard_normal((CLUSTERS, SUBTOPICS, local), dtype=np.float32) / math.sqrt(local)
    subtopics = _unit(
        topics[:, None, :] + SUBTOPIC_RADIUS * spreads[:, None, None] * (offsets @ bases.transpose(0, 2, 1))
    )
    rng = np.random.default_rng(sample_seed)
    topic = rng.choice(CLUSTERS, n, p=weights / weights.sum())
    subtopic = rng.integers(0, SUBTOPICS, n)
    out = np.empty((n, dim), np.float32)
    for t in range(CLUSTERS):
        rows = np.flatnonzero(topic == t)
        along = rng.standard_normal((len(rows), local), dtype=np.float32) @ bases[t].T / math.sqrt(local)
        noise = rng.standard_normal((len(rows), dim), dtype=np.float32) / math.sqrt(dim)
        out[rows] = _unit(subtopics[t, subtopic[rows]] + spreads[t] * (POINT_RADIUS * along + NOISE_RADIUS * noise))
    return out


def load_vectors(path: str | Path) -> np.ndarray:
    """Real embeddings from a .npy file of unit rows; a clear error when they are not."""
    try:
        vectors = np.load(path)
    except (OSError, ValueError) as error:
        raise ViewfinderError(f"Cannot read {path} as a .npy array ({error}).") from error
    if vectors.ndim != 2 or not np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3):
        raise ViewfinderError(f"{path} must hold a 2-D array of unit-length rows; normalise the vectors first.")
    return vectors.astype(np.float32, copy=False)


def format_table(rows: Sequence[dict]) -> str:
    """Rows of a benchmark result as aligned text columns."""
    if not rows:
        return ""
    columns = list(rows[0])
    cells = [[_cell(row[column]) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)]
    lines = ["  ".join(column.ljust(width) for column, width in zip(columns, widths, strict=True))]
    lines += ["  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)) for line in cells]
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.0f}"
    return str(value)


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


@dataclass
class SearchRow:
    """One index configuration's figures (the `--json` row shape, plus a free-text detail)."""

    index: str
    p50_ms: float
    p99_ms: float
    recall_at_50: float
    build_s: float
    bytes: int
    detail: str = ""


@dataclass
class _Built:
    search: Callable[[np.ndarray], np.ndarray]  # (m, dim) queries -> (m, K) ids
    build_s: float
    bytes: int
    detail: str = ""


def bench_search(
    n: int | None = None,
    dim: int = 512,
    vectors: np.ndarray | None = None,
    queries: int = QUERY_ROWS,
    only: Sequence[str] = (),
    seed: int = 0,
) -> dict:
    """Latency, recall@50, build time and size of each index option over one set of vectors.

    With `vectors` (unit rows), the last QUERY_ROWS rows are the queries and the rest the database;
    otherwise n database rows and `queries` query rows come from the synthetic mixture. `only` keeps the
    rows whose name starts with one of its entries (the baseline and exact search always run).
    """
    import faiss

    from viewfinder.ann import choose_params

    if vectors is not None:
        if len(vectors) <= QUERY_ROWS:
            raise ViewfinderError(f"--vectors needs over {QUERY_ROWS} rows: the last {QUERY_ROWS} are the queries.")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        base, query_rows = vectors[:-QUERY_ROWS], vectors[-QUERY_ROWS:]
    else:
        if not n:
            raise ViewfinderError("Give --n (the database size) or --vectors FILE.npy.")
        base = clustered_vectors(n, dim, seed)
        query_rows = mixture_sample(queries, dim, seed, seed + 1)
    n, dim = base.shape
    ids = np.arange(n, dtype=np.int64)
    truth = _exact_ids(base, query_rows)
    rows: list[SearchRow] = []

    def measure(name: str, built: _Built) -> None:
        p50, p99 = _single_query_latency(built.search, query_rows)
        recall = _recall(built.search(query_rows), truth)
        rows.append(SearchRow(name, p50, p99, recall, round(built.build_s, 3), built.bytes, built.detail))

    def wanted(name: str) -> bool:
        return not only or any(name.startswith(prefix) for prefix in only)

    measure("numpy", _numpy_index(base))
    flat = _timed(lambda: _faiss_flat(base))
    measure("flat", _Built(lambda q: flat[0].search(q, K)[1], flat[1], _faiss_bytes(flat[0])))
    if wanted("default"):
        default = _default_index(ids, base)
        measure("default", default)
        # faiss runs a single query on one thread for most index types; this row shows whether pinning
        # OpenMP to one thread (no idle team to wake) changes the latency.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            measure("default,threads=1", default)
        finally:
            faiss.omp_set_num_threads(threads)
    nlist = choose_params(n).nlist or round(4 * math.sqrt(n))  # the default's lists, also below FLAT_MAX
    for lists, probes in ((256, (32,)), (nlist, (8, 16, 32, 64))):
        if not wanted(f"IVF{lists},") or lists * 39 > n:  # faiss wants ≥ 39 training points per list
            continue
        index, seconds = _timed(lambda lists=lists: _ivf(base, f"IVF{lists},Flat"))
        for nprobe in probes:
            measure(f"IVF{lists},nprobe={nprobe}", _Built(_ivf_search(index, nprobe), seconds, _faiss_bytes(index)))
    if wanted("HNSW32"):
        index, seconds = _timed(lambda: _hnsw(base))
        for ef in (64, 128):
            measure(f"HNSW32,efSearch={ef}", _Built(_hnsw_search(index, ef), seconds, _faiss_bytes(index)))
    if wanted(f"IVF{nlist},SQ8") and nlist * 39 <= n:
        index, seconds = _timed(lambda: _ivf(base, f"IVF{nlist},SQ8"))
        for nprobe in (16, 32):
            measure(
                f"IVF{nlist},SQ8,nprobe={nprobe}+rerank",
                _Built(_rerank(base, _ivf_search(index, nprobe, 2 * K)), seconds, _faiss_bytes(index)),
            )
    return {"n": int(n), "dim": int(dim), "results": [asdict(row) for row in rows]}


def _timed(make: Callable) -> tuple:
    started = time.perf_counter()
    made = make()
    return made, time.perf_counter() - started


def _exact_ids(base: np.ndarray, queries: np.ndarray) -> np.ndarray:
    index = _faiss_flat(base)
    return index.search(queries, K)[1]


def _single_query_latency(search: Callable, queries: np.ndarray) -> tuple[float, float]:
    """p50 and p99 in ms of one query at a time; slow indexes stop after TIMING_BUDGET_S."""
    for row in queries[:5]:  # warm caches and thread pools
        search(row[None])
    times: list[float] = []
    for row in queries:
        started = time.perf_counter()
        search(row[None])
        times.append(time.perf_counter() - started)
        if len(times) >= MIN_TIMED_QUERIES and sum(times) > TIMING_BUDGET_S:
            break
    p50, p99 = np.percentile(np.asarray(times) * 1000, [50, 99])
    return round(float(p50), 4), round(float(p99), 4)


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    from viewfinder.ann import recall_at_k

    return round(recall_at_k(found, truth), 4)


def _numpy_index(base: np.ndarray) -> _Built:
    def search(queries: np.ndarray) -> np.ndarray:
        out = np.empty((len(queries), K), np.int64)
        for start in range(0, len(queries), 64):
            scores = queries[start : start + 64] @ base.T
            top = np.argpartition(-scores, K, axis=1)[:, :K]
            order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
            out[start : start + 64] = np.take_along_axis(top, order, axis=1)
        return out

    return _Built(search, 0.0, base.nbytes, "matrix product + argpartition")


def _faiss_flat(base: np.ndarray):
    import faiss

    index = faiss.IndexFlatIP(base.shape[1])
    index.add(base)
    return index


def _faiss_bytes(index) -> int:
    import faiss

    return int(faiss.serialize_index(index).nbytes)


def _default_index(ids: np.ndarray, base: np.ndarray) -> _Built:
    from viewfinder.ann import VectorIndex

    built, seconds = _timed(lambda: VectorIndex.build(ids, base, base.shape[1]))
    params = built.params
    detail = "flat" if params.kind == "flat" else f"IVF{params.nlist},nprobe={params.nprobe}"
    return _Built(lambda q: built.search(q, K)[1], seconds, _faiss_bytes(built.index), detail)


def _ivf(base: np.ndarray, factory: str):
    """An IVF index trained the way ann.py trains one: TRAINING_ITERATIONS over TRAINING_POINTS_PER_LIST
    sampled points per list."""
    import faiss

    from viewfinder.ann import TRAINING_ITERATIONS, TRAINING_POINTS_PER_LIST

    index = faiss.index_factory(base.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
    ivf = faiss.extract_index_ivf(index)
    ivf.cp.niter = TRAINING_ITERATIONS
    nlist = ivf.nlist
    rng = np.random.default_rng(0)
    sample = base[np.sort(rng.choice(len(base), min(len(base), TRAINING_POINTS_PER_LIST * nlist), replace=False))]
    index.train(sample)
    index.add(base)
    return index


def _ivf_search(index, nprobe: int, k: int = K) -> Callable[[np.ndarray], np.ndarray]:
    import faiss

    params = faiss.SearchParametersIVF(nprobe=nprobe)
    return lambda q: index.search(q, k, params=params)[1]


def _hnsw(base: np.ndarray):
    import faiss

    index = faiss.IndexHNSWFlat(base.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    index.add(base)
    return index


def _hnsw_search(index, ef: int) -> Callable[[np.ndarray], np.ndarray]:
    import faiss

    params = faiss.SearchParametersHNSW(efSearch=ef)
    return lambda q: index.search(q, K, params=params)[1]


def _rerank(base: np.ndarray, candidates: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """Exact inner products over the compressed index's candidates, which keeps only the best K."""

    def search(queries: np.ndarray) -> np.ndarray:
        found = candidates(queries)
        out = np.full((len(queries), K), -1, np.int64)
        for row, (query, ids) in enumerate(zip(queries, found, strict=True)):
            ids = ids[ids >= 0]
            best = ids[np.argsort(-(base[ids] @ query))[:K]]
            out[row, : len(best)] = best
        return out

    return search


IMAGE_SIZES = ((4000, 3000), (1920, 1080))
DISTINCT_IMAGES = 12
JPEG_QUALITY = 92


@dataclass
class EmbedRow:
    """Throughputs for one image size, in images per second."""

    size: str
    jpeg_kb: float  # mean file size, to show the JPEGs are camera-like
    decode_per_s: float  # decode + resize only, on the pipeline's decode threads
    model_per_s: float  # the model only, on pre-decoded pixels
    pipeline_per_s: float  # the whole indexer (scan, decode, embed, catalog), steady state
    pipeline_vs_model: float


def photo_like(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 (height, width, 3) pixels with what makes camera JPEGs large: smooth colour regions, mid-scale
    texture and sensor noise."""
    from PIL import Image

    coarse = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize((width, height), Image.BICUBIC)
    texture_small = rng.integers(88, 168, (max(1, height // 12), max(1, width // 12), 3), dtype=np.uint8)
    texture = Image.fromarray(texture_small).resize((width, height), Image.BICUBIC)
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


def text_encode_ms(embedder, count: int = 50) -> float:
    """Median ms to embed one short query (2-4 words, each new to the embedder)."""
    embedder.encode_texts(["warm-up"])
    times = []
    for number in range(count):
        started = time.perf_counter()
        embedder.encode_texts([f"{NOUNS[number % len(NOUNS)]} {number}"])
        times.append((time.perf_counter() - started) * 1000)
    return _percentile(times, 50)


def bench_embed(
    model: str = "random:ViT-B-32",
    count: int = 128,
    runtime: str = "auto",
    device: str = "auto",
    batch_size: int = 32,
    sizes: Sequence[tuple[int, int]] = IMAGE_SIZES,
    cache: Path | None = None,
) -> dict:
    """Images/s of decoding alone, the model alone and the whole indexing pipeline, per image size."""
    import os
    import shutil
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    from viewfinder.decode import decode_image
    from viewfinder.embed import load_embedder
    from viewfinder.embed_onnx import cache_home
    from viewfinder.indexer import run_index
    from viewfinder.models import resolve_model

    if count < 2 * batch_size:
        raise ViewfinderError(f"--count must be at least two batches ({2 * batch_size} images).")
    embedder = load_embedder(resolve_model(model), device, runtime)
    workers = max(2, os.cpu_count() or 2)
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
        marks: list[tuple[float, int]] = []
        scratch = Path(tempfile.mkdtemp(prefix="viewfinder-bench-"))
        try:
            run_index(
                scratch / "index",
                [str(folder)],
                model=model,
                device=device,
                runtime=runtime,
                batch_size=batch_size,
                progress=lambda done, total, marks=marks: marks.append((time.perf_counter(), done)),
            )
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        # From the first batch's commit to the last: model loading and the first batch's start-up are not
        # the steady state the model-only figure measures either.
        (first_time, first_done), (last_time, last_done) = marks[0], marks[-1]
        pipeline_rate = (last_done - first_done) / (last_time - first_time)
        rows.append(
            EmbedRow(
                size=f"{width}x{height}",
                jpeg_kb=round(float(np.mean([p.stat().st_size for p in paths[:DISTINCT_IMAGES]])) / 1024, 1),
                decode_per_s=round(decode_rate, 2),
                model_per_s=round(model_rate, 2),
                pipeline_per_s=round(pipeline_rate, 2),
                pipeline_vs_model=round(pipeline_rate / model_rate, 3),
            )
        )
    return {
        "model": model,
        "text_encode_p50_ms": text_encode_ms(embedder),
        "runtime": embedder.runtime,
        "device": embedder.device,
        "count": count,
        "batch_size": batch_size,
        "results": [asdict(row) for row in rows],
    }


SERVE_QUERIES = 200
NOUNS = ("dog", "beach", "mountain", "birthday cake", "red car", "city at night", "forest", "cat", "bridge", "snow")


def make_vector_index(path: Path, n: int, model: str = "random:ViT-B-32", seed: int = 0) -> Path:
    """An index directory of n synthetic vectors for `model`, without embedding any image.

    The catalog rows name files that do not exist: enough for search and its benchmarks, not for thumbnails.
    The model is loaded (or its ONNX export read) once, for its dimension.
    """
    from viewfinder.catalog import NewImage
    from viewfinder.embed import load_embedder
    from viewfinder.indexdir import IndexDir, rebuild_from_catalog
    from viewfinder.models import resolve_model

    spec = resolve_model(model)
    dim = load_embedder(spec, "cpu").dim
    index_dir = IndexDir(Path(path))
    if index_dir.exists():
        raise ViewfinderError(f"{path} already holds an index; give a new directory.")
    index_dir.create(spec, dim)
    catalog = index_dir.open_catalog()
    try:
        vectors = clustered_vectors(n, dim, seed)
        for start in range(0, n, 10_000):
            rows = [
                NewImage(f"/bench/{i:08d}.jpg", "/bench", 1, i, 640, 480, "JPEG", None, vectors[i])
                for i in range(start, min(n, start + 10_000))
            ]
            catalog.commit_batch(images=rows)
        index_dir.save_vectors(rebuild_from_catalog(catalog, dim), catalog.generation())
    finally:
        catalog.close()
    return index_dir.path


@dataclass
class ServeRow:
    """One server configuration: start-up and HTTP latencies in ms (the client's clock)."""

    runtime: str
    first_query_s: float  # from starting the process to the first answered /search
    p50_ms: float  # warm text queries, each new to the server (no cache)
    p99_ms: float
    encode_p50_ms: float  # the server's own timings for the same queries
    search_p50_ms: float
    cache_hit_p50_ms: float  # the same query again
    cache_hit_p99_ms: float


def bench_serve(
    n: int = 100_000,
    model: str = "random:ViT-B-32",
    runtimes: Sequence[str] = ("torch", "onnx", "onnx-int8"),
    queries: int = SERVE_QUERIES,
    index: Path | None = None,
) -> dict:
    """Start-up and text-query latency of `viewfinder serve` over HTTP, per embedding runtime.

    `index` keeps the generated index between runs (it is made when missing); otherwise it is temporary.
    The ONNX exports are made before the clock starts, as a server with a warm cache finds them.
    """
    import shutil
    import tempfile

    from viewfinder.embed import load_embedder
    from viewfinder.models import resolve_model

    scratch = None
    if index is None:
        scratch = Path(tempfile.mkdtemp(prefix="viewfinder-bench-"))
        index = scratch / "index"
    try:
        if not (Path(index) / "manifest.json").exists():
            make_vector_index(Path(index), n, model)
        for runtime in runtimes:
            if runtime != "torch":
                load_embedder(resolve_model(model), "cpu", runtime)  # export and quantise now, not on the clock
        rows = [_serve_row(Path(index), runtime, queries) for runtime in runtimes]
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return {"n": n, "model": model, "queries": queries, "results": [asdict(row) for row in rows]}


def _serve_row(index: Path, runtime: str, queries: int) -> ServeRow:
    import http.client
    import json
    import os
    import subprocess
    import sys
    import tempfile

    command = [sys.executable, "-m", "viewfinder", "serve", "--index", str(index), "--port", "0"]
    command += ["--runtime", runtime, "--device", "cpu"]
    # The server's log goes to a file: a pipe nobody reads would stall the server once full.
    with tempfile.TemporaryFile("w+") as log:
        started = time.perf_counter()
        server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True, env=os.environ)
        try:
            ready = server.stdout.readline() if server.stdout else ""
            if "http://" not in ready:
                log.seek(0)
                raise ViewfinderError(f"viewfinder serve did not start: {ready or log.read()[-500:]}")
            host_port = ready.rsplit("http://", 1)[1].strip().rstrip("/")
            connection = http.client.HTTPConnection(host_port, timeout=120)

            def ask(text: str) -> tuple[float, dict]:
                body = json.dumps({"query": text, "top_k": K})
                began = time.perf_counter()
                connection.request("POST", "/search", body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                answer = json.loads(response.read())
                if response.status != 200:
                    raise ViewfinderError(f"/search answered {response.status}: {answer}")
                return (time.perf_counter() - began) * 1000, answer

            ask("a photo of a dog")
            first_query = time.perf_counter() - started
            cold, encode, search = [], [], []
            for number in range(queries):
                elapsed, answer = ask(f"a photo of a {NOUNS[number % len(NOUNS)]} number {number}")
                cold.append(elapsed)
                encode.append(answer["timings_ms"]["encode"])
                search.append(answer["timings_ms"]["search"])
            hits = [ask("a photo of a dog")[0] for _ in range(queries)]
            connection.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
    return ServeRow(
        runtime=runtime,
        first_query_s=round(first_query, 3),
        p50_ms=_percentile(cold, 50),
        p99_ms=_percentile(cold, 99),
        encode_p50_ms=_percentile(encode, 50),
        search_p50_ms=_percentile(search, 50),
        cache_hit_p50_ms=_percentile(hits, 50),
        cache_hit_p99_ms=_percentile(hits, 99),
    )


def _percentile(values: Sequence[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 3)
