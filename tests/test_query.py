"""The query algebra: validation, weights and the combined vector."""

from __future__ import annotations

import numpy as np
import pytest

from viewfinder.errors import BadQueryError
from viewfinder.search.query import Term, combine, describe, effective_weights, validate


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_combined_vector_ranks_by_weighted_sum_of_similarities():
    terms = [Term(text="mountains", weight=0.7), Term(text="lake", weight=0.3), Term(text="snow", weight=-0.5)]
    vectors = np.stack([unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1)])
    images = np.stack([unit(1, 0.2, 0.9), unit(1, 0.4, 0), unit(0.2, 1, 0), unit(0, 0, 1)])
    query = combine(vectors, terms)
    expected = images @ vectors.T @ effective_weights(terms)
    assert np.argsort(-(images @ query)).tolist() == np.argsort(-expected).tolist()
    assert np.isclose(np.linalg.norm(query), 1.0)


def test_positive_weights_are_scaled_to_sum_to_one_and_negatives_by_the_same_factor():
    weights = effective_weights([Term(text="a", weight=2), Term(text="b", weight=2), Term(text="c", weight=-1)])
    assert weights.tolist() == pytest.approx([0.5, 0.5, -0.25])


def test_weights_move_the_query_towards_the_heavier_term():
    vectors = np.stack([unit(1, 0), unit(0, 1)])
    towards_first = combine(vectors, [Term(text="a", weight=0.7), Term(text="b", weight=0.3)])
    towards_second = combine(vectors, [Term(text="a", weight=0.3), Term(text="b", weight=0.7)])
    assert towards_first[0] > towards_first[1] and towards_second[1] > towards_second[0]


@pytest.mark.parametrize(
    ("terms", "message"),
    [
        ([], "empty"),
        ([Term(text="   ")], "empty"),
        ([Term(text="x" * 501)], "longer than"),
        ([Term(text="snow", weight=-1)], "positive weight"),
        ([Term(text="a", weight=float("nan"))], "not a number"),
        ([Term(text="a", image_id="3")], "exactly one"),
    ],
)
def test_invalid_queries_raise_a_clear_error(terms, message):
    with pytest.raises(BadQueryError, match=message):
        validate(terms)


def test_terms_that_cancel_out_are_an_error_not_a_nan_vector():
    with pytest.raises(BadQueryError, match="cancel"):
        combine(np.stack([unit(1, 0), unit(1, 0)]), [Term(text="a"), Term(text="a ", weight=-1)])


def test_description_reads_like_the_query():
    assert describe([Term(text="mountains"), Term(text="snow", weight=-1)]) == "mountains − snow"
    assert describe([Term(text="a", weight=0.7), Term(image_id="4", weight=0.3)]) == "a ×0.7 + image 4 ×0.3"
