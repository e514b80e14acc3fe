"""HTTP service benchmark: start-up and text-query latency of `viewfinder serve`, per embedding runtime."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from viewfinder.bench.embed import NOUNS
from viewfinder.bench.report import percentile
from viewfinder.bench.search import K
from viewfinder.bench.vectors import clustered_vectors
from viewfinder.errors import ViewfinderError

SERVE_QUERIES = 200


def make_vector_index(path: Path, n: int, model: str = "random:ViT-B-32", seed: int = 0) -> Path:
    """An index directory of n synthetic vectors for `model`, without embedding any image.

    The catalog rows name empty placeholder files in the index directory: search leaves out hits whose file is
    gone, so the files must exist, but their content is never read (no thumbnails).
    The model is loaded (or its ONNX export read) once, for its dimension.
    """
    from viewfinder.models.factory import load_embedder
    from viewfinder.models.registry import resolve_model
    from viewfinder.store.catalog_rows import NewImage
    from viewfinder.store.indexdir import IndexDir

    spec = resolve_model(model)
    dim = load_embedder(spec, "cpu").dim
    index_dir = IndexDir(Path(path))
    if index_dir.exists():
        raise ViewfinderError(f"{path} already holds an index; give a new directory.")
    manifest = index_dir.create(spec, dim)
    catalog = index_dir.open_catalog()
    placeholders = index_dir.path / "bench-images"
    placeholders.mkdir()
    try:
        vectors = clustered_vectors(n, dim, seed)
        for start in range(0, n, 10_000):
            paths = [placeholders / f"{i:08d}.jpg" for i in range(start, min(n, start + 10_000))]
            for placeholder in paths:
                placeholder.touch()
            rows = [
                NewImage(str(p), str(placeholders), 1, i, 640, 480, "JPEG", None, vectors[i])
                for i, p in enumerate(paths, start)
            ]
            catalog.commit_batch(images=rows)
        index_dir.save_vectors(index_dir.rebuild_vectors(catalog, manifest, None), catalog.generation())
    finally:
        catalog.close()
    return index_dir.path


@dataclass
class ServeRow:
    """One server configuration: start-up and HTTP latencies in ms (the client's clock)."""

    runtime: str
    first_query_s: float  # from starting the process to the first answered /search
    p50_ms: float  # warm text queries, each new to the server (no cache)
    p95_ms: float
    p99_ms: float
    encode_p50_ms: float  # the server's own timings for the same queries
    search_p50_ms: float
    rest_p50_ms: float  # each query's time less its encoding: HTTP, validation, search, rating, JSON
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

    from viewfinder.models.factory import load_embedder
    from viewfinder.models.registry import resolve_model

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
        # No thumbnails made in the background: the index's placeholder files are not images, and trying each of
        # them would take the CPU from the queries measured.
        env = {**os.environ, "VIEWFINDER_WARM_THUMBNAILS": "0"}
        server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
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
            cold, encode, search, rest = [], [], [], []
            for number in range(queries):
                elapsed, answer = ask(f"a photo of a {NOUNS[number % len(NOUNS)]} number {number}")
                cold.append(elapsed)
                encode.append(answer["timings_ms"]["encode"])
                search.append(answer["timings_ms"]["search"])
                rest.append(elapsed - encode[-1])
            hits = [ask("a photo of a dog")[0] for _ in range(queries)]
            connection.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
    return ServeRow(
        runtime=runtime,
        first_query_s=round(first_query, 3),
        p50_ms=percentile(cold, 50),
        p95_ms=percentile(cold, 95),
        p99_ms=percentile(cold, 99),
        encode_p50_ms=percentile(encode, 50),
        search_p50_ms=percentile(search, 50),
        rest_p50_ms=percentile(rest, 50),
        cache_hit_p50_ms=percentile(hits, 50),
        cache_hit_p99_ms=percentile(hits, 99),
    )
