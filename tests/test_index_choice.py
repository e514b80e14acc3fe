"""The index chosen by measuring on the collection: exact when small, HNSW or IVF when faster at the target recall.

Latencies are stubbed (tests never depend on timing): the stub reports the candidates' medians in the order
the chooser measures them (exact, HNSW, IVF); recall is measured for real.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from cli_helpers import run_cli_json

from viewfinder.bench.vectors import clustered_vectors, mixture_sample
from viewfinder.store import ann_choice, faiss_families, faiss_index
from viewfinder.store.faiss_index import TARGET_RECALL, VectorIndex, needs_retrain, recall_at_k

DIM = 32


def stub_latencies(monkeypatch: pytest.MonkeyPatch, *medians: float) -> list[float]:
    """Makes the chooser's latency measurements return `medians` in turn; returns the list of those used."""
    given: Iterator[float] = iter(medians)
    used: list[float] = []

    def latencies_ms(self, searches) -> list[float]:
        for search in searches:
            search(self.queries[:1])
        used.extend(next(given) for _ in searches)
        return used[-len(searches) :]

    monkeypatch.setattr(ann_choice.Calibration, "latencies_ms", latencies_ms)
    return used


def exact_top(data: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int) -> list[list[int]]:
    return [ids[np.argsort(-(data @ q), kind="stable")][:k].tolist() for q in queries]


def test_small_collections_are_exact_without_measuring():
    data = clustered_vectors(2000, DIM)

    def never() -> np.ndarray:
        raise AssertionError("a small collection needs no calibration queries")

    index = VectorIndex.build(np.arange(2000), data, DIM, queries=never)
    assert index.params.kind == "flat" and index.params.recall_at_50 is None


@pytest.mark.slow  # builds HNSW and IVF indexes over 25,000 vectors
def test_chooser_records_hnsw_with_its_recall_when_it_beats_exact_and_ivf(monkeypatch):
    n = 25_000  # the smallest size with 39 training points per IVF list, so IVF is a candidate too
    monkeypatch.setattr(faiss_index, "FLAT_MAX", 1000)
    used = stub_latencies(monkeypatch, 3.0, 0.2, 0.5)  # exact, HNSW, IVF
    data, ids = clustered_vectors(n, DIM), np.arange(n, dtype=np.int64) * 7
    text_side = mixture_sample(150, DIM, 0, 5)
    index = VectorIndex.build(ids, data, DIM, queries=text_side)

    assert used == [3.0, 0.2, 0.5]  # all three candidates reached the target and were timed
    params = index.params
    assert params.kind == "hnsw" and params.family == "HNSW32" and params.ef_search >= 16
    assert params.recall_at_50 >= TARGET_RECALL and params.calibrated_on == "prompts" and params.p50_ms == 0.2
    held_out = mixture_sample(200, DIM, 0, 9)
    found = index.search(held_out, 50)[1]
    truth = np.asarray(exact_top(data, ids, held_out, 50))
    assert recall_at_k(found, truth) >= TARGET_RECALL - 0.01
    assert not needs_retrain(params, 2 * n) and needs_retrain(params, 2 * n + 1)


def test_chooser_keeps_exact_search_when_no_candidate_is_faster(monkeypatch):
    monkeypatch.setattr(faiss_index, "FLAT_MAX", 1000)
    stub_latencies(monkeypatch, 0.1, 0.3)  # exact, HNSW (too few vectors for IVF)
    data = clustered_vectors(3000, DIM)
    index = VectorIndex.build(np.arange(3000), data, DIM)
    params = index.params
    assert params.kind == "flat" and params.recall_at_50 == 1.0 and params.calibrated_on == "stored"
    assert index.count == 3000 and not needs_retrain(params, 3001)  # measured at this size: no re-choice
    query = data[5]
    assert index.search(query, 10)[1][0].tolist() == exact_top(data, np.arange(3000), query[None], 10)[0]


@pytest.fixture(scope="module")
def built_hnsw() -> tuple[VectorIndex, np.ndarray, np.ndarray]:
    """An HNSW index chosen over 4,000 vectors, built once for the module (a graph takes a second to build)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(faiss_index, "FLAT_MAX", 1000)
        stub_latencies(monkeypatch, 5.0, 0.1)
        data = clustered_vectors(4000, DIM, seed=3)
        ids = np.arange(1, 4001, dtype=np.int64) * 1000
        index = VectorIndex.build(ids, data, DIM)
    assert index.params.kind == "hnsw"
    return index, ids, data


@pytest.fixture
def hnsw(built_hnsw) -> tuple[VectorIndex, np.ndarray, np.ndarray]:
    """built_hnsw's index as a copy of its own, which a test may change."""
    import faiss

    index, ids, data = built_hnsw
    return VectorIndex(faiss.clone_index(index.index), index.params, DIM), ids, data


def test_hnsw_removes_and_updates_by_rebuilding_its_graph(hnsw, tmp_path):
    index, ids, data = hnsw
    index.remove(ids[:10])
    index.remove(np.array([123], np.int64))  # unknown ids are ignored
    assert index.count == 3990 and not set(ids[:10]) & set(index.ids())
    index.remove(ids[20:21])  # an update: the id leaves, then comes back with another vector
    index.add(ids[20:21], data[30:31])
    assert set(index.search(data[30], 2)[1][0]) == {ids[20], ids[30]}
    assert index.params.kind == "hnsw" and index.count == 3990

    index.save(tmp_path, generation=3)
    loaded, generation = VectorIndex.load(tmp_path)
    assert generation == 3 and loaded.params == index.params and loaded.count == 3990
    assert loaded.search(data[:5], 10)[1].tolist() == index.search(data[:5], 10)[1].tolist()


@pytest.mark.parametrize("allowed_count", [40, 1500])  # an exact scan of the few; the graph walk's selector
def test_hnsw_filtered_search_equals_exact_search_over_the_allowed_ids(hnsw, allowed_count):
    index, ids, data = hnsw
    rng = np.random.default_rng(1)
    chosen = np.sort(rng.choice(len(ids), allowed_count, replace=False))
    allowed = np.concatenate([ids[chosen], [7]])  # an id the index does not hold is ignored
    queries = data[rng.choice(len(ids), 5, replace=False)]
    _, found = index.search(queries, 20, allowed=allowed)
    assert found.tolist() == exact_top(data[chosen], ids[chosen], queries, 20)


def test_info_shows_the_chosen_index_measured_on_the_models_text_queries(capsys, library, tmp_path, monkeypatch):
    monkeypatch.setattr(faiss_index, "FLAT_MAX", 10)
    index = tmp_path / "index"
    run_cli_json(capsys, "index", library, "--index", index, "--model", "test:tiny")
    info = run_cli_json(capsys, "info", "--index", index)
    assert info["index_family"] in {"Flat", "HNSW32"} and info["index_type"] in {"flat", "hnsw"}
    assert info["recall_at_50"] >= TARGET_RECALL and info["calibrated_on"] == "prompts"
    assert (info["ef_search"] > 0) == (info["index_type"] == "hnsw")


def spy_on_families(monkeypatch, hnsw_fails_above: int | None = None) -> dict[str, list[int]]:
    """With FLAT_MAX 500 and FAMILY_SAMPLE 1500: the sizes each family's candidate is built at, by family;
    HNSW reaches no efSearch meeting the target above `hnsw_fails_above` vectors when it is given."""
    monkeypatch.setattr(faiss_index, "FLAT_MAX", 500)
    monkeypatch.setattr(faiss_index, "FAMILY_SAMPLE", 1500)
    built: dict[str, list[int]] = {"hnsw": [], "ivf": []}
    for kind in built:
        real = getattr(faiss_families, f"{kind}_candidate")

        def spy(ids, *args, kind=kind, real=real):
            built[kind].append(len(ids))
            fails = kind == "hnsw" and hnsw_fails_above is not None and len(ids) > hnsw_fails_above
            return None if fails else real(ids, *args)

        spy.__name__ = real.__name__
        monkeypatch.setattr(faiss_families, f"{kind}_candidate", spy)
    return built


def test_a_large_collection_builds_only_the_family_that_won_on_a_sample(monkeypatch):
    built = spy_on_families(monkeypatch)
    stub_latencies(monkeypatch, 3.0, 0.2, 9.0, 0.3)  # sample: exact, HNSW; full size: exact, HNSW
    data = clustered_vectors(4000, DIM)
    index = VectorIndex.build(np.arange(4000), data, DIM)
    assert built == {"hnsw": [1500, 4000], "ivf": [1500]}
    assert index.params.kind == "hnsw" and index.params.trained_size == 4000 and index.params.p50_ms == 0.3


def test_when_the_samples_family_misses_the_target_at_full_size_the_other_family_is_tried(monkeypatch):
    # HNSW wins on the sample but reaches no efSearch that meets the target at full size.
    built = spy_on_families(monkeypatch, hnsw_fails_above=1500)
    stub_latencies(monkeypatch, 3.0, 0.2, 9.0)  # sample: exact, HNSW; full size: exact alone
    data = clustered_vectors(4000, DIM)
    index = VectorIndex.build(np.arange(4000), data, DIM)
    assert built == {"hnsw": [1500, 4000], "ivf": [1500, 4000]}  # IVF at full size too, before exact wins
    assert index.params.kind == "flat"
