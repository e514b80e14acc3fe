"""A Milvus server's collection chooses its search structure by measurement (`milvus_choice`), at the recall
target and on the calibration queries FAISS's chooser uses, and records it beside the generation."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

from viewfinder.bench.vectors import clustered_vectors, mixture_sample
from viewfinder.store import ann_choice, factory, milvus_choice, milvus_store
from viewfinder.store.ann_choice import TARGET_RECALL, recall_at_k
from viewfinder.store.catalog import Catalog
from viewfinder.store.catalog_rows import NewImage
from viewfinder.store.faiss_index import FLAT_MAX
from viewfinder.store.milvus_store import INDEX_NAME, MilvusStore
from viewfinder.store.vector_store import IndexParams, StoreAddress

DIM = 32
N = 3000


def test_the_family_names_a_milvus_graph_with_its_construction_breadth():
    assert IndexParams("milvus").family == "FLAT"
    assert IndexParams("milvus", hnsw_m=16, ef_construction=200, ef_search=64).family == "HNSW16,efConstruction=200"


def test_only_a_server_collection_is_measured_again_as_it_grows_or_shrinks():
    def store(uri: str, params: IndexParams) -> MilvusStore:
        return MilvusStore(None, uri, "photos", DIM, params=params)  # outgrown asks nothing of the client

    lite = store("/tmp/milvus.db", IndexParams("milvus"))
    assert not lite.outgrown(10 * FLAT_MAX)
    new = store("http://127.0.0.1:19530", IndexParams("milvus"))
    assert not new.outgrown(FLAT_MAX - 1) and new.outgrown(FLAT_MAX)
    chosen = store("http://127.0.0.1:19530", IndexParams("milvus", trained_size=50_000, hnsw_m=16))
    assert not chosen.outgrown(100_000) and chosen.outgrown(100_001) and chosen.outgrown(FLAT_MAX // 2 - 1)


def fewer_shapes(monkeypatch: pytest.MonkeyPatch, shapes: tuple[tuple[int, int], ...]) -> None:
    """Only these graph shapes: each candidate's index is built and loaded on the server in turn, ~3 s each.
    Each is timed on 50 single queries rather than 200: a median a little noisier, which only the choice
    between near-equal candidates depends on, and which candidate wins is not asserted, only that the one
    measured fastest does."""
    monkeypatch.setattr(milvus_choice, "SHAPES", shapes)
    monkeypatch.setattr(ann_choice, "LATENCY_QUERIES", 50)


@pytest.mark.slow  # starts a Milvus server
def test_a_server_collection_keeps_the_fastest_structure_reaching_the_target_and_records_it(milvus_server, monkeypatch):
    fewer_shapes(monkeypatch, ((16, 100),))  # one graph beside the exact search: a choice of two
    vectors = clustered_vectors(N, DIM, seed=3)
    ids = np.arange(N, dtype=np.int64) * 7 + 1  # catalog ids need not be positions
    collection = f"choice_{uuid.uuid4().hex[:8]}"
    store = MilvusStore.connect(milvus_server, collection, DIM)
    store.add(ids, vectors)
    store.save(Path(), 1)
    measured = store.choose_index(ids, vectors)

    assert {one.shape for one in measured} == {milvus_choice.EXACT, *milvus_choice.SHAPES}
    winner = measured[0]
    assert winner.p50_ms == min(one.p50_ms for one in measured)
    assert all(one.recall >= TARGET_RECALL for one in measured)
    params = store.params
    assert (params.hnsw_m, params.ef_construction) == winner.shape and params.ef_search == winner.ef
    assert params.recall_at_50 == winner.recall and params.trained_size == N and params.calibrated_on == "stored"
    built = store.client.describe_index(collection, INDEX_NAME)
    assert built["index_type"] == ("HNSW" if params.hnsw_m else "FLAT")
    if params.hnsw_m:
        assert int(built["M"]) == params.hnsw_m and int(built["efConstruction"]) == params.ef_construction

    queries = mixture_sample(200, DIM, 3, 4)  # fresh queries, never stored
    exact = ids[np.argsort(-(queries @ vectors.T), axis=1)[:, :10]]
    assert recall_at_k(store.search(queries, 10)[1], exact) >= 0.95

    store.save(Path(), 2)
    store.close()
    reopened = MilvusStore.connect(milvus_server, collection, DIM)
    assert reopened.params == params and reopened.generation() == 2
    reopened.close()


def catalog_of(folder: Path, vectors: np.ndarray) -> tuple[Catalog, np.ndarray]:
    """A catalog of these vectors, and their ids."""
    images = [
        NewImage(
            path=f"/photos/{number:05d}.jpg",
            root="/photos",
            size=1000 + number,
            mtime_ns=number,
            width=640,
            height=480,
            format="JPEG",
            taken_at=None,
            vector=vector,
            content_hash=f"hash-{number}",
        )
        for number, vector in enumerate(vectors)
    ]
    made = Catalog(folder / "catalog.sqlite")
    return made, np.asarray(made.commit_batch(images=images), np.int64)


@pytest.mark.slow  # starts a Milvus server
def test_an_index_in_a_server_is_measured_on_reaching_flat_max_and_exact_again_when_it_shrinks(
    milvus_server, tmp_path, monkeypatch
):
    monkeypatch.setattr(milvus_store, "FLAT_MAX", 300)  # the real threshold, 20,000 rows, takes minutes to write
    fewer_shapes(monkeypatch, ((16, 100),))  # what is chosen is the test above's concern
    catalog, ids = catalog_of(tmp_path, clustered_vectors(400, DIM, seed=5))
    address = StoreAddress(tmp_path, milvus_server, f"grown_{uuid.uuid4().hex[:8]}", DIM)
    store = factory.rebuild(address, f"milvus:{milvus_server}", catalog, None)
    chosen = store.params
    assert chosen.trained_size == 400 and chosen.recall_at_50 is not None and chosen.recall_at_50 >= TARGET_RECALL
    assert chosen.p50_ms is not None and chosen.calibrated_on == "stored"
    reopened, generation = MilvusStore.open(address, catalog)
    assert reopened.params == chosen and generation == catalog.generation()
    reopened.close()

    gone = ids[:260]  # 140 left: below half of FLAT_MAX
    catalog.commit_batch(removed_ids=gone.tolist())
    shrunk = factory.apply_changes(store, catalog, gone, np.empty(0, np.int64), np.empty((0, DIM), np.float32))
    assert shrunk.count == 140 and shrunk.params == IndexParams("milvus")
    assert store.client.describe_index(address.collection, INDEX_NAME)["index_type"] == "FLAT"
    store.client.drop_collection(address.collection)
    store.close()
    catalog.close()
