"""How the service runs a search on its worker threads."""

from __future__ import annotations

import threading

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
