"""Sorting relevant results by date, on plain records: newest first, undated last, ties and ranks as they were."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest

from viewfinder.errors import BadQueryError
from viewfinder.search.ordering import newest_first
from viewfinder.search.query import Query, Term
from viewfinder.search.results import Hit
from viewfinder.store.catalog_rows import ImageRecord


def hit(rank: int, taken: str | None) -> Hit:
    """The hit ranked `rank` by relevance (its image id is the rank too), taken at `taken`."""
    record = ImageRecord(rank, f"/p/{rank}.jpg", "/p", 1, 0, 100, 100, "JPEG", taken, 0.0)
    return Hit(rank, record, similarity=1.0 - rank / 100, relevance=90.0 - rank)


def test_dated_hits_come_newest_first_and_keep_their_relevance_rank():
    hits = [hit(1, "2019-05-01T10:00:00"), hit(2, "2023-01-01T00:00:00"), hit(3, "2021-12-31T23:59:59")]
    ordered = newest_first(hits)
    assert [h.image.taken_at for h in ordered] == ["2023-01-01T00:00:00", "2021-12-31T23:59:59", "2019-05-01T10:00:00"]
    assert [h.rank for h in ordered] == [2, 3, 1]  # each hit is the same hit, rank and ratings untouched
    assert {id(h) for h in ordered} == {id(h) for h in hits}


def test_undated_hits_come_after_every_dated_one_in_relevance_order():
    hits = [hit(1, None), hit(2, "2000-01-01T00:00:00"), hit(3, None), hit(4, "2024-02-29T12:00:00"), hit(5, None)]
    assert [h.rank for h in newest_first(hits)] == [4, 2, 1, 3, 5]


def test_hits_taken_at_the_same_time_keep_their_relevance_order():
    same = "2022-07-04T18:30:00"
    hits = [hit(1, "2020-01-01T00:00:00"), hit(2, same), hit(3, same), hit(4, same), hit(5, "2023-01-01T00:00:00")]
    assert [h.rank for h in newest_first(hits)] == [5, 2, 3, 4, 1]


def test_nothing_and_only_undated_hits_stay_as_they_are():
    assert newest_first([]) == []
    undated = [hit(1, None), hit(2, None), hit(3, None)]
    assert newest_first(undated) == undated


def test_a_query_sorts_by_relevance_unless_asked_and_refuses_an_unknown_order():
    terms = (Term(text="a dog"),)
    assert Query(terms).sort == "relevance" and Query(terms, sort="date").sort == "date"
    assert Query(terms, sort="date") != Query(terms)  # so a cached answer in one order never answers the other
    with pytest.raises(BadQueryError, match="sort must be relevance or date, not 'newest'"):
        Query(terms, sort="newest")


def test_a_rated_hit_keeps_every_other_field_of_the_hit():
    """`Hit.rated` builds the hit field by field: a field added to Hit and not carried over fails here."""
    every = replace(hit(3, "2020-01-01T00:00:00"), relevance=None, match=None, words="open 9-5")
    rated = every.rated(72.5, "strong")
    assert (rated.relevance, rated.match) == (72.5, "strong")
    kept = [field.name for field in fields(Hit) if field.name not in ("relevance", "match")]
    assert all(getattr(rated, name) == getattr(every, name) for name in kept)
    assert all(getattr(every, name) is not None for name in kept)  # each carried field was set, so was compared
