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
The other way round, a hit the mix rates below its cut that matches the main term and no negative one is a
match of what was asked, and is rated at the cut: "a star − yellow" shows the blue and red stars whose mix
scores fell a little short ("a star" alone finds them, "yellow" alone does not).
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
    """The rated hits of a query of several terms, judged by its terms: a result that misses its main term or
    matches a negative one is rated `BELOW_CUT`, and a hit below the cut that matches its main term and no
    negative one is rated at the cut (a possible match); `alone` searches one term's vector, `vector_of`
    reads an image's vector."""
    if not hits:
        return list(hits)
    weights = effective_weights(terms)
    main = [j for j, weight in enumerate(weights) if weight >= weights.max() - 1e-6]
    negative = [j for j, weight in enumerate(weights) if weight < 0]
    found = np.stack([_or_zero(vector_of(hit.image.id), term_vectors.shape[1]) for hit in hits])

    def matches(j: int) -> np.ndarray:
        return found @ term_vectors[j] >= _threshold(terms[j], term_vectors[j], calibration, alone)

    main_matches = np.array([matches(j) for j in main])
    clear = np.ones(len(hits), bool)
    for j in negative:
        clear &= ~matches(j)
    kept, promoted = main_matches.any(axis=0) & clear, main_matches.all(axis=0) & clear
    return [_judged(hit, *both) for hit, *both in zip(hits, kept, promoted, strict=True)]


def _judged(hit: Hit, kept: bool, promoted: bool) -> Hit:
    """The hit rated as its terms alone say: a result they do not keep just below the cut, a hit below the cut
    that they promote at it."""
    cut = relevance.DEFAULT_MIN_RELEVANCE
    rated = hit.relevance if hit.relevance is not None else 0.0
    if rated >= cut and not kept:
        return replace(hit, relevance=BELOW_CUT, match=relevance.match_word(BELOW_CUT))
    if rated < cut and promoted:
        return replace(hit, relevance=cut, match=relevance.match_word(cut))
    return hit


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
