"""A Milvus server's collection chooses its search structure by measurement (`milvus_choice`), at the recall
target and on the calibration queries FAISS's chooser uses, and records it beside the generation."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

from viewfinder.bench.vectors import clustered_vectors, mixture_sample
from viewfinder.store import milvus_choice
from viewfinder.store.ann_choice import TARGET_RECALL, recall_at_k
from viewfinder.store.faiss_index import FLAT_MAX
from viewfinder.store.milvus_store import INDEX_NAME, MilvusStore
from viewfinder.store.vector_store import IndexParams

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


@pytest.fixture(scope="module")
def milvus_server():
    from milvus_helpers import run_milvus_server

    with run_milvus_server() as address:
        yield address


@pytest.mark.slow  # starts a Milvus server
def test_a_server_collection_keeps_the_fastest_structure_reaching_the_target_and_records_it(milvus_server):
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
