"""An index that changes under a running server or an open engine: deleted and rebuilt in place, left by a
writer killed mid-run, or losing images to a writer while searches run."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import numpy as np
from cli_helpers import write_colour_images
from index_helpers import build, names
from service_helpers import ADMIN_TOKEN, start_server_thread, wait_for

from viewfinder.app import Index, LiveIndex
from viewfinder.search.query import Term
from viewfinder.serve.app import create_app
from viewfinder.store.catalog_rows import NewImage
from viewfinder.store.indexdir import IndexDir


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


# An index deleted and rebuilt under a running server


def test_an_index_deleted_and_rebuilt_in_place_is_noticed_even_at_the_same_generation(tmp_path: Path):
    index = tmp_path / "index"
    build(tmp_path / "old", index, 4)
    live = LiveIndex(index, device="cpu")
    try:
        old_generation = live.generation
        shutil.rmtree(index)
        rebuilt = build(tmp_path / "new", index, 3, seed=9, start=100)
        assert Index(index, device="cpu").generation == old_generation  # numbers alone cannot tell
        assert live.refresh() is True
        with live.index() as engine:
            assert names(engine.search([Term(text="sky")], k=50).hits) == {path.name for path in rebuilt}
        assert live.info().images == 3
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


# A writer killed mid-run leaves committed images the saved vector index lacks


def test_images_committed_by_a_killed_writer_are_served_once_no_writer_holds_the_lock(tmp_path: Path):
    library, index = tmp_path / "photos", tmp_path / "index"
    build(library, index, 4)
    live = LiveIndex(index, device="cpu")
    try:
        added = commit_without_saving_vectors(index, library, 2)
        with IndexDir(index).writer_lock():
            assert live.refresh() is False  # a live writer: its final save is awaited, nothing is rebuilt
        assert live.refresh() is True
        with live.index() as engine:
            assert engine.vectors.count == 6
            # Searched by its id, a late image's stored vector ranks the others (it leaves itself out), and
            # every image, the late ones too, is found.
            assert len(engine.search([Term(image_id=str(added[0]))], k=6).hits) == 5
            every = engine.search([Term(text="a photo")], k=6, min_relevance=0).hits
            assert set(added) <= {hit.image.id for hit in every}
        assert live.refresh() is False  # rebuilt once, not at every poll
    finally:
        live.close()


# Searches while a writer deletes images


def test_top_k_results_come_back_while_a_writer_deletes_the_best_matches(tmp_path: Path):
    index = tmp_path / "index"
    build(tmp_path / "photos", index, 12)
    with Index(index, device="cpu") as engine:
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
