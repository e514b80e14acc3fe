"""A query of several terms shows matches of its main term and of no negative term.

The mix alone cannot tell. "0.55 a purple cross + 0.45 a red circle" rates the red circles as partial matches
of the mix, and when there are only a few purple crosses the red circles sit just below them, above the cut;
"a star − yellow" rates a yellow star beside a blue one a little lower than a blue star alone, still above.
So each term that decides is also searched alone, and its own cut (found among its own ranked hits, as for a
one-term query) says which of the mix's results match it:
- the main term is the positive term of largest weight (any of those tied: "a photo + a cat" at equal
  weights shows what matches either); a result must match it;
- a result must match no negative term.
A result that fails is rated just below the default cut: it stays in the ranked list, with the weaker ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from viewfinder.search import relevance
from viewfinder.search.query import Term, effective_weights
from viewfinder.search.results import Hit

BELOW_CUT = 49.9  # the rating of a result that its terms alone do not bear out


def held_to_terms(
    hits: Sequence[Hit],
    terms: Sequence[Term],
    term_vectors: np.ndarray,
    calibration: relevance.Calibration,
    alone: Callable[[np.ndarray], list[Hit]],
    vector_of: Callable[[int], np.ndarray | None],
) -> list[Hit]:
    """The rated hits of a query of several terms, those rated as results that miss its main term or match a
    negative one rated `BELOW_CUT`; `alone` searches one term's vector, `vector_of` reads an image's vector."""
    results = [hit for hit in hits if hit.relevance is not None and hit.relevance >= relevance.DEFAULT_MIN_RELEVANCE]
    if not results:
        return list(hits)
    weights = effective_weights(terms)
    main = [j for j, weight in enumerate(weights) if weight >= weights.max() - 1e-6]
    negative = [j for j, weight in enumerate(weights) if weight < 0]
    found = np.stack([_or_zero(vector_of(hit.image.id), term_vectors.shape[1]) for hit in results])

    def matches(j: int) -> np.ndarray:
        return found @ term_vectors[j] >= _threshold(terms[j], term_vectors[j], calibration, alone)

    keep = np.any([matches(j) for j in main], axis=0)
    for j in negative:
        keep &= ~matches(j)
    dropped = {hit.image.id for hit, ok in zip(results, keep, strict=True) if not ok}
    below = relevance.match_word(BELOW_CUT)
    return [replace(hit, relevance=BELOW_CUT, match=below) if hit.image.id in dropped else hit for hit in hits]


def _threshold(
    term: Term, vector: np.ndarray, calibration: relevance.Calibration, alone: Callable[[np.ndarray], list[Hit]]
) -> float:
    """The cosine from which images match the term alone (an image term is anchored at an identical picture)."""
    is_image = term.text is None
    prior = calibration.image if is_image else calibration.text
    similarities = [hit.similarity for hit in alone(vector)]
    return relevance.match_threshold(similarities, calibration.typical(vector), prior, identical_anchor=is_image)


def _or_zero(vector: np.ndarray | None, dim: int) -> np.ndarray:
    """An image's vector, or zeros for one deleted since it was found (it then matches no term)."""
    return np.zeros(dim, np.float32) if vector is None else vector
