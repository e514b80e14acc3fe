"""One contract for every vector store: FAISS (each family), Milvus Lite and a Milvus server answer alike.

Each store is filled from one small catalog and checked against exact answers computed here with numpy:
what it holds, top-k with and without each kind of filter, near neighbours, removals, a save and reopen,
the repair after a crash, and the near-duplicate groups `find_duplicates` builds on it.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from viewfinder.search.duplicates import find_duplicates
from viewfinder.store.catalog import Catalog
from viewfinder.store.catalog_rows import NewImage
from viewfinder.store.factory import STORES
from viewfinder.store.filters import Filters
from viewfinder.store.vector_store import IndexParams, StoreAddress, VectorStore

DIM = 16
ROOT = "/photos"
FOLDERS = ("", "2023", "2023/trip", "2024_misc", "2024xmisc")  # '_' must not match any character
PLANTED = 5  # pictures with two near-identical copies each
# Milvus (Lite in-process, the server in its own namespace) takes seconds per test: the slow half.
STORES_UNDER_TEST = (
    "faiss-flat",
    "faiss-hnsw",
    "faiss-ivf",
    pytest.param("milvus-lite", marks=pytest.mark.slow),
    pytest.param("milvus-server", marks=pytest.mark.slow),
)
FILTERS = (
    Filters(folder="2023"),
    Filters(folder="2023/trip"),
    Filters(folder="2024_misc"),
    Filters(folder="nowhere"),
    Filters(folder="/"),  # the source root: no condition
    Filters(taken_after="2023-06-01"),
    Filters(taken_before="2023-03-31"),  # a bare date covers the whole day
    Filters(taken_after="2023-02-01T12:00:00", taken_before="2023-09-30"),
    Filters(min_width=1200),
    Filters(min_height=700),
    Filters(folder="2023", min_width=900, taken_after="2023-01-15"),
)


@pytest.fixture(autouse=True, scope="module")
def release_milvus_lite():
    """Milvus Lite serves each database from a thread of this process until released."""
    yield
    from milvus_lite import server_manager_instance

    server_manager_instance.release_all()


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def write_catalog(folder: Path) -> Catalog:
    """240 images in five folders with assorted sizes and capture dates (some unknown), PLANTED pictures with
    two near-identical copies each, and one byte-identical pair."""
    rng = np.random.default_rng(7)
    vectors = unit(rng.normal(size=(240, DIM)))
    for picture in range(PLANTED):
        for copy in (1, 2):
            vectors[200 + 2 * picture + copy - 1] = unit(vectors[picture] + 0.01 * rng.normal(size=DIM))
    vectors[239] = vectors[238]
    images = []
    for number, vector in enumerate(vectors):
        place = FOLDERS[number % len(FOLDERS)]
        month = 1 + number % 12
        images.append(
            NewImage(
                path=f"{ROOT}/{place}/{number:04d}.jpg".replace("//", "/"),
                root=ROOT,
                size=1000 + number,
                mtime_ns=number,
                width=640 + 7 * number,
                height=480 + 3 * number,
                format="JPEG",
                taken_at=None if number % 9 == 0 else f"2023-{month:02d}-{1 + number % 28:02d}T{number % 24:02d}:00:00",
                vector=vector,
                content_hash="same-bytes" if number >= 238 else f"hash-{number}",
            )
        )
    made = Catalog(folder / "catalog.sqlite")
    made.commit_batch(images=images)
    return made


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    """A catalog for one test, which may change it."""
    made = write_catalog(tmp_path)
    yield made
    made.close()


@pytest.fixture(scope="module")
def shared_catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    """A catalog for the tests that only read (filling a store on a server costs seconds)."""
    made = write_catalog(tmp_path_factory.mktemp("catalog"))
    yield made
    made.close()


def catalog_vectors(catalog: Catalog) -> tuple[np.ndarray, np.ndarray]:
    chunks = list(catalog.vectors(DIM))
    return np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks])


def faiss_family(kind: str, ids: np.ndarray, vectors: np.ndarray) -> VectorStore:
    """A FAISS index of one family, searching exhaustively (so that its answers are exact)."""
    import faiss

    from viewfinder.store.faiss_families import hnsw_index
    from viewfinder.store.faiss_index import VectorIndex

    if kind == "hnsw":
        return VectorIndex(hnsw_index(ids, vectors, DIM, 256), IndexParams("hnsw", ef_search=256), DIM)
    nlist = 4
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(DIM), DIM, nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.train(vectors)
    ivf.add_with_ids(vectors, ids)
    ivf.nprobe = nlist
    return VectorIndex(ivf, IndexParams("ivf", nlist=nlist, nprobe=nlist, trained_size=len(ids)), DIM)


@contextlib.contextmanager
def filled_store(request, name: str, catalog: Catalog, folder: Path) -> Iterator[tuple[VectorStore, StoreAddress]]:
    """A store of one kind holding the catalog's vectors, and its address (dropped afterwards)."""
    if name.startswith("faiss"):
        address = StoreAddress(folder, "", "", DIM)
        kind = name.removeprefix("faiss-")
        made = STORES["faiss"].create(address, catalog).reconciled(catalog)
        if kind != "flat":
            made = faiss_family(kind, *catalog_vectors(catalog))
        assert made.params.kind == kind
        yield made, address
        return
    location = str(folder / "milvus.db") if name == "milvus-lite" else request.getfixturevalue("milvus_server")
    collection = f"contract_{uuid.uuid4().hex}"
    address = StoreAddress(folder, location, collection, DIM)
    made = STORES["milvus"].create(address, catalog).reconciled(catalog)
    try:
        yield made, address
    finally:
        made.client.drop_collection(collection)
        made.close()


@pytest.fixture(params=STORES_UNDER_TEST)
def store(request, catalog: Catalog, tmp_path: Path) -> Iterator[tuple[VectorStore, StoreAddress]]:
    """A store of each kind for one test, which may change it."""
    with filled_store(request, request.param, catalog, tmp_path) as made:
        yield made


@pytest.fixture(scope="module", params=STORES_UNDER_TEST)
def shared_store(request, shared_catalog: Catalog, tmp_path_factory) -> Iterator[VectorStore]:
    """A store of each kind for the tests that only read it."""
    with filled_store(request, request.param, shared_catalog, tmp_path_factory.mktemp("store")) as made:
        yield made[0]


def exact_scores(catalog: Catalog, query: np.ndarray, k: int, filters: Filters | None) -> np.ndarray:
    """The k best similarities among the images that pass, by brute force."""
    ids, vectors = catalog_vectors(catalog)
    passing = np.isin(ids, catalog.ids_matching(filters))
    return -np.sort(-(vectors[passing] @ query))[:k]


def queries() -> np.ndarray:
    return unit(np.random.default_rng(11).normal(size=(4, DIM)))


def assert_exact(found: list[tuple[int, float]], query: np.ndarray, catalog: Catalog, expected: np.ndarray) -> None:
    """Tie-proof exactness: the similarities are the best ones, and each is its id's true similarity."""
    assert len({i for i, _ in found}) == len(found) == len(expected)
    assert [s for _, s in found] == pytest.approx(expected.tolist(), abs=1e-4)
    true = [float(catalog.vector_of(i, DIM) @ query) for i, _ in found]
    assert [s for _, s in found] == pytest.approx(true, abs=1e-4)


def assert_top_is_exact(store: VectorStore, catalog: Catalog, k: int = 10, filters: Filters | None = None) -> None:
    passing = set(catalog.ids_matching(filters).tolist())
    for query in queries():
        found = store.top(query, k, filters, catalog)
        assert {i for i, _ in found} <= passing, (store.params.kind, filters)
        assert_exact(found, query, catalog, exact_scores(catalog, query, k, filters))


def test_a_store_holds_the_catalogs_ids_and_vectors(shared_store, shared_catalog):
    vectors, catalog = shared_store, shared_catalog
    ids, rows = catalog_vectors(catalog)
    assert vectors.count == 240 and vectors.dim == DIM
    assert np.array_equal(vectors.ids(), ids)
    asked = np.array([ids[5], ids[0], ids[239], ids[120]])
    assert np.allclose(vectors.vectors_of(asked), rows[[5, 0, 239, 120]], atol=1e-6)
    assert vectors.vectors_of(np.empty(0, np.int64)).shape == (0, DIM)
    with pytest.raises(KeyError):
        vectors.vectors_of(np.array([ids[-1] + 1000]))


def test_top_without_filters_is_exact_and_stops_when_the_store_has_no_more(shared_store, shared_catalog):
    vectors, catalog = shared_store, shared_catalog
    assert_top_is_exact(vectors, catalog)
    assert len(vectors.top(queries()[0], 500, None, catalog)) == 240


@pytest.mark.parametrize("filters", FILTERS, ids=repr)
def test_top_with_filters_is_exact_among_the_images_that_pass(shared_store, shared_catalog, filters):
    vectors, catalog = shared_store, shared_catalog
    passing = len(catalog.ids_matching(filters))
    assert 0 <= passing <= 240
    assert_top_is_exact(vectors, catalog, 10, filters)
    assert len(vectors.top(queries()[1], 500, filters, catalog)) == passing  # all of them, and no more


def test_the_folder_filter_is_an_exact_prefix(shared_store, shared_catalog):
    vectors, catalog = shared_store, shared_catalog
    found = vectors.top(queries()[0], 500, Filters(folder="2024_misc"), catalog)
    folders = {record.folder for record in catalog.images([i for i, _ in found]).values()}
    assert folders == {"2024_misc"} and len(found) == 48


def test_near_finds_each_vectors_nearest_neighbours(shared_store, shared_catalog):
    vectors, catalog = shared_store, shared_catalog
    _, rows = catalog_vectors(catalog)
    scores, found = vectors.near(rows[:50], 3)
    for query, row_scores, row_ids in zip(rows[:50], scores, found, strict=True):
        hits = [(int(i), float(s)) for i, s in zip(row_ids[:3], row_scores[:3], strict=True)]
        assert_exact(hits, query, catalog, exact_scores(catalog, query, 3, None))


def test_removed_ids_are_gone_and_added_ones_come_back(store, catalog):
    vectors, _ = store
    ids, rows = catalog_vectors(catalog)
    gone = ids[:30]
    vectors.remove(np.concatenate([gone, [ids[-1] + 5000]]))  # an unknown id is ignored
    assert vectors.count == 210 and not np.isin(gone, vectors.ids()).any()
    found = vectors.top(rows[0], 5, None, catalog)
    assert found[0][0] != ids[0] and not set(gone) & {i for i, _ in found}
    vectors.add(gone, rows[:30])
    assert vectors.count == 240 and vectors.top(rows[0], 1, None, catalog)[0][0] == ids[0]


def test_a_saved_store_reopens_with_its_generation_and_the_same_answers(store, catalog):
    vectors, address = store
    vectors.save(address.folder, 7)
    reopened, generation = type(vectors).open(address, catalog)
    try:
        assert generation == 7 and reopened.count == 240
        assert_top_is_exact(reopened, catalog, 10, Filters(folder="2023"))
    finally:
        if reopened is not vectors:
            reopened.close()


@pytest.mark.slow  # a Milvus server (Milvus Lite has no time tick to wait for)
def test_a_milvus_store_reads_at_strong_only_while_its_writes_may_be_newer_than_the_servers_grace_time(
    request, catalog, tmp_path
):
    from viewfinder.store.milvus_store import SETTLE_S, WRITTEN_PROPERTY

    strong, bounded = {"consistency_level": "Strong"}, {"consistency_level": "Bounded"}
    with filled_store(request, "milvus-server", catalog, tmp_path) as (vectors, address):
        assert vectors.consistency() == strong  # it has just written
        vectors.save(address.folder, 3)
        reopened, _ = type(vectors).open(address, catalog)
        assert reopened.consistency() == strong  # the generation it opened was written a moment ago
        reopened.close()
        written = {WRITTEN_PROPERTY: repr(time.time() - 2 * SETTLE_S)}  # as if written two minutes ago
        vectors.client.alter_collection_properties(address.collection, properties=written)
        settled, _ = type(vectors).open(address, catalog)
        try:
            assert settled.consistency() == bounded
            assert len(settled.top(queries()[0], 10, None, catalog)) == 10  # the server answers at that level
            ids, _ = catalog_vectors(catalog)
            settled.remove(ids[:1])
            assert settled.consistency() == strong  # its own write is fresh
        finally:
            settled.close()


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_a_faiss_index_mapped_from_its_file_answers_as_one_read_whole(kind, catalog, tmp_path):
    """A snapshot's index is mapped from its file (VectorIndex.load(mapped=True)), not copied into memory: the
    same ids, stored vectors and answers as the index read whole."""
    from viewfinder.store.faiss_index import VectorIndex

    with filled_store(None, f"faiss-{kind}", catalog, tmp_path) as (vectors, address):
        vectors.save(address.folder, 3)
    whole, mapped = VectorIndex.load(address.folder), VectorIndex.load(address.folder, mapped=True)
    assert whole is not None and mapped is not None and mapped[1] == 3
    ids, rows = catalog_vectors(catalog)
    assert np.array_equal(mapped[0].ids(), whole[0].ids())
    assert np.array_equal(mapped[0].vectors_of(ids[:20]), whole[0].vectors_of(ids[:20]))
    for got, expected in zip(mapped[0].search(rows[:5], 10), whole[0].search(rows[:5], 10), strict=True):
        assert np.array_equal(got, expected)
    assert_top_is_exact(mapped[0], catalog, 10, Filters(folder="2023"))


def test_reconciling_after_a_crash_brings_the_store_to_the_catalog(store, catalog):
    vectors, _ = store
    ids, _ = catalog_vectors(catalog)
    vectors.remove(ids[:12])  # a crash after the removals reached the store, before the additions
    catalog.commit_batch(removed_ids=[int(ids[100])])  # deleted from the catalog, still in the store
    repaired = vectors.reconciled(catalog)
    expected = np.delete(ids, 100)
    assert np.array_equal(repaired.ids(), expected) and repaired.count == 239
    assert_top_is_exact(repaired, catalog)


def test_find_duplicates_groups_the_same_images_on_every_store(shared_store, shared_catalog):
    vectors, catalog = shared_store, shared_catalog
    ids, _ = catalog_vectors(catalog)
    groups = find_duplicates(catalog, vectors, DIM)
    found = sorted((sorted(image.id for image in group.images), group.exact) for group in groups)
    planted = [(sorted(int(i) for i in (ids[p], ids[200 + 2 * p], ids[201 + 2 * p])), False) for p in range(PLANTED)]
    assert found == sorted([*planted, ([int(ids[238]), int(ids[239])], True)])


@pytest.mark.slow
def test_an_index_kept_in_a_milvus_server_answers_like_faiss_as_the_library_changes(milvus_server, tmp_path):
    from cli_helpers import write_colour_images

    from viewfinder.app import Index, Term
    from viewfinder.pipeline.indexer import run_index

    photos = tmp_path / "photos"
    paths = write_colour_images(photos, 16)
    for change in range(2):
        if change:
            paths[2].unlink()
            write_colour_images(photos, 3, seed=4, start=100)
        run_index(tmp_path / "faiss", [str(photos)], model="test:tiny")
        report = run_index(tmp_path / "milvus", [str(photos)], model="test:tiny", store=f"milvus:{milvus_server}")
        assert report.total == (16, 18)[change]
        with (
            Index(tmp_path / "faiss", device="cpu") as faiss_engine,
            Index(tmp_path / "milvus", device="cpu") as milvus_engine,
        ):
            assert milvus_engine.vectors.params.kind == "milvus" and not milvus_engine.vectors_rebuilt
            for filters in (None, Filters(folder="nested")):
                for text in ("a red square", "blue sky"):
                    expected = faiss_engine.search([Term(text=text)], k=6, filters=filters).hits
                    got = milvus_engine.search([Term(text=text)], k=6, filters=filters).hits
                    assert [h.similarity for h in got] == pytest.approx([h.similarity for h in expected], abs=1e-4)
