"""Serving hardening (security review, issue 17): replaced and half-written indexes, the Host check, searches
while a writer deletes, exact folder filters and bounded search work."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest
from cli_helpers import write_colour_images
from PIL import Image
from service_helpers import ADMIN_TOKEN, start_server_process, start_server_thread, wait_for
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from viewfinder.pipeline.indexer import run_index
from viewfinder.search.engine import Filters, SearchEngine
from viewfinder.search.lru import LRUCache
from viewfinder.search.query import Term
from viewfinder.serve.app import create_app
from viewfinder.serve.guards import LOOPBACK_HOSTS, HostGuard
from viewfinder.serve.live import LiveIndex
from viewfinder.store.catalog import NewImage
from viewfinder.store.faiss_index import filter_path
from viewfinder.store.indexdir import IndexDir

MODEL = "test:tiny"


def build(library: Path, index: Path, count: int, seed: int = 0, start: int = 0) -> list[Path]:
    paths = write_colour_images(library, count, seed=seed, start=start)
    run_index(index, [str(library)], model=MODEL)
    return paths


def names(hits) -> set[str]:
    return {hit.image.file_name for hit in hits}


def commit_without_saving_vectors(index: Path, library: Path, count: int) -> list[int]:
    """What a writer killed with -9 leaves: catalog batches committed, the vector file not saved for them."""
    index_dir = IndexDir(index)
    dim = index_dir.read_manifest().dim
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(count, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    images = [
        NewImage(str(library / f"late-{n}.jpg"), str(library), 100, 1, 96, 72, "JPEG", None, vectors[n])
        for n in range(count)
    ]
    for image in images:  # search leaves out rows whose file is gone
        Path(image.path).touch()
    catalog = index_dir.open_catalog()
    try:
        return catalog.commit_batch(images)
    finally:
        catalog.close()


def remove_from_catalog(index: Path, ids: list[int]) -> None:
    """A writer's first batch deleting images, before it saves the vector index."""
    catalog = IndexDir(index).open_catalog()
    try:
        catalog.commit_batch(removed_ids=ids)
    finally:
        catalog.close()


# 5: an index deleted and rebuilt under a running server


def test_an_index_deleted_and_rebuilt_in_place_is_noticed_even_at_the_same_generation(tmp_path: Path):
    index = tmp_path / "index"
    build(tmp_path / "old", index, 4)
    live = LiveIndex(index, device="cpu")
    try:
        old_generation = live.generation
        shutil.rmtree(index)
        rebuilt = build(tmp_path / "new", index, 3, seed=9, start=100)
        assert SearchEngine.open(index, device="cpu").generation == old_generation  # numbers alone cannot tell
        assert live.refresh() is True
        with live.engine() as engine:
            assert names(engine.search([Term(text="sky")], k=50).hits) == {path.name for path in rebuilt}
        assert live.stats().images == 3
        assert live.refresh() is False  # and it settles
    finally:
        live.close()


def test_reindex_after_the_index_was_rebuilt_scans_the_new_index_sources(tmp_path: Path):
    index, new_library = tmp_path / "index", tmp_path / "new"
    build(tmp_path / "old", index, 4)
    app = create_app(index, device="cpu", admin_token=ADMIN_TOKEN, poll_seconds=3600)  # no swap before the job
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with start_server_thread(app) as url, httpx.Client(base_url=url, headers=admin, timeout=60) as client:
        shutil.rmtree(index)
        build(new_library, index, 3, seed=9, start=100)
        write_colour_images(new_library, 2, seed=11, start=200)
        assert client.post("/admin/reindex").status_code == 202
        wait_for(lambda: client.get("/admin/reindex").json()["job"]["state"] != "running", what="the job")
        job = client.get("/admin/reindex").json()["job"]
        assert job["state"] == "done" and job["roots"] == [str(new_library)] and job["report"]["added"] == 2
        found = client.post("/search", json={"query": "anything", "top_k": 100}).json()["results"]
        assert len(found) == 5 and all(result["file_name"].startswith("image-0") for result in found)


# 6: a writer killed mid-run leaves committed images the saved vector index lacks


def test_images_committed_by_a_killed_writer_are_served_once_no_writer_holds_the_lock(tmp_path: Path):
    library, index = tmp_path / "photos", tmp_path / "index"
    build(library, index, 4)
    live = LiveIndex(index, device="cpu")
    try:
        added = commit_without_saving_vectors(index, library, 2)
        with IndexDir(index).writer_lock():
            assert live.refresh() is False  # a live writer: its final save is awaited, nothing is rebuilt
        assert live.refresh() is True
        with live.engine() as engine:
            assert engine.vectors.count == 6
            first = engine.search([Term(image_id=str(added[0]))], k=1).hits[0]
            assert first.image.id == added[0]
        assert live.refresh() is False  # rebuilt once, not at every poll
    finally:
        live.close()


# 7: DNS rebinding: the Host header


@pytest.fixture(scope="module")
def loopback_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("hosts")
    build(root / "photos", root / "index", 3)
    with start_server_thread(create_app(root / "index", device="cpu")) as url:
        yield url


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8000", "127.0.0.1.nip.io", "", "[::1"])
def test_a_loopback_server_refuses_other_host_names_with_a_json_error(loopback_server, host):
    with httpx.Client(base_url=loopback_server, headers={"Host": host}) as client:
        for response in (client.post("/search", json={"query": "cat"}), client.get("/images/1"), client.get("/")):
            assert response.status_code == 400
            assert response.json()["success"] is False and "--allowed-host" in response.json()["error"]


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST:8000", "127.0.0.1", "127.0.0.1:1234", "[::1]:8000"])
def test_a_loopback_server_answers_loopback_host_names_on_any_port(loopback_server, host):
    with httpx.Client(base_url=loopback_server, headers={"Host": host}) as client:
        assert client.post("/search", json={"query": "cat"}).status_code == 200
        assert client.get("/images/1").status_code == 200


def host_guarded(allowed: list[str], any_ip: bool = False) -> TestClient:
    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("ok"))])
    return TestClient(HostGuard(app, allowed, any_ip=any_ip))


def test_the_host_allow_list_takes_names_any_ip_or_everything():
    lan = host_guarded([*LOOPBACK_HOSTS, "photos.lan"], any_ip=True)
    for host in ("photos.lan", "Photos.LAN:8000", "192.168.1.20:8000", "[fe80::1]:8000", "localhost"):
        assert lan.get("/", headers={"Host": host}).status_code == 200, host
    assert lan.get("/", headers={"Host": "evil.example"}).status_code == 400
    loopback = host_guarded(list(LOOPBACK_HOSTS))
    assert loopback.get("/", headers={"Host": "192.168.1.20"}).status_code == 400
    assert host_guarded(["*"]).get("/", headers={"Host": "evil.example"}).status_code == 200


@pytest.mark.parametrize(
    ("args", "env"),
    [(["--allowed-host", "photos.lan"], {}), ([], {"VIEWFINDER_ALLOWED_HOSTS": "other.lan, photos.lan"})],
)
def test_serve_allows_the_hosts_given_with_allowed_host_or_the_environment(tmp_path: Path, args, env):
    build(tmp_path / "photos", tmp_path / "index", 2)
    with start_server_process(tmp_path / "index", *args, env=env) as url, httpx.Client(base_url=url) as client:
        assert client.get("/healthz", headers={"Host": "photos.lan:8000"}).status_code == 200
        assert client.get("/healthz", headers={"Host": "localhost"}).status_code == 200
        refused = client.get("/healthz", headers={"Host": "attacker.example"})
        assert refused.status_code == 400 and refused.json()["success"] is False


# 8: searches while a writer deletes images


def test_top_k_results_come_back_while_a_writer_deletes_the_best_matches(tmp_path: Path):
    index = tmp_path / "index"
    build(tmp_path / "photos", index, 12)
    with SearchEngine.open(index, device="cpu") as engine:
        best = [hit.image.id for hit in engine.search([Term(text="sky")], k=6).hits]
        remove_from_catalog(index, best)  # the engine's vector index still holds them
        hits = engine.search([Term(text="sky")], k=6).hits
        assert len(hits) == 6 and not {hit.image.id for hit in hits} & set(best)
        assert [hit.rank for hit in hits] == [1, 2, 3, 4, 5, 6]
        assert len(engine.search([Term(text="sky")], k=12).hits) == 6  # all that is left


def test_cached_answers_follow_the_catalog_generation(tmp_path: Path):
    index = tmp_path / "index"
    build(tmp_path / "photos", index, 6)
    query = {"query": "sky", "top_k": 6}
    with start_server_thread(create_app(index, device="cpu")) as url, httpx.Client(base_url=url) as client:
        first = client.post("/search", json=query).json()
        assert client.post("/search", json=query).json()["cached"] is True
        deleted = first["results"][0]["image_id"]
        with IndexDir(index).writer_lock():  # a writer at work: the server keeps its engine
            remove_from_catalog(index, [int(deleted)])
            again = client.post("/search", json=query).json()
        assert again["cached"] is False and deleted not in {r["image_id"] for r in again["results"]}


# 9: exact folder filters


@pytest.fixture(scope="module")
def folders_engine(tmp_path_factory):
    library = tmp_path_factory.mktemp("folders") / "photos"
    for number, folder in enumerate(["Trip", "trip", "trip/sub", "trips", "x_y", "xay", ""]):
        (library / folder).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (80 + number, 60), (30 * number, 90, 120)).save(library / folder / f"p{number}.jpg")
    run_index(library.parent / "index", [str(library)], model=MODEL)
    with SearchEngine.open(library.parent / "index", device="cpu") as engine:
        yield engine


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        ("trip", {"p1.jpg", "p2.jpg"}),
        ("Trip", {"p0.jpg"}),
        ("trip/", {"p1.jpg", "p2.jpg"}),
        ("TRIP", set()),
        ("x_y", {"p4.jpg"}),
        ("/", {f"p{n}.jpg" for n in range(7)}),
        ("", {f"p{n}.jpg" for n in range(7)}),
    ],
)
def test_the_folder_filter_is_exact_and_case_sensitive_and_slash_is_the_root(folders_engine, folder, expected):
    hits = folders_engine.search([Term(text="photo")], k=50, filters=Filters(folder=folder)).hits
    assert names(hits) == expected


# 13: bounded work: the response cache's bytes and match-all filters


def test_the_response_cache_keeps_to_its_byte_budget():
    cache: LRUCache[str] = LRUCache(100, max_bytes=1000)
    for number in range(10):
        cache.put(number, f"answer {number}", nbytes=300)
    assert len(cache) == 3 and cache.bytes == 900
    assert cache.get(9) is not None and cache.get(6) is None  # the oldest went first
    cache.put("huge", "too big", nbytes=5000)
    assert cache.get("huge") is None and cache.bytes == 900
    cache.put(9, "smaller", nbytes=100)
    assert cache.bytes == 700 and cache.get(9) == "smaller"


def test_a_filter_matching_everything_searches_unfiltered_and_a_narrow_one_uses_the_selector(
    folders_engine, monkeypatch
):
    seen: list[np.ndarray | None] = []
    search = folders_engine.vectors.search

    def spy(queries, k, allowed=None):
        seen.append(allowed)
        return search(queries, k, allowed)

    monkeypatch.setattr(folders_engine.vectors, "search", spy)
    everything = folders_engine.search([Term(text="photo")], k=50, filters=Filters(min_width=1)).hits
    assert len(everything) == 7 and len(seen) == 1 and seen[0] is None
    seen.clear()
    most = folders_engine.search([Term(text="photo")], k=50, filters=Filters(min_width=81)).hits
    assert names(most) == {f"p{n}.jpg" for n in range(1, 7)} and seen[0] is None  # post-filtered
    seen.clear()
    narrow = folders_engine.search([Term(text="photo")], k=50, filters=Filters(folder="xay")).hits
    assert names(narrow) == {"p5.jpg"} and sorted(seen[0]) == [narrow[0].image.id]
    assert filter_path(90, 100) == "post" and filter_path(5, 100_000) == "selector"


def test_the_new_texts_of_a_many_term_query_are_embedded_in_one_batch(folders_engine, monkeypatch):
    calls: list[int] = []
    encode = folders_engine.embedder.encode_texts

    def spy(texts):
        calls.append(len(texts))
        return encode(texts)

    monkeypatch.setattr(folders_engine.embedder, "encode_texts", spy)
    terms = [Term(text=f"a long description of picture number {n}") for n in range(16)]
    batched = folders_engine.search(terms, k=5).hits
    assert calls == [16]
    assert len(batched) == 5 and folders_engine.search(terms, k=5).hits == batched and calls == [16]  # cached
