"""Index parameter choice, IVF recall against exact search, updates by id and atomic saves."""

from __future__ import annotations

import numpy as np
import pytest

from viewfinder.store.faiss_families import MAX_NLIST
from viewfinder.store.faiss_index import (
    FLAT_MAX,
    TARGET_RECALL,
    IndexParams,
    VectorIndex,
    choose_params,
    needs_retrain,
    recall_at_k,
)


def clustered_vectors(n: int, dim: int = 64, clusters: int = 150, seed: int = 0) -> np.ndarray:
    """Unit vectors from a mixture of Gaussian clusters, shaped like image embeddings."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim))
    members = rng.integers(0, clusters, n)
    spread = rng.uniform(0.3, 0.8, clusters)[members, None]
    vectors = centres[members] + spread * rng.standard_normal((n, dim))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def test_small_collections_are_exact_and_large_ones_ivf_with_about_four_root_n_lists():
    assert choose_params(FLAT_MAX - 1).kind == "flat"
    params = choose_params(100_000)
    assert params.kind == "ivf" and 1200 <= params.nlist <= 1300
    assert choose_params(1_000_000).nlist == MAX_NLIST


def test_retrain_when_the_collection_outgrows_the_trained_size():
    assert needs_retrain(IndexParams("flat"), FLAT_MAX)
    assert not needs_retrain(IndexParams("flat"), FLAT_MAX - 1)
    trained = IndexParams("ivf", nlist=600, nprobe=8, trained_size=30_000)
    assert not needs_retrain(trained, 50_000)
    assert needs_retrain(trained, 61_000)


@pytest.mark.slow  # builds and measures indexes over 30,000 vectors
def test_the_chosen_index_reaches_the_target_recall_at_50_against_exact_search():
    data, queries = np.split(clustered_vectors(30_200), [30_000])
    ids = np.arange(10, 30_010, dtype=np.int64)
    index = VectorIndex.build(ids, data, 64)  # which family wins is measured: any, at the target recall
    assert index.params.recall_at_50 >= TARGET_RECALL
    assert index.params.kind != "ivf" or 0 < index.params.nprobe < index.params.nlist

    exact = VectorIndex.empty(64)
    exact.add(ids, data)
    _, truth = exact.search(queries, 50)
    _, found = index.search(queries, 50)
    assert recall_at_k(found, truth) >= TARGET_RECALL - 0.01


def test_exact_index_matches_numpy_and_respects_updates_deletes_and_filters(tmp_path):
    data = clustered_vectors(500, dim=16)
    ids = np.arange(1, 501, dtype=np.int64) * 1000
    index = VectorIndex.build(ids, data, 16)
    query = data[3]
    _, found = index.search(query, 10)
    assert found[0].tolist() == ids[np.argsort(-(data @ query), kind="stable")][:10].tolist()

    index.remove(ids[:1])
    index.remove(ids[3:4])
    index.add(ids[3:4], data[4:5])
    _, found = index.search(data[4], 2)
    assert set(found[0]) == {ids[3], ids[4]}
    assert ids[0] not in index.search(data[0], 500)[1][0]

    allowed = ids[100:110]
    _, filtered = index.search(query, 50, allowed=allowed)
    assert set(filtered[0][filtered[0] >= 0]) == set(allowed)

    index.save(tmp_path, generation=7)
    loaded, generation = VectorIndex.load(tmp_path)
    assert generation == 7 and loaded.count == index.count
    assert loaded.search(query, 5)[1].tolist() == index.search(query, 5)[1].tolist()
    index.save(tmp_path, generation=8)
    assert sorted(p.name for p in tmp_path.glob("vectors-*.faiss")) == ["vectors-8.faiss"]


def test_every_kind_of_index_gives_back_the_vectors_of_its_ids_after_a_save_and_load(tmp_path):
    """A published snapshot's catalog reads its vectors from the index: each kind must return them exactly."""
    import faiss

    from viewfinder.store.faiss_families import hnsw_index

    dim, ids = 32, np.arange(3000, dtype=np.int64) * 7 + 5
    data = clustered_vectors(len(ids), dim)
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, 16, faiss.METRIC_INNER_PRODUCT)
    ivf.train(data)
    ivf.add_with_ids(data, ids)
    flat = VectorIndex.empty(dim)
    flat.add(ids, data)
    made = {
        "flat": flat,
        "ivf": VectorIndex(ivf, IndexParams("ivf", nlist=16, nprobe=4), dim),
        "hnsw": VectorIndex(hnsw_index(ids, data, dim, 32), IndexParams("hnsw", ef_search=32), dim),
    }
    asked = ids[[0, 2999, 1234, 17]]
    for kind, index in made.items():
        folder = tmp_path / kind
        folder.mkdir()
        index.save(folder, generation=1)
        loaded, _ = VectorIndex.load(folder)
        assert loaded.params.kind == kind
        assert np.array_equal(loaded.vectors_of(asked), data[[0, 2999, 1234, 17]]), kind
        assert loaded.vectors_of(np.empty(0, np.int64)).shape == (0, dim)
        with pytest.raises(KeyError):
            loaded.vectors_of(np.array([6]))  # never added
