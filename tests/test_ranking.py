"""The metadata rerank's formula, on plain records."""

from __future__ import annotations

import pytest

from viewfinder.errors import BadQueryError
from viewfinder.search.ranking import Rerank, recency, rerank_hits, resolution
from viewfinder.search.results import Hit
from viewfinder.store.catalog_rows import ImageRecord

DAY_NS = 86_400 * 10**9


def hit(rank: int, similarity: float, width: int = 100, height: int = 100, days_old: float = 0, taken=None) -> Hit:
    mtime = int(1_700_000_000 * 10**9 - days_old * DAY_NS)
    record = ImageRecord(rank, f"/p/{rank}.jpg", "/p", 1, mtime, width, height, "JPEG", taken, 0.0)
    return Hit(rank, record, similarity)


def test_recency_halves_every_year_and_resolution_saturates_at_12_megapixels():
    assert recency(0) == 1.0 and recency(365 * 86_400) == pytest.approx(0.5)
    assert resolution(4000, 3000) == 1.0 and resolution(8000, 6000) == 1.0
    assert resolution(2000, 1500) == pytest.approx(0.5)


def test_rerank_orders_by_similarity_plus_weighted_metadata_and_renumbers_ranks():
    hits = [hit(1, 0.30, days_old=730), hit(2, 0.29, days_old=0), hit(3, 0.28, 4000, 3000, days_old=730)]
    assert [h.image.id for h in rerank_hits(hits, Rerank())] == [1, 2, 3]
    by_recency = rerank_hits(hits, Rerank(recency=0.05))  # 0.30 + 0.0125, 0.29 + 0.05, 0.28 + 0.0125
    assert [h.image.id for h in by_recency] == [2, 1, 3] and [h.rank for h in by_recency] == [1, 2, 3]
    by_resolution = rerank_hits(hits, Rerank(resolution=0.05))
    assert by_resolution[0].image.id == 3 and by_resolution[0].similarity == 0.28


def test_capture_time_wins_over_file_time_for_recency():
    hits = [hit(1, 0.30, days_old=0, taken="2001-01-01T00:00:00"), hit(2, 0.30, days_old=0)]
    assert [h.image.id for h in rerank_hits(hits, Rerank(recency=1.0))] == [2, 1]


@pytest.mark.parametrize("weight", [-0.1, 1.5, float("nan")])
def test_rerank_weights_outside_0_to_1_are_refused(weight):
    with pytest.raises(BadQueryError):
        Rerank(recency=weight)
