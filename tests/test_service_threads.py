"""How the service runs a search on its worker threads."""

from __future__ import annotations

import threading

import anyio.to_thread
import faiss
from cli_helpers import write_colour_images
from starlette.testclient import TestClient

from viewfinder.pipeline.indexer import run_index
from viewfinder.serve.app import create_app
from viewfinder.store.faiss_index import VectorIndex


def test_each_search_runs_its_vector_search_on_one_openmp_thread(tmp_path, monkeypatch):
    # OpenMP keeps its thread count per thread: set only where the server starts, the request threads would
    # search on every core (BENCHMARKS.md: 19 ms instead of 0.5 under load).
    write_colour_images(tmp_path / "photos", 3)
    run_index(tmp_path / "index", [str(tmp_path / "photos")], model="test:tiny")
    threads: list[int] = []
    search = VectorIndex.search

    def counting(self, *args, **kwargs):
        if threading.current_thread() is not threading.main_thread():  # not the warm-up search at start
            threads.append(faiss.omp_get_max_threads())
        return search(self, *args, **kwargs)

    monkeypatch.setattr(VectorIndex, "search", counting)
    with TestClient(create_app(tmp_path / "index", device="cpu"), base_url="http://localhost") as client:
        for text in ("red", "green", "blue"):
            assert client.post("/search", json={"query": text, "top_k": 2}).status_code == 200
    assert len(threads) == 3 and set(threads) == {1}


def test_a_search_hops_to_a_worker_thread_only_for_its_route(tmp_path, monkeypatch):
    # FastAPI runs each plain-function dependency on its thread pool: a guard written so costs every request a
    # hop there and back before the route's own (BENCHMARKS.md, "HTTP service").
    write_colour_images(tmp_path / "photos", 1)
    run_index(tmp_path / "index", [str(tmp_path / "photos")], model="test:tiny")
    hops: list = []
    run_sync = anyio.to_thread.run_sync

    async def counting(function, *args, **kwargs):
        hops.append(function)
        return await run_sync(function, *args, **kwargs)

    app = create_app(tmp_path / "index", device="cpu", api_token="token")
    with TestClient(app, base_url="http://localhost", headers={"Authorization": "Bearer token"}) as client:
        monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
        assert client.post("/search", json={"query": "red", "top_k": 1}).status_code == 200
        assert client.post("/search", content=b"{}", headers={"Content-Type": "text/plain"}).status_code == 415
    assert len(hops) == 1  # the route alone; a refused body never reaches the pool
