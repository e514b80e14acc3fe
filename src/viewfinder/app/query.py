"""The vocabulary of a search, for the fronts: terms, filters, rerank weights and their limits."""

from viewfinder.search.duplicates import DEFAULT_THRESHOLD, KINDS, SIMILAR_THRESHOLD, Kind, threshold_of
from viewfinder.search.encoding import parse_image_id
from viewfinder.search.query import (
    DEFAULT_K,
    MAX_K,
    MAX_TERMS,
    MAX_TEXT_CHARS,
    MAX_WEIGHT,
    NEGATIVE_WEIGHT,
    Query,
    Term,
    check_min_relevance,
)
from viewfinder.search.ranking import MAX_RERANK_WEIGHT, Rerank
from viewfinder.search.typed import TypedLine, read_line
from viewfinder.store.filters import Filters

__all__ = [
    "DEFAULT_K",
    "DEFAULT_THRESHOLD",
    "KINDS",
    "MAX_K",
    "MAX_RERANK_WEIGHT",
    "MAX_TERMS",
    "MAX_TEXT_CHARS",
    "MAX_WEIGHT",
    "NEGATIVE_WEIGHT",
    "SIMILAR_THRESHOLD",
    "Filters",
    "Kind",
    "Query",
    "Rerank",
    "Term",
    "TypedLine",
    "check_min_relevance",
    "parse_image_id",
    "read_line",
    "threshold_of",
]
