"""The query algebra: text and image terms with signed weights, combined into one query vector.

A query is a list of terms. Positive weights are scaled to sum to 1; negative weights keep their size
relative to that. The query vector is the normalised weighted sum of the terms' unit vectors, so an image's
rank follows Σ wᵢ·cos(termᵢ, image): "mountains, not snow" ranks by cos(mountains) − cos(snow).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from viewfinder.errors import BadQueryError
from viewfinder.search.ranking import Rerank
from viewfinder.search.terms import Term
from viewfinder.settings import SORTS, Sort
from viewfinder.store.filters import Filters, is_valid_unicode

MAX_TERMS = 16
MAX_K = 1000
DEFAULT_K = 50
MAX_WEIGHT = 100.0
MAX_TEXT_CHARS = 500
NEGATIVE_WEIGHT = -1.0


@dataclass(frozen=True)
class Query:
    """One search, checked once when made: what every front builds and `Index.search` answers.

    `min_relevance` None means the model's default (search.relevance); empty filters and a rerank that is
    off are kept as None, so equal searches compare (and cache) equal. `sort` is one of SORTS: "date" gives
    the hits that pass the relevance cut newest first (search.ordering).
    """

    terms: tuple[Term, ...]
    k: int = DEFAULT_K
    filters: Filters | None = None
    rerank: Rerank | None = None
    min_relevance: float | None = None
    sort: Sort = "relevance"

    def __post_init__(self) -> None:
        object.__setattr__(self, "terms", tuple(validate(self.terms)))
        if isinstance(self.k, bool) or not isinstance(self.k, int) or not 1 <= self.k <= MAX_K:
            raise BadQueryError(f"k must be between 1 and {MAX_K}.")
        if self.filters is not None and self.filters.is_empty():
            object.__setattr__(self, "filters", None)
        if self.rerank is not None and self.rerank.is_off:
            object.__setattr__(self, "rerank", None)
        if self.min_relevance is not None:
            object.__setattr__(self, "min_relevance", check_min_relevance(self.min_relevance))
        if self.sort not in SORTS:
            raise BadQueryError(f"sort must be {' or '.join(SORTS)}, not {self.sort!r}.")

    @property
    def cacheable(self) -> bool:
        """Whether an answer can be kept for the same query (an uploaded image's bytes are not kept)."""
        return all(term.image_bytes is None for term in self.terms)

    @property
    def needs_text_model(self) -> bool:
        return any(term.text is not None for term in self.terms)

    @property
    def needs_image_model(self) -> bool:
        return any(term.image_path is not None or term.image_bytes is not None for term in self.terms)

    @property
    def image_weighted(self) -> bool:
        """Whether most of the positive weight is on image terms (rated against the image reference)."""
        positive = [term for term in self.terms if term.weight > 0]
        image_weight = sum(term.weight for term in positive if term.text is None)
        return image_weight > sum(term.weight for term in positive if term.text is not None)


def check_min_relevance(value: float) -> float:
    """The relevance threshold as a float, or BadQueryError when it is not a percentage."""
    if isinstance(value, bool) or not (math.isfinite(value) and 0.0 <= value <= 100.0):
        raise BadQueryError("min_relevance must be a percentage between 0 and 100.")
    return float(value)


def validate(terms: Sequence[Term]) -> list[Term]:
    """The terms with blank texts rejected and weights checked; raises BadQueryError with the fix."""
    if not terms:
        raise BadQueryError("The query is empty; give a text, an image or both.")
    if len(terms) > MAX_TERMS:
        raise BadQueryError(f"A query takes at most {MAX_TERMS} terms.")
    checked = []
    for term in terms:
        sources = [term.text, term.image_id, term.image_path, term.image_bytes]
        if sum(source is not None for source in sources) != 1:
            raise BadQueryError("Each term is exactly one of a text or an image.")
        if term.text is not None:
            text = " ".join(term.text.split())
            if not text:
                raise BadQueryError("A query text is empty; type some words.")
            if len(text) > MAX_TEXT_CHARS:
                raise BadQueryError(f"A query text is longer than {MAX_TEXT_CHARS} characters; shorten it.")
            if not is_valid_unicode(text):
                raise BadQueryError("A query text holds characters that are not valid Unicode; retype it.")
            term = Term(weight=term.weight, text=text)
        if not math.isfinite(term.weight) or abs(term.weight) > MAX_WEIGHT:
            raise BadQueryError(f"Weight {term.weight} is not a number between -{MAX_WEIGHT:g} and {MAX_WEIGHT:g}.")
        checked.append(term)
    if not any(term.weight > 0 for term in checked):
        raise BadQueryError("A query needs at least one term with a positive weight (what to look for).")
    return checked


def effective_weights(terms: Sequence[Term]) -> np.ndarray:
    """Weights with the positive ones scaled to sum to 1 and the negative ones by the same factor."""
    weights = np.array([term.weight for term in terms], dtype=np.float64)
    positive_sum = weights[weights > 0].sum()
    return (weights / positive_sum).astype(np.float32)


def combine(vectors: np.ndarray, terms: Sequence[Term]) -> np.ndarray:
    """The unit query vector for term vectors (one unit row per term)."""
    query = effective_weights(terms) @ np.asarray(vectors, dtype=np.float32)
    norm = float(np.linalg.norm(query))
    if norm < 1e-6:
        raise BadQueryError("The terms cancel each other out; lower the weight of the negative terms.")
    return (query / norm).astype(np.float32)


def describe(terms: Sequence[Term]) -> str:
    """A readable form of a query, e.g. 'mountains ×0.7 + lake ×0.3 − snow'."""
    parts: list[str] = []
    weights = effective_weights(terms)
    show_weights = len({round(abs(float(w)), 4) for w in weights}) > 1
    for term, weight in zip(terms, weights, strict=True):
        text = term.label() + (f" ×{abs(float(weight)):.2g}" if show_weights else "")
        if parts:
            parts.append(("+ " if weight > 0 else "− ") + text)
        else:
            parts.append(text if weight > 0 else "− " + text)
    return " ".join(parts)
