"""A search over an index whose source is unplugged (its rows kept, as documented) knows the source is absent
once per query: it neither stats each row nor scans the whole vector store for hits that cannot be shown."""

from __future__ import annotations

from cli_helpers import write_colour_images

from viewfinder.app import Index, Term
from viewfinder.pipeline.indexer import run_index


def _spy_on_store(index: Index, monkeypatch) -> list[int]:
    fetched: list[int] = []
    top = index.vectors.top

    def counted(query, k, filters, catalog):
        fetched.append(k)
        return top(query, k, filters, catalog)

    monkeypatch.setattr(index.vectors, "top", counted)
    return fetched


def test_a_search_with_its_only_source_unplugged_returns_nothing_without_searching_the_store(tmp_path, monkeypatch):
    write_colour_images(tmp_path / "photos", 40)
    run_index(tmp_path / "index", [str(tmp_path / "photos")], model="test:tiny")
    (tmp_path / "photos").rename(tmp_path / "unplugged")
    with Index(tmp_path / "index", "cpu") as index:
        fetched = _spy_on_store(index, monkeypatch)
        answer = index.search([Term(text="sky")], k=10)
        assert answer.hits == [] and answer.closest == []
        assert fetched == []  # before: the whole store, doubling, with a stat per row


def test_a_search_with_one_of_two_sources_unplugged_fetches_once_for_what_is_left(tmp_path, monkeypatch):
    write_colour_images(tmp_path / "kept", 30, seed=1)
    write_colour_images(tmp_path / "away", 90, seed=2)
    run_index(tmp_path / "index", [str(tmp_path / "kept"), str(tmp_path / "away")], model="test:tiny")
    (tmp_path / "away").rename(tmp_path / "unplugged")
    with Index(tmp_path / "index", "cpu") as index:
        fetched = _spy_on_store(index, monkeypatch)
        hits = index.search([Term(text="sky")], k=10).hits
        assert len(hits) == 10 and all(hit.image.root == str(tmp_path / "kept") for hit in hits)
        # A quarter of the index is there, so the first fetch asks for four times as many: no doubling rounds.
        assert len(fetched) == 1 and fetched[0] >= 4 * 10
