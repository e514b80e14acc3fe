"""`viewfinder bench`: the shape of its results on tiny inputs (never its timings), and the index helper."""

from __future__ import annotations

import numpy as np
import pytest
from cli_helpers import run_cli, run_cli_json

from viewfinder import bench

SEARCH_FIELDS = {"index", "p50_ms", "p99_ms", "recall_at_50", "build_s", "bytes"}


def test_bench_search_json_has_a_row_per_index_with_the_contract_fields(capsys):
    result = run_cli_json(capsys, "bench", "search", "--n", "3000", "--dim", "16", "--queries", "60")
    assert result["n"] == 3000 and result["dim"] == 16
    rows = {row["index"]: row for row in result["results"]}
    assert {"numpy", "flat", "default", "default,threads=1", "HNSW32,efSearch=64"} <= set(rows)
    for row in rows.values():
        assert set(row) >= SEARCH_FIELDS
        assert 0 <= row["recall_at_50"] <= 1 and row["p50_ms"] <= row["p99_ms"] and row["bytes"] > 0
    assert rows["numpy"]["recall_at_50"] == rows["flat"]["recall_at_50"] == 1.0


def test_bench_search_takes_real_vectors_whose_last_thousand_rows_are_queries(capsys, tmp_path):
    vectors = bench.clustered_vectors(2500, 8, seed=3)
    np.save(tmp_path / "real.npy", vectors)
    result = run_cli_json(capsys, "bench", "search", "--vectors", tmp_path / "real.npy", "--only", "default")
    assert result["n"] == 1500 and result["dim"] == 8
    np.save(tmp_path / "raw.npy", vectors * 3)
    code, _, err = run_cli(capsys, "bench", "search", "--vectors", tmp_path / "raw.npy")
    assert code == 2 and "unit-length" in err


def test_synthetic_queries_come_from_the_mixture_but_not_the_database():
    base = bench.clustered_vectors(4000, 32, seed=1)
    queries = bench.mixture_sample(200, 32, 1, 2)
    assert np.allclose(np.linalg.norm(base, axis=1), 1, atol=1e-5)
    nearest = (queries @ base.T).max(axis=1)
    assert nearest.max() < 0.9999 and np.median(nearest) > 0.5  # close to clusters, never a stored vector


@pytest.mark.slow  # exports the model to ONNX fp32 and int8 in a fresh cache
def test_bench_embed_reports_decode_model_and_pipeline_throughput(tmp_path):
    result = bench.bench_embed("test:tiny", count=8, device="cpu", batch_size=4, sizes=[(320, 240)], cache=tmp_path)
    (row,) = result["results"]
    assert row["size"] == "320x240" and row["jpeg_kb"] > 0
    assert min(row["decode_per_s"], row["model_per_s"], row["pipeline_per_s"]) > 0
    assert row["pipeline_vs_model"] == round(row["pipeline_per_s"] / row["model_per_s"], 3)
    assert 0 < row["pipeline_cpu_use"] <= 1.05 and result["peak_rss_mb"] > 0
    assert len(list((tmp_path / "320x240").glob("*.jpg"))) == 8


@pytest.mark.slow
def test_make_vector_index_gives_a_searchable_index_without_images(tmp_path):
    from viewfinder.app import Index
    from viewfinder.search.query import Term

    path = bench.make_vector_index(tmp_path / "index", 500, "test:tiny")
    engine = Index(path, device="cpu")
    try:
        result = engine.search([Term(text="a dog")], k=20)
    finally:
        engine.close()
    assert len(result.hits) == 20 and engine.manifest.model == "test:tiny"


@pytest.mark.slow  # starts servers
def test_bench_serve_reports_start_up_and_http_latencies(tmp_path):
    result = bench.bench_serve(300, "test:tiny", ["onnx"], queries=5, index=tmp_path / "index")
    (row,) = result["results"]
    assert row["runtime"] == "onnx" and row["first_query_s"] > 0
    assert row["cache_hit_p50_ms"] > 0 and 0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"]
    assert 0 < row["rest_p50_ms"] <= row["p99_ms"]
    assert row["encode_p50_ms"] >= 0 and row["search_p50_ms"] >= 0


@pytest.mark.slow  # a local Ray
def test_bench_embed_with_the_ray_engine_reports_its_pipeline_beside_the_local_one(tmp_path, ray_cluster):
    result = bench.bench_embed(
        "test:tiny", count=8, device="cpu", batch_size=4, sizes=[(320, 240)], cache=tmp_path, engine="ray"
    )
    (row,) = result["results"]
    assert result["engine"] == "ray" and row["ray_pipeline_per_s"] > 0 and row["ray_wall_s"] > 0 < row["wall_s"]
    # From the unrounded rates: the rounded ones shown may differ in the third decimal.
    assert row["ray_overhead"] == pytest.approx(row["pipeline_per_s"] / row["ray_pipeline_per_s"] - 1, abs=0.01)


@pytest.mark.slow  # Milvus Lite
def test_bench_search_with_milvus_adds_milvus_lite_rows(capsys):
    result = run_cli_json(
        capsys, "bench", "search", "--n", "2000", "--dim", "16", "--queries", "60", "--store", "milvus",
        "--only", "milvus",
    )  # fmt: skip
    rows = {row["index"]: row for row in result["results"]}
    assert {"milvus-FLAT", "milvus-HNSW"} <= set(rows)
    assert rows["milvus-FLAT"]["recall_at_50"] >= 0.99 and rows["milvus-FLAT"]["bytes"] > 0
