"""What a search answers: ranked hits with their similarity and relevance, and the closest few below the bar."""

from __future__ import annotations

from dataclasses import dataclass, field

from viewfinder.settings import Sort
from viewfinder.store.catalog import ImageRecord


@dataclass(frozen=True)
class Hit:
    rank: int
    image: ImageRecord
    similarity: float
    relevance: float | None = None  # 0-100, set by search.relevance; None where not rated


@dataclass(frozen=True)
class Answer:
    """The hits rated at least `min_relevance`, best first (newest first when `sort` is "date", each keeping
    its relevance rank); when none is, the `closest` few below it, best first."""

    query: str
    hits: list[Hit]
    min_relevance: float
    closest: list[Hit] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    sort: Sort = "relevance"

    @property
    def shown(self) -> list[Hit]:
        """What a person is shown: the hits, or the closest when no hit reached the bar."""
        return self.hits or self.closest
