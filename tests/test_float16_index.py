"""The index a snapshot carries: its vectors as float16 (store/faiss_precision.py), searched as its float32 source
is, and the float32 indexes of earlier snapshots and local indexes still opening as they are."""

from __future__ import annotations

import json
import shutil
import sqlite3

import faiss
import numpy as np
import pytest
from cli_helpers import write_colour_images
from test_ann import clustered_vectors

from viewfinder.app import Index
from viewfinder.errors import IndexMismatchError
from viewfinder.pipeline.indexer import run_index
from viewfinder.search.query import Term
from viewfinder.store.catalog import leave_vectors_to_index
from viewfinder.store.faiss_families import hnsw_index
from viewfinder.store.faiss_index import FLOAT16, FLOAT32, STATE_FILE, VectorIndex, recall_at_k
from viewfinder.store.faiss_precision import half_precision
from viewfinder.store.indexdir import FORMAT_VERSION, HALF_PRECISION_FORMAT, IndexDir, Manifest
from viewfinder.store.vector_store import IndexParams

DIM = 64
# float16 keeps 11 significant bits: a unit vector's component moves by at most 2**-12, and a similarity of two
# such vectors by ~1e-4 (measured 1.3e-4 at most here). Two hits closer than that may trade places, nothing more.
SIMILARITY_TOLERANCE = 5e-4


def families(ids: np.ndarray, data: np.ndarray) -> dict[str, VectorIndex]:
    """The three kinds of index the chooser builds, over the same vectors."""
    exact = VectorIndex.empty(DIM)
    exact.add(ids, data)
    graph = VectorIndex(hnsw_index(ids, data, DIM, 48), IndexParams("hnsw", ef_search=48), DIM)
    lists = faiss.IndexIVFFlat(faiss.IndexFlatIP(DIM), DIM, 64, faiss.METRIC_INNER_PRODUCT)
    lists.train(data)
    lists.add_with_ids(data, ids)
    lists.nprobe = 8
    return {"flat": exact, "hnsw": graph, "ivf": VectorIndex(lists, IndexParams("ivf", nlist=64, nprobe=8), DIM)}


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_a_float16_index_opens_mapped_and_answers_as_its_float32_source(kind, tmp_path):
    data, queries = np.split(clustered_vectors(6_100, DIM), [6_000])
    ids = np.arange(7, 6_007, dtype=np.int64) * 3
    source = families(ids, data)[kind]
    half_precision(source).save(tmp_path, 4)
    loaded = VectorIndex.load(tmp_path, mapped=True)
    assert loaded is not None and loaded[1] == 4
    half = loaded[0]
    assert half.precision == FLOAT16 and json.loads((tmp_path / STATE_FILE).read_text())["precision"] == FLOAT16
    assert half.params == source.params and source.precision == FLOAT32  # the source is left as it was
    saved = faiss.serialize_index(source.index).nbytes - (tmp_path / "vectors-4.faiss").stat().st_size
    assert saved >= 0.95 * data.size * 2  # two bytes a value less
    assert np.array_equal(half.ids(), np.sort(ids))

    truth = ids[faiss.knn(queries, data, 50, faiss.METRIC_INNER_PRODUCT)[1]]
    assert recall_at_k(half.search(queries, 50)[1], truth) >= recall_at_k(source.search(queries, 50)[1], truth) - 0.005
    scores, found = source.search(queries, 10)
    half_scores, half_found = half.search(queries, 10)
    assert (found == half_found).mean() >= 0.95  # the same hits, rank for rank, but for near-ties
    assert np.abs(scores - half_scores).max() < SIMILARITY_TOLERANCE

    for allowed in (ids[::3], ids[:400]):  # a selector over the graph and, for HNSW, a scan of few vectors
        filtered = half.search(queries[:20], 10, allowed)[1]
        assert np.isin(filtered, allowed).all()
        assert (filtered == source.search(queries[:20], 10, allowed)[1]).mean() >= 0.95
    stored = half.vectors_of(ids[[0, 99, 5_999]])
    assert stored.dtype == np.float32 and np.abs(stored - data[[0, 99, 5_999]]).max() <= 2**-11


def test_an_index_saved_before_float16_opens_as_float32(tmp_path):
    """ann.json without a precision (every index and snapshot written before it) is a float32 index."""
    data = clustered_vectors(500, DIM)
    index = VectorIndex.empty(DIM)
    index.add(np.arange(500, dtype=np.int64), data)
    index.save(tmp_path, 2)
    state = json.loads((tmp_path / STATE_FILE).read_text())
    del state["precision"]
    (tmp_path / STATE_FILE).write_text(json.dumps(state))
    for mapped in (False, True):
        loaded = VectorIndex.load(tmp_path, mapped=mapped)
        assert loaded is not None and loaded[0].precision == FLOAT32
        assert np.array_equal(loaded[0].vectors_of(np.array([3, 4])), data[[3, 4]])  # bit for bit


def test_old_and_new_snapshots_of_an_index_answer_as_it_does(tmp_path):
    """A snapshot's folder as `publish` made it before (float32 vectors) and as it makes it now (float16) both
    open, read-only and mapped, and find the same images as the index they were made of."""
    library, index = tmp_path / "photos", tmp_path / "index"
    write_colour_images(library, 12)
    run_index(index, [str(library)], model="test:tiny")
    original = Index(index, "cpu")
    for form in ("float32", "float16"):
        folder = tmp_path / form
        shutil.copytree(index, folder, ignore=shutil.ignore_patterns("catalog.sqlite-*"))
        with sqlite3.connect(folder / "catalog.sqlite") as db:
            leave_vectors_to_index(db)
        if form == "float16":
            loaded = VectorIndex.load(folder)
            assert loaded is not None
            half_precision(loaded[0]).save(folder, loaded[1])
        snapshot = Index(folder, "cpu")
        assert snapshot.vectors.precision == form  # type: ignore[attr-defined]
        for image_id in range(1, 13):
            query = [Term(image_id=str(image_id))]
            assert [h.image.id for h in snapshot.search(query, k=5).hits] == [
                h.image.id for h in original.search(query, k=5).hits
            ]
        snapshot.close()
    original.close()


def test_an_empty_index_has_a_float16_form(tmp_path):
    """An index of no images yet (a library still empty) can be published too."""
    (tmp_path / "local").mkdir()
    VectorIndex.empty(DIM).save(tmp_path / "local", 1)
    loaded = VectorIndex.load(tmp_path / "local", mapped=True)
    assert loaded is not None
    (tmp_path / "snapshot").mkdir()
    half_precision(loaded[0]).save(tmp_path / "snapshot", 1)
    half = VectorIndex.load(tmp_path / "snapshot", mapped=True)
    assert half is not None and half[0].precision == FLOAT16 and half[0].count == 0
    assert half[0].search(np.ones((1, DIM), np.float32), 5)[1].size == 0


@pytest.mark.parametrize(
    ("format_version", "opens"), [(FORMAT_VERSION, True), (HALF_PRECISION_FORMAT, True), (3, False)]
)
def test_manifest_formats_this_version_reads(tmp_path, format_version, opens):
    """Local indexes and float16 snapshots open; a format of a later version is refused with a clear error (as
    readers before float16 snapshots refuse those, instead of reading their vectors as float32)."""
    index_dir = IndexDir(tmp_path)
    index_dir.write_manifest(Manifest("test:tiny", "test:tiny", DIM, format_version=format_version))
    if opens:
        assert index_dir.read_manifest().format_version == format_version
    else:
        with pytest.raises(IndexMismatchError, match="written by another Viewfinder version"):
            index_dir.read_manifest()
