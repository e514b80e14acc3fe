"""`viewfinder index --store milvus`: Milvus Lite as the vector store, equal to FAISS exact search, kept in step
with the catalog (the source of truth) incrementally and repaired after a crash between the two writes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli, run_cli_json, write_colour_images
from net_helpers import listening_sockets
from PIL import Image

import viewfinder
from viewfinder.app import Filters, Index
from viewfinder.pipeline.indexer import run_index
from viewfinder.search.query import Term
from viewfinder.store.catalog import Catalog
from viewfinder.store.milvus_store import MilvusStore, filter_expression

pytestmark = pytest.mark.slow  # Milvus Lite

QUERIES = ("a red square", "blue sky", "green field", "a dog", "night")


@pytest.fixture(autouse=True, scope="module")
def release_milvus_lite():
    """Milvus Lite serves each database from a thread of this process until released."""
    yield
    from milvus_lite import server_manager_instance

    server_manager_instance.release_all()


def mixed_library(folder: Path) -> None:
    write_colour_images(folder, 30)
    (folder / "big").mkdir()
    for number in range(6):  # larger pictures, so that size filters pass some images only
        pixels = np.full((150 + number, 200 + number, 3), 40 * number, np.uint8)
        pixels[:, : 100 + number] = [200, 30 * number, 90]
        Image.fromarray(pixels).save(folder / "big" / f"big-{number}.png")


def overlap(first: list[int], second: list[int]) -> float:
    return len(set(first) & set(second)) / max(1, len(first))


def store_state(index: Path) -> tuple[dict[int, np.ndarray], MilvusStore]:
    """The catalog's vectors by id, and the Milvus store of the index (opened as a search would)."""
    engine = Index(index, device="cpu")
    catalog = engine.catalog
    vectors = {int(i): v for ids, rows in catalog.vectors(32) for i, v in zip(ids, rows, strict=True)}
    return vectors, engine.vectors


def assert_store_matches_catalog(index: Path) -> None:
    vectors, store = store_state(index)
    assert store.count == len(vectors)
    ids = np.array(sorted(vectors))
    scores, found = store.search(np.stack([vectors[i] for i in ids]), 1)
    assert (found[:, 0] == ids).all() and np.allclose(scores[:, 0], 1, atol=1e-4)  # each row is the catalog's


def test_milvus_flat_search_equals_faiss_exact_with_and_without_filters(tmp_path):
    photos = tmp_path / "photos"
    mixed_library(photos)
    run_index(tmp_path / "faiss", [str(photos)], model="test:tiny")
    run_index(tmp_path / "milvus", [str(photos)], model="test:tiny", store="milvus")
    faiss_engine = Index(tmp_path / "faiss", device="cpu")
    milvus_engine = Index(tmp_path / "milvus", device="cpu")
    assert milvus_engine.vectors.params.kind == "milvus" and milvus_engine.vectors.count == 36
    overlaps = []
    for flt in (None, Filters(folder="nested"), Filters(folder="big"), Filters(min_width=150), Filters(min_height=152)):
        for text in QUERIES:
            expected = faiss_engine.search([Term(text=text)], k=10, filters=flt).hits
            got = milvus_engine.search([Term(text=text)], k=10, filters=flt).hits
            assert [h.similarity for h in got] == pytest.approx([h.similarity for h in expected], abs=1e-4)
            overlaps.append(overlap([h.image.id for h in expected], [h.image.id for h in got]))
    assert np.mean(overlaps) >= 0.99
    assert {address for address, _ in listening_sockets({os.getpid()})} <= {"127.0.0.1"}  # Milvus Lite's server


def test_milvus_store_follows_adds_updates_and_deletes(tmp_path):
    photos = tmp_path / "photos"
    paths = write_colour_images(photos, 12)
    index = tmp_path / "index"
    run_index(index, [str(photos)], model="test:tiny", store="milvus")
    Image.new("RGB", (64, 48), (250, 10, 10)).save(paths[1])  # changed: same id, new vector
    paths[2].unlink()
    write_colour_images(photos, 3, seed=5, start=100)
    report = run_index(index, [str(photos)], model="test:tiny")
    assert (report.added, report.updated, report.removed, report.total) == (3, 1, 1, 14)
    assert_store_matches_catalog(index)


def test_crash_between_catalog_commit_and_store_write_is_repaired_on_open(tmp_path, monkeypatch):
    photos = tmp_path / "photos"
    paths = write_colour_images(photos, 12)
    index = tmp_path / "index"
    run_index(index, [str(photos)], model="test:tiny", store="milvus")
    Image.new("RGB", (64, 48), (10, 250, 10)).save(paths[0])
    paths[3].unlink()
    write_colour_images(photos, 2, seed=7, start=200)

    def crash(self, ids, vectors):
        raise KeyboardInterrupt  # killed after the catalog committed and the removals reached Milvus

    monkeypatch.setattr(MilvusStore, "add", crash)
    with pytest.raises(KeyboardInterrupt):
        run_index(index, [str(photos)], model="test:tiny")
    monkeypatch.undo()
    catalog = Catalog(index / "catalog.sqlite", readonly=True)
    assert catalog.count() == 13
    catalog.close()

    engine = Index(index, device="cpu")
    assert engine.vectors_rebuilt  # the collection was behind the catalog and has been repaired
    assert_store_matches_catalog(index)
    report = run_index(index, [str(photos)], model="test:tiny")
    assert (report.added, report.updated, report.removed, report.unchanged) == (0, 0, 0, 13)


def test_index_and_search_with_milvus_through_the_cli(capsys, library, tmp_path):
    index = tmp_path / "index"
    report = run_cli_json(capsys, "index", library, "--index", index, "--model", "test:tiny", "--store", "milvus")
    assert report["total"] == 24
    result = run_cli_json(capsys, "search", "a blue sky", "--index", index, "-k", "5")
    assert result["count"] == 5
    info = run_cli_json(capsys, "info", "--index", index)
    assert info["index_type"] == "milvus" and info["images"] == 24

    code, _, err = run_cli(capsys, "index", library, "--index", index, "--store", "faiss")
    assert code == 2 and "--store applies when an index is created" in err

    checked = run_cli_json(capsys, "check", "--index", index)
    assert checked["problems"] == [], checked  # the Milvus collection is checked, not FAISS files


def test_the_python_api_indexes_into_milvus_and_searches_it(library, tmp_path):
    report = viewfinder.index_folders([str(library)], str(tmp_path / "index"), model="test:tiny", store="milvus")
    assert report.total == 24
    with viewfinder.open_index(str(tmp_path / "index")) as index:
        assert index.vectors.params.kind == "milvus"
        assert len(index.search([viewfinder.Term(text="a blue sky")], k=5).hits) == 5


@pytest.mark.parametrize(
    ("store", "message"),
    [("elastic", "use faiss, milvus, or milvus:URI"), ("milvus:vectors.txt", "must end in .db")],
)
def test_bad_store_is_a_usage_error(capsys, library, tmp_path, store, message):
    index = tmp_path / "i"
    code, out, err = run_cli(capsys, "index", library, "--index", index, "--model", "test:tiny", "--store", store)
    assert code == 2 and message in err and "Traceback" not in err + out
    assert not (tmp_path / "i" / "manifest.json").exists()


def test_filters_become_milvus_expressions_with_the_catalogs_rules():
    expression = filter_expression(
        Filters(taken_after="2020-01-01", taken_before="2020-12-31", folder="/trips/100%_real/", min_width=640)
    )
    assert expression == (
        '(taken_at >= "2020-01-01") and (taken_at != "" and taken_at <= "2020-12-31T23:59:59") and '
        '(folder >= "trips/100%_real/" and folder < "trips/100%_real0") and (width >= 640)'
    )
    assert filter_expression(Filters(folder='say "hi"')) == '(folder >= "say \\"hi\\"/" and folder < "say \\"hi\\"0")'


def test_duplicates_through_the_cli_are_the_same_on_milvus_and_faiss(capsys, library, tmp_path):
    import shutil

    originals = sorted(library.glob("*.png"))[:3]
    for number, original in enumerate(originals):
        shutil.copy(original, library / f"copy-{number}.png")  # byte-identical
        Image.open(original).resize((40, 30)).save(library / f"smaller-{number}.png")  # near-identical
    groups = {}
    for store in ("faiss", "milvus"):
        index = tmp_path / store
        run_cli_json(capsys, "index", library, "--index", index, "--model", "test:tiny", "--store", store)
        found = run_cli_json(capsys, "duplicates", "--index", index, "--threshold", "0.9")
        groups[store] = sorted(([i["path"] for i in g["images"]], g["exact"]) for g in found["groups"])
    assert groups["milvus"] == groups["faiss"]
    copies = {name for paths, _ in groups["faiss"] for name in (Path(path).name for path in paths)}
    assert {f"copy-{number}.png" for number in range(3)} <= copies
