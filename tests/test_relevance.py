"""Relevance: each result rated by how likely it matches, with a cut that adapts to the query's own scores.

Focused tests of the cut on hand-made score lists (search.relevance.ratings), then the `test:shapes` model over
generated libraries through the real CLI and HTTP service: a library that holds no stars answers every
"a COLOUR star" query with nothing (and the closest few labelled), while queries for pairs it holds find
them; a concept that fills a third of a library is shown whole; an image searched by itself rates 100.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import httpx
import numpy as np
import pytest
from cli_helpers import run_cli, run_cli_json, run_subprocess
from service_helpers import start_server_process

import viewfinder
from shapeworld.scenes import scene_of
from viewfinder.images import synthetic
from viewfinder.images.synthetic import COLOURS
from viewfinder.search.relevance import (
    CACHE_FILE,
    DEFAULT_MIN_RELEVANCE,
    Prior,
    Typical,
    calibrate,
    match_threshold,
    ratings,
)
from viewfinder.store.indexdir import IndexDir

LIBRARY_SEED = 4_242
LIBRARY_SIZE = 200
ABSENT = "star"
PRIOR = Prior(typical=0.0, match=0.35)  # a text model whose queries' best matches sit near 0.35


def evenly(typical: float) -> Typical:
    """A query's typical scores where the collection's are spread evenly: its mean and median alike."""
    return Typical(mean=typical, median=typical)


def background(count: int, seed: int = 0) -> list[float]:
    """Scores of unrelated pictures: near the typical score 0."""
    return list(np.random.default_rng(seed).normal(0.0, 0.03, count))


def passed(scores: list[float], **kwargs) -> list[bool]:
    return passed_against(evenly(0.0), scores, **kwargs)


def passed_against(typical: Typical, scores: list[float], identical_anchor: bool = False, **kwargs) -> list[bool]:
    rated = ratings(scores, typical, PRIOR, identical_anchor=identical_anchor, **kwargs)
    return [rating >= DEFAULT_MIN_RELEVANCE for rating in rated]


def test_a_concept_that_fills_the_ranked_list_is_shown_whole():
    matches = list(np.linspace(0.38, 0.31, 50))  # a third of a large library: every hit of the pool matches
    assert all(passed(matches, identical_anchor=False))


def test_a_concept_that_fills_much_of_the_library_stands_out_from_its_median_score_not_its_mean():
    # Circles in a library of shapes, 40% of it: their scores pull the query's mean towards its best hit, while
    # most pictures, and so the median, score like unrelated ones.
    matches = list(np.linspace(0.36, 0.31, 50))
    assert all(passed_against(Typical(mean=0.23, median=0.04), matches))
    # Measured from the mean, its best hit would fall short of LIFT of the model's range: nothing shown.
    assert not any(passed_against(evenly(0.23), matches))


def test_a_calibration_from_before_the_kept_sample_or_a_damaged_one_is_measured_again(tmp_path):
    index_dir = IndexDir(tmp_path)
    vectors = np.eye(4, dtype=np.float32)
    measured = calibrate(index_dir, "model", ["a photo"], 4, lambda size: vectors, lambda texts: vectors[:1])
    assert measured.typical(vectors[0]) == Typical(mean=0.25, median=0.0)
    stored = json.loads((tmp_path / CACHE_FILE).read_text())
    for damaged in ({k: v for k, v in stored.items() if k != "sample"}, {**stored, "sample": "not base64!"}):
        (tmp_path / CACHE_FILE).write_text(json.dumps(damaged))
        again = calibrate(index_dir, "model", ["a photo"], 4, lambda size: vectors, lambda texts: vectors[:1])
        assert again == measured and json.loads((tmp_path / CACHE_FILE).read_text()) == stored


def test_a_rare_concept_is_cut_at_the_break_above_its_partial_matches():
    matches, partial = [0.37, 0.36, 0.36, 0.35, 0.35, 0.34], list(np.linspace(0.25, 0.22, 14))
    shown = passed(matches + partial + background(30), identical_anchor=False)
    assert shown[: len(matches)] == [True] * len(matches) and not any(shown[len(matches) :])


def test_a_break_is_found_when_every_hit_of_the_pool_sits_above_the_lowest_cut():
    # Two matches, then 48 partial ones that all sit above CUT_FROM (the 5th hit, the anchor, is one of them;
    # the scores of "a black cross" on the heldout library): the end of the pool is no drop, so the wide drop
    # after the two matches is the break.
    matches, partial = [0.241, 0.229], list(np.linspace(0.104, 0.03, 48))
    rated = ratings(matches + partial, evenly(-0.135), Prior(typical=-0.099, match=0.261), identical_anchor=False)
    assert [rating >= DEFAULT_MIN_RELEVANCE for rating in rated] == [True, True] + [False] * 48


def test_a_drop_above_hits_still_at_the_models_match_level_is_not_the_break():
    # One picture stands out above forty-nine that still score like the model's matches: they are matches.
    lone, matches = [0.40], list(np.linspace(0.335, 0.32, 49))
    assert all(passed(lone + matches, identical_anchor=False))


def test_words_the_model_does_not_know_and_absent_concepts_show_nothing():
    alike = list(np.linspace(0.33, 0.28, 50))  # alike against every picture: no lift over its typical 0.25
    assert max(ratings(alike, evenly(0.25), PRIOR, identical_anchor=False)) < DEFAULT_MIN_RELEVANCE
    partial_only = [0.24, 0.23, 0.22, *background(47)]  # stands out, but short of the model's match level
    assert not any(passed(partial_only, identical_anchor=False))
    # A mix of terms is held to its lift only: its matches score lower than any one term's.
    mix = [0.28, 0.27, 0.27, 0.26, 0.26, *background(45)]
    assert any(passed(mix, identical_anchor=False, one_term=False))
    assert not any(passed(mix, identical_anchor=False, one_term=True))


def test_a_terms_match_threshold_is_the_cosine_where_its_ratings_reach_50():
    scores = [0.37, 0.36, 0.36, 0.35, 0.35, 0.34, *np.linspace(0.25, 0.22, 14), *background(30)]
    threshold = match_threshold(scores, evenly(0.0), PRIOR, identical_anchor=False)
    assert [score >= threshold for score in scores] == passed(scores, identical_anchor=False)
    assert 0.25 < threshold <= 0.34
    alike = list(np.linspace(0.33, 0.28, 50))  # words the model does not know: nothing matches them
    assert match_threshold(alike, evenly(0.25), PRIOR, identical_anchor=False) == float("inf")


def test_an_identical_picture_rates_100_and_ratings_fall_with_the_score():
    image_prior = Prior(typical=0.4, match=0.95)
    scores = [1.0, 0.93, 0.9, 0.88, 0.86, *np.linspace(0.6, 0.4, 45)]
    rated = ratings(scores, evenly(0.4), image_prior, identical_anchor=True)
    assert rated[0] == 100.0 and rated == sorted(rated, reverse=True) and rated[-1] < 10


@pytest.fixture(scope="module")
def starless(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, set[tuple[str, str]]]]:
    """An index of a shapes library with every star picture removed; returns it and the (colour, shape) pairs
    each picture (by file name) shows."""
    root = tmp_path_factory.mktemp("starless")
    library, index = root / "library", root / "index"
    shows: dict[str, set[tuple[str, str]]] = {}
    for path, scene in synthetic.generate_library(library, LIBRARY_SIZE, seed=LIBRARY_SEED):
        if any(o.shape == ABSENT for o in scene.objects):
            path.unlink()
        else:
            shows[path.name] = {(o.colour, o.shape) for o in scene.objects}
    done = run_subprocess("index", library, "--model", "test:shapes", "--index", index, "--json")
    assert done.returncode == 0, done.stderr
    return index, shows


@pytest.fixture(scope="module")
def a_third_red_circles(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    """An index of 90 pictures, a third of them red circles; returns it, the library and the red circles'
    file names."""
    root = tmp_path_factory.mktemp("third")
    library, index = root / "library", root / "index"
    library.mkdir()
    rng = np.random.default_rng(LIBRARY_SEED)
    others = [(c, s) for c in COLOURS for s in ("square", "triangle", "star", "cross") if c != "red"]
    circles = []
    for number in range(90):
        colour, shape = ("red", "circle") if number % 3 == 0 else others[int(rng.integers(len(others)))]
        name = f"{number:03d}-{colour}-{shape}.jpg"
        synthetic.render_scene(scene_of(shape, colour, rng), (320, 240), rng).save(library / name, quality=90)
        circles += [name] if shape == "circle" else []
    done = run_subprocess("index", library, "--model", "test:shapes", "--index", index, "--json")
    assert done.returncode == 0, done.stderr
    return index, library, circles


@pytest.fixture(scope="module")
def many_circles(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """An index of 100 pictures, 45 of them circles of every colour; returns it and the circles' file names."""
    root = tmp_path_factory.mktemp("circles")
    library, index = root / "library", root / "index"
    library.mkdir()
    rng = np.random.default_rng(LIBRARY_SEED)
    others = ("square", "triangle", "star", "cross")
    for number in range(100):
        shape = "circle" if number < 45 else others[number % len(others)]
        colour = list(COLOURS)[int(rng.integers(len(COLOURS)))]
        name = f"{number:03d}-{colour}-{shape}.jpg"
        synthetic.render_scene(scene_of(shape, colour, rng), (320, 240), rng).save(library / name, quality=90)
    done = run_subprocess("index", library, "--model", "test:shapes", "--index", index, "--json")
    assert done.returncode == 0, done.stderr
    return index, sorted(path.name for path in library.glob("*-circle.jpg"))


@pytest.fixture(scope="module")
def third_server(a_third_red_circles: tuple[Path, Path, list[str]]) -> Iterator[str]:
    """`viewfinder serve` at its defaults over a_third_red_circles, shared by the tests that only search it."""
    with start_server_process(a_third_red_circles[0]) as server:
        yield server


@pytest.mark.slow
def test_cli_finds_nothing_for_an_absent_shape_but_finds_present_pairs(capsys, starless):
    index, shows = starless
    present = sorted(set().union(*shows.values()))
    absent = [run_cli_json(capsys, "search", f"a {colour} {ABSENT}", "--index", index) for colour in COLOURS]
    # The tiny model mistakes a star for a triangle now and then: a rate, as everywhere in these tests.
    assert np.mean([result["count"] == 0 for result in absent]) >= 0.75
    for result in absent:
        assert result["min_relevance"] == DEFAULT_MIN_RELEVANCE
        if result["count"] == 0:  # the closest few are still shown, rated below the threshold
            assert result["results"] == [] and 1 <= len(result["closest"]) <= 3
            assert all(hit["relevance"] < DEFAULT_MIN_RELEVANCE for hit in result["closest"])
    found = []
    for pair in present:
        result = run_cli_json(capsys, "search", "a {} {}".format(*pair), "-k", "1", "--index", index)
        found.append(result["count"] == 1 and pair in shows[Path(result["results"][0]["path"]).name])
        assert result["count"] == 0 or result["results"][0]["relevance"] >= DEFAULT_MIN_RELEVANCE
    assert len(present) >= 30 and np.mean(found) >= 0.9
    assert json.loads((index / CACHE_FILE).read_text())["images"] > 0  # measured once, kept with the index


@pytest.mark.slow
def test_cli_says_so_in_words_and_min_relevance_zero_lists_every_result(capsys, starless):
    index, _ = starless
    code, out, _ = run_cli(capsys, "search", "a red star", "--index", index)
    assert code == 0 and out.splitlines()[0] == "No results above 50% relevance; the closest were:"
    closest = out.splitlines()[1:4]
    assert len(closest) == 3 and all(" weak " in line and "%" in line for line in closest)
    assert "weaker matches below the line" in out.splitlines()[4]
    every = run_cli_json(capsys, "search", "a red star", "-k", "7", "--min-relevance", "0", "--index", index)
    assert every["count"] == 7 and every["closest"] == []
    code, _, err = run_cli(capsys, "search", "a red star", "--min-relevance", "120", "--index", index)
    assert code == 2 and "between 0 and 100" in err


@pytest.mark.slow
def test_serve_min_relevance_sets_the_default_threshold_and_bad_values_exit_2(capsys, starless):
    index, _ = starless
    with start_server_process(index, "--min-relevance", "0") as server, httpx.Client(base_url=server) as http:
        body = http.post("search", json={"query": "a red star", "top_k": 4}, timeout=60).json()
        strict = http.post("search", json={"query": "a red star", "min_relevance": 99}, timeout=60).json()
    assert body["count"] == 4 and body["min_relevance"] == 0
    assert strict["count"] == 0 and strict["min_relevance"] == 99
    code, _, err = run_cli(capsys, "serve", "--index", index, "--min-relevance", "101")
    assert code == 2 and "between 0 and 100" in err


@pytest.mark.slow
def test_http_rates_results_and_answers_count_0_with_the_closest(starless):
    index, shows = starless
    present = sorted(set().union(*shows.values()))
    with start_server_process(index) as server, httpx.Client(base_url=server, timeout=60) as http:
        absent = [http.post("search", json={"query": f"a {c} {ABSENT}"}).json() for c in COLOURS]
        hits = [http.post("search", json={"query": f"a {c} {s}", "top_k": 3}).json() for c, s in present]
        every = http.post("search", json={"query": "a red star", "top_k": 5, "min_relevance": 0}).json()
        bad = http.post("search", json={"query": "a red star", "min_relevance": -1})
        upload = synthetic.render_scene(
            scene_of(*present[0][::-1], np.random.default_rng(1)), (320, 240), np.random.default_rng(2)
        )
        buffer = BytesIO()
        upload.save(buffer, format="PNG")
        files = {"image": ("q.png", buffer.getvalue(), "image/png")}
        by_image = http.post("search/image", files=files, data={"min_relevance": "0", "top_k": "2"}).json()
    empty = [body for body in absent if body["success"] and body["count"] == 0 and body["results"] == []]
    assert len(empty) >= 0.75 * len(absent)
    assert all(body["closest"] and body["closest"][0]["relevance"] < DEFAULT_MIN_RELEVANCE for body in empty)
    assert np.mean([body["count"] >= 1 for body in hits]) >= 0.75
    assert all(hit["relevance"] >= DEFAULT_MIN_RELEVANCE for body in hits for hit in body["results"])
    assert all(body["closest"] == [] for body in hits if body["count"])
    assert every["count"] == 5 and every["min_relevance"] == 0 and "similarity" in every["results"][0]
    assert bad.status_code in (400, 422) and bad.json()["success"] is False
    assert by_image["count"] == 2 and 0 <= by_image["results"][0]["relevance"] <= 100


@pytest.mark.slow
def test_a_concept_that_fills_a_third_of_the_library_is_shown_whole_and_every_front_agrees(
    capsys, a_third_red_circles, third_server
):
    index, _, circles = a_third_red_circles
    cli = run_cli_json(capsys, "search", "a red circle", "--index", index)
    shown = [Path(result["path"]).name for result in cli["results"]]
    right = set(circles) & set(shown)
    k = len(cli["results"]) + len(cli["weaker"])  # the CLI's default -k
    assert len(right) >= 0.8 * min(len(circles), k) and len(right) >= 0.9 * len(shown)  # visible recall, precision
    with viewfinder.open_index(str(index)) as opened:
        assert [Path(hit.image.path).name for hit in opened.search("a red circle", k=k).hits] == shown
    with httpx.Client(base_url=third_server, timeout=60) as http:
        body = http.post("search", json={"query": "a red circle", "top_k": k}).json()
        without = http.post("search", json={"query": "a red circle", "negative": "square"}).json()
    assert [result["image_id"] for result in body["results"]] == [result["image_id"] for result in cli["results"]]
    # Anything typed in "without" used to empty the page: the red circles are still what is shown.
    kept = {result["file_name"] for result in without["results"]} & set(circles)
    assert len(kept) >= 0.8 * len(circles) and all(result["relevance"] >= 50 for result in without["results"])
    assert without["count"] + len(without["weaker"]) == 50


@pytest.mark.slow
def test_a_bare_noun_whose_pictures_fill_nearly_half_the_library_shows_them(capsys, many_circles):
    # The circles pull the query's mean score over the library towards its best hits: measured from the mean,
    # "a circle" stood out too little and showed nothing (BENCHMARKS.md, "Relevance").
    index, circles = many_circles
    result = run_cli_json(capsys, "search", "a circle", "-k", "50", "--index", index)
    right = set(circles) & {Path(hit["path"]).name for hit in result["results"]}
    assert len(right) >= 0.8 * len(circles) and len(right) >= 0.9 * result["count"]


def test_a_mix_shows_matches_of_its_main_term_and_the_other_term_only_orders_them(a_third_red_circles):
    index, library, circles = a_third_red_circles
    pairs = Counter(tuple(path.stem.split("-")[1:]) for path in library.iterdir() if path.name not in circles)
    (colour, shape), count = pairs.most_common(1)[0]
    rare = {path.name for path in library.glob(f"*-{colour}-{shape}.jpg")}

    def shown(main: str, other: str) -> set[str]:
        terms = [viewfinder.Term(text=main, weight=0.55), viewfinder.Term(text=other, weight=0.45)]
        return {Path(hit.image.path).name for hit in opened.search(terms, k=50).hits}

    with viewfinder.open_index(str(index)) as opened:
        # The common concept is the minor term, close in weight: its thirty pictures are not results of the mix
        # (they rate as partial matches of it, above the few of the main term's own).
        rare_first = shown(f"a {colour} {shape}", "a red circle")
        circles_first = shown("a red circle", f"a {colour} {shape}")
    assert rare_first and rare_first <= rare, (count, rare_first - rare)
    assert circles_first <= set(circles) and len(circles_first) >= 0.8 * len(circles)


@pytest.mark.slow
def test_find_similar_leaves_the_photo_out_and_an_identical_picture_rates_100(a_third_red_circles, third_server):
    _, library, circles = a_third_red_circles
    with httpx.Client(base_url=third_server, timeout=60) as http:
        first = http.post("search", json={"query": "a red circle", "top_k": 1}).json()["results"][0]
        similar = http.post("search", json={"image_id": first["image_id"]}).json()
        photo = (library / first["file_name"]).read_bytes()
        upload = http.post("search/image", files={"image": ("q.jpg", photo, "image/jpeg")}).json()
    listed = [result["image_id"] for result in similar["results"] + similar["weaker"]]
    assert first["image_id"] not in listed and len(listed) == 50
    assert {result["file_name"] for result in similar["results"]} <= set(circles) and similar["count"] >= 10
    assert upload["results"][0]["image_id"] == first["image_id"]
    assert upload["results"][0]["relevance"] == 100.0 and upload["results"][0]["match"] == "strong"
