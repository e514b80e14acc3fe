"""The order relevant results are shown in when a query asks for `sort="date"`: newest first.

Only the order changes: each hit keeps its `rank`, its place by relevance, so a client has both orders.
"""

from __future__ import annotations

from viewfinder.search.results import Hit


def newest_first(hits: list[Hit]) -> list[Hit]:
    """The hits by capture time, newest first; those without one after all dated hits. Hits taken at the same
    time, and the undated ones among themselves, keep the order they came in (relevance)."""
    # The catalog keeps capture times as fixed-width ISO 8601 without a zone (images.decode), so the strings
    # sort as the times do; Python's sort is stable, reverse=True included, so ties keep their order.
    dated = sorted((hit for hit in hits if hit.image.taken_at), key=lambda hit: hit.image.taken_at or "", reverse=True)
    return dated + [hit for hit in hits if not hit.image.taken_at]
