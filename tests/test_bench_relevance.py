"""The relevance benchmark's metrics on hand-made labels: recall, precision, ranking, buckets and summaries."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from relevance_metrics import Case, bucket, group, replay, score, summarise

RIGHT = frozenset({"a.jpg", "b.jpg", "c.jpg", "d.jpg"})


@pytest.mark.parametrize(
    ("share", "expected"),
    [
        (0.001, "0.5%"),
        (0.005, "0.5%"),
        (0.008, "1%"),
        (0.012, "1%"),
        (0.02, "3%"),
        (0.05, "3%"),
        (0.06, "10%"),
        (0.15, "10%"),
        (0.2, "30%+"),
        (0.9, "30%+"),
    ],
)
def test_a_share_goes_to_the_nearest_bucket_on_a_log_scale(share, expected):
    assert bucket(share) == expected


def test_a_concept_the_library_lacks_has_no_bucket():
    with pytest.raises(ValueError):
        bucket(0.0)


def test_recall_and_precision_count_what_is_shown_against_the_right_answers():
    case = Case("text:en", "a red circle", RIGHT)
    result = score(
        case, shown=["a.jpg", "x.jpg", "b.jpg"], ranked=["a.jpg", "b.jpg", "x.jpg", "c.jpg"], library_size=200, k=50
    )
    assert result.recall == 2 / 4
    assert result.precision == 2 / 3
    assert result.ranking == 3 / 4  # the uncut top four (as many as are right): a, b, x, c
    assert result.bucket == "3%" and result.shown == 3


def test_recall_is_measured_against_what_k_results_could_hold():
    right = frozenset(f"{i}.jpg" for i in range(10))
    result = score(
        Case("noun", "a circle", right),
        shown=["0.jpg", "1.jpg"],
        ranked=["0.jpg", "1.jpg", "x.jpg"],
        library_size=20,
        k=4,
    )
    assert result.recall == 2 / 4 and result.ranking == 2 / 4 and result.precision == 1.0


def test_nothing_shown_scores_no_recall_and_no_precision():
    result = score(Case("text:en", "a red circle", RIGHT), shown=[], ranked=["a.jpg"], library_size=400, k=50)
    assert result.recall == 0.0 and result.precision is None and result.ranking == 1 / 4


def test_the_query_picture_is_neither_right_nor_wrong_and_is_reported_apart():
    case = Case("image:library", "similar to a.jpg", RIGHT, query_image="a.jpg")
    result = score(
        case, shown=["a.jpg", "b.jpg", "x.jpg"], ranked=["a.jpg", "b.jpg", "c.jpg", "d.jpg"], library_size=400, k=50
    )
    assert result.self_shown is True
    assert result.shown == 2 and result.precision == 1 / 2
    assert result.recall == 1 / 3  # b of the three others: the query picture is not there to be found
    assert result.ranking == 3 / 3  # the uncut top three (as many as are right besides it): b, c, d
    assert result.right == 3 and result.bucket == "1%"  # the bucket is still the concept's share: 4 in 400


def test_a_query_that_should_show_nothing_is_scored_by_what_it_shows():
    quiet = score(Case("gibberish", "zxqv blorp", frozenset()), shown=[], ranked=["a.jpg"], library_size=400, k=50)
    loud = score(Case("gibberish", "asdfgh", frozenset()), shown=["a.jpg"], ranked=["a.jpg"], library_size=400, k=50)
    assert quiet.bucket is None and quiet.recall is None
    summary = summarise([quiet, loud])
    assert summary.empty_rate == 0.5 and summary.recall is None and summary.shown == 0.5


def test_words_the_model_was_not_taught_report_what_they_showed_of_the_pair_they_mean():
    meant = frozenset({"red1.jpg", "red2.jpg"})
    case = Case("unknown-language", "un cerchio rosso", frozenset(), meant=meant)
    half = score(case, shown=["red1.jpg", "blue.jpg"], ranked=[], library_size=400, k=50)
    quiet = score(case, shown=[], ranked=["red1.jpg"], library_size=400, k=50)
    assert half.bucket is None and half.precision == 0.5 and quiet.precision is None
    summary = summarise([half, quiet])
    assert summary.empty_rate == 0.5 and summary.precision == 0.5


def test_summaries_average_precision_only_where_something_was_shown_and_split_by_bucket():
    common = frozenset(f"{i}.jpg" for i in range(60))
    scores = [
        score(Case("text:en", "rare", frozenset({"r.jpg"})), shown=[], ranked=["r.jpg"], library_size=200, k=50),
        score(Case("text:en", "common", common), shown=["0.jpg", "x.jpg"], ranked=[], library_size=200, k=50),
    ]
    groups = group(scores, by_bucket=True)
    assert set(groups) == {("text:en", "all"), ("text:en", "0.5%"), ("text:en", "30%+")}
    overall = groups[("text:en", "all")]
    assert overall.cases == 2 and overall.precision == 0.5 and overall.recall == (0 + 1 / 50) / 2
    assert overall.nothing_shown_rate == 0.5 and overall.empty_rate is None
    assert groups[("text:en", "0.5%")].ranking == 1.0


def test_the_closest_offered_below_the_cut_are_counted_apart_from_what_is_shown():
    offered = score(Case("absent:text", "a red cross", frozenset()), [], ["a.jpg"], 400, 50, closest=["a.jpg"])
    above = score(Case("absent:text", "a red ring", frozenset()), ["b.jpg"], ["b.jpg"], 400, 50)
    summary = summarise([offered, above])
    assert offered.shown == 0 and offered.closest == 1
    assert summary.empty_rate == 0.5 and summary.closest_rate == 0.5


def test_a_replayed_threshold_shows_the_uncut_results_rated_at_least_that():
    case = Case("text:en", "a red circle", RIGHT)
    scored = score(case, shown=[], ranked=["a.jpg", "x.jpg", "b.jpg"], library_size=400, k=50, closest=["a.jpg"])
    ratings = [(0.9, 80.0, True), (0.8, 55.0, False), (0.7, 40.0, True), (0.6, None, False)]
    loose, strict = replay(scored, ratings, 30, k=50), replay(scored, ratings, 60, k=50)
    assert (loose.shown, loose.recall, loose.precision) == (3, 2 / 4, 2 / 3)
    assert (strict.shown, strict.recall, strict.precision, strict.closest) == (1, 1 / 4, 1.0, 0)
    nothing = replay(scored, ratings, 90, k=50)
    assert nothing.recall == 0.0 and nothing.precision is None
    quiet = score(Case("gibberish", "zxqv", frozenset()), [], ["a.jpg"], 400, 50)
    assert replay(quiet, [(0.5, 45.0, False)], 40, k=50).shown == 1
