"""What a search answers: the ranked hits with their similarity and relevance, split by the relevance cut into
those shown as matches and the weaker ones below them."""

from __future__ import annotations

from dataclasses import dataclass, field

from viewfinder.search.terms import Term
from viewfinder.settings import Sort
from viewfinder.store.catalog_rows import ImageRecord
from viewfinder.store.filters import Filters

CLOSEST = 3  # weaker hits a front shows, under the divider, when no hit passed the cut


@dataclass(frozen=True)
class Hit:
    rank: int
    image: ImageRecord
    similarity: float
    relevance: float | None = None  # 0-100, set by search.relevance; None where not rated
    match: str | None = None  # "strong", "possible" or "weak": the relevance in a word (search.relevance)
    words: str | None = None  # the words read in the photo, given for a query with a quoted phrase

    def rated(self, relevance: float, match: str) -> Hit:
        """This hit with its relevance and its word: made directly, since `dataclasses.replace` inspects every
        field on each call (a search rates at least 50 hits: 0.13 ms of its time)."""
        return Hit(self.rank, self.image, self.similarity, relevance, match, self.words)


@dataclass(frozen=True)
class Answer:
    """The hits rated at least `min_relevance` (`hits`: best first, or newest first when `sort` is "date", each
    keeping its relevance rank) and the rest of the ranked list below them (`weaker`, best first): together the
    query's top k. `terms` and `filters` are how the search was read (a typed line's parts with the weights it
    gave, its dates folded into the filters), so a front can show them and change one."""

    query: str
    hits: list[Hit]
    min_relevance: float
    weaker: list[Hit] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    sort: Sort = "relevance"
    terms: tuple[Term, ...] = ()
    filters: Filters | None = None

    @property
    def closest(self) -> list[Hit]:
        """When no hit passed the cut, the best few below it (what a front shows instead of an empty page)."""
        return [] if self.hits else self.weaker[:CLOSEST]

    @property
    def shown(self) -> list[Hit]:
        """What a person is shown by default: the hits, or the closest when no hit passed the cut."""
        return self.hits or self.closest
