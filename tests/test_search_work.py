"""What a search does and on what: exact folder filters, filters that match everything or very little, the
texts of a many-term query embedded in one batch, and a response cache kept to its byte budget."""

from __future__ import annotations

import numpy as np
import pytest
from index_helpers import MODEL, names
from PIL import Image

from viewfinder.app import Filters, Index
from viewfinder.pipeline.indexer import run_index
from viewfinder.search.lru import LRUCache
from viewfinder.search.query import Term
from viewfinder.store.faiss_index import filter_path

# Exact folder filters


@pytest.fixture(scope="module")
def folders_engine(tmp_path_factory):
    library = tmp_path_factory.mktemp("folders") / "photos"
    for number, folder in enumerate(["Trip", "trip", "trip/sub", "trips", "x_y", "xay", ""]):
        (library / folder).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (80 + number, 60), (30 * number, 90, 120)).save(library / folder / f"p{number}.jpg")
    run_index(library.parent / "index", [str(library)], model=MODEL)
    with Index(library.parent / "index", device="cpu") as engine:
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


# Bounded work: the response cache's bytes and match-all filters


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
