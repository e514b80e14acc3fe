"""A query of several terms judged by its terms alone (search.term_matches), on hand-made vectors: "a star" less
"yellow" over ten blue stars, ten yellow stars and forty other pictures."""

from __future__ import annotations

import numpy as np

from viewfinder.search.query import Term
from viewfinder.search.relevance import Calibration, Prior, packed_sample
from viewfinder.search.results import Hit
from viewfinder.search.term_matches import BELOW_CUT, held_to_terms
from viewfinder.store.catalog_rows import ImageRecord

DIM = 8
STAR, YELLOW, BLUE = np.eye(DIM, dtype=np.float32)[:3]


def unit(vector: np.ndarray) -> np.ndarray:
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def library() -> dict[int, np.ndarray]:
    """Image id -> vector: ids 0-9 blue stars, 10-19 yellow stars, 20-59 other pictures."""
    noise = np.random.default_rng(7).normal(0.0, 0.05, (60, DIM))
    others = np.eye(DIM, dtype=np.float32)[3:]
    drawn = [STAR + BLUE] * 10 + [STAR + YELLOW] * 10 + [others[i % len(others)] for i in range(40)]
    return {i: unit(vector + noise[i]) for i, vector in enumerate(drawn)}


def hit(image_id: int, similarity: float, relevance: float) -> Hit:
    record = ImageRecord(image_id, f"/photos/{image_id}.jpg", "/photos/", 1, 1, 64, 64, "JPEG", None, 0.0)
    return Hit(image_id + 1, record, similarity, relevance=relevance)


VECTORS = library()
SAMPLE = packed_sample(np.stack(list(VECTORS.values())))
CALIBRATION = Calibration("test", "bank", len(VECTORS), Prior(0.0, 0.7), Prior(0.0, 0.9), (0.0,) * DIM, SAMPLE)


def alone(vector: np.ndarray) -> list[Hit]:
    """One term's ranked hits over the library, as the engine's search of a term alone gives them."""
    ranked = sorted(VECTORS, key=lambda i: -float(VECTORS[i] @ vector))
    return [hit(i, float(VECTORS[i] @ vector), 0.0) for i in ranked[:50]]


def judge(terms: list[Term], term_vectors: list[np.ndarray], hits: list[Hit]) -> list[Hit]:
    return held_to_terms(hits, terms, np.stack(term_vectors), CALIBRATION, alone, VECTORS.get)


def test_a_mix_shows_what_matches_its_main_term_and_no_negative_one_whatever_the_mix_rated():
    terms = [Term(text="a star"), Term(text="yellow", weight=-0.5)]
    # As the mix's own cut might rate them: half the blue stars and two yellow stars as results, the rest not.
    rated = {i: 80.0 if i < 5 or i in (10, 11) else 30.0 for i in range(20)}
    hits = [hit(i, 0.5, rated[i]) for i in range(20)] + [hit(i, 0.1, 10.0) for i in range(20, 50)]

    judged = {h.image.id: h for h in judge(terms, [STAR, YELLOW], hits)}
    assert [judged[i].relevance for i in range(5)] == [80.0] * 5  # results that their terms keep
    assert [(judged[i].relevance, judged[i].match) for i in range(5, 10)] == [(50.0, "possible")] * 5  # promoted
    assert [judged[i].relevance for i in (10, 11)] == [BELOW_CUT] * 2  # yellow: out of the results
    assert all(judged[i].relevance == 30.0 for i in range(12, 20))  # yellow stars below the cut stay there
    assert all(judged[i].relevance == 10.0 for i in range(20, 50))  # no star: not promoted
    assert [h.image.id for h in judged.values()] == [h.image.id for h in hits]  # the mix keeps the order


def test_a_hit_promoted_must_match_every_main_term_of_a_tie():
    terms = [Term(text="a star"), Term(text="blue")]  # equal weights: both are main terms
    judged = judge(terms, [STAR, BLUE], [hit(i, 0.4, 30.0) for i in range(20)])
    # Blue stars; a yellow star matches "a star" alone, which keeps a result but does not promote one.
    assert {h.image.id for h in judged if h.relevance == 50.0} == set(range(10))
