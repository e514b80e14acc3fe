"""Semantic end-to-end tests: the `test:shapes` model through the real CLI on pictures it never trained on.

The library comes from `shapeworld.heldout`, drawing code independent of the training renderers (its
own shapes, colour shades and backgrounds), so the tests measure shapes and colours, not a renderer's habits.

Every assertion is a rate with a threshold over a whole family of queries (every (colour, shape) pair, every
colour, every single-object image), never a hand-picked example. The library is indexed by a separate
`viewfinder` process, as a user would; the many searches run through the same CLI entry point in this
process so that the suite does not start a Python per query.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli_json, run_subprocess

from shapeworld import heldout
from shapeworld.captions import LANGUAGES, query
from shapeworld.heldout import COLOURS, PAIRS

pytestmark = pytest.mark.slow  # the trained test:shapes model through the CLI and HTTP on 240 pictures

pytest.importorskip("open_clip")

LIBRARY_SEED = 31_337
PER_PAIR = 5  # pictures of each (colour, shape) pair: 240 in all
TOP = 10
# The targets are 0.9 for all three. Re-measured on this library when test:shapes was retrained with
# captions that describe nothing (8000 steps): text→image precision@5 0.996, recall@1 1.0 in each language,
# image→image precision@5 0.908 for fresh pictures and 0.988 for library pictures (the weights before: 0.942
# for fresh pictures). The thresholds sit below what the model reaches: two misses in 48 for recall, and for
# image queries a margin for the int8 image tower's rounding on other CPUs.
MIN_TEXT_P5, MIN_RECALL, MIN_IMAGE_P5 = 0.97, 0.95, 0.875
Objects = frozenset[tuple[str, str]]


@pytest.fixture(scope="module")
def shapes_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[Path, Objects]]:
    """A held-out library indexed with test:shapes; returns the index and each picture's objects."""
    root = tmp_path_factory.mktemp("shapes")
    library, index = root / "library", root / "index"
    pictures = heldout.write_library(library, PER_PAIR, seed=LIBRARY_SEED)
    done = run_subprocess("index", library, "--model", "test:shapes", "--index", index, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["added"] == len(pictures) == report["total"]
    return index, {path: frozenset([pair]) for path, pair in pictures.items()}


def _render(pair: tuple[str, str], rng: np.random.Generator, path: Path) -> Path:
    heldout.render(*pair, rng).save(path)
    return path


# These tests measure the order of every top-k result, whatever its rating; tests/test_relevance.py checks
# the relevance threshold that by default hides the weak ones.
EVERY = ("--min-relevance", "0")
FIRST = {"top_k": 1, "min_relevance": 0}  # the same for the HTTP API, top result only
FIRST_FORM = {key: str(value) for key, value in FIRST.items()}


def _search(capsys, index: Path, contents: dict[Path, Objects], *args: str) -> list[Objects]:
    """The (colour, shape) contents of the results of one `viewfinder search`, best first."""
    result = run_cli_json(capsys, "search", *args, *EVERY, "--index", index)
    return [contents[Path(hit["path"]).resolve()] for hit in result["results"]]


def _precision(top: list[Objects], pair: tuple[str, str]) -> float:
    return float(np.mean([pair in objects for objects in top]))


def test_colour_and_shape_queries_find_that_object_in_the_top_five(capsys, shapes_index):
    index, contents = shapes_index
    precision = [_precision(_search(capsys, index, contents, f"a {c} {s}", "-k", "5"), (c, s)) for c, s in PAIRS]
    assert np.mean(precision) >= MIN_TEXT_P5, np.mean(precision)


@pytest.mark.parametrize("language", LANGUAGES)
def test_queries_in_each_language_find_that_object_first(capsys, shapes_index, language):
    """ "un cercle rouge", "ein roter Kreis", "un círculo rojo": recall@1 over every pair."""
    index, contents = shapes_index
    hits = [pair in _search(capsys, index, contents, query(language, *pair), "-k", "1")[0] for pair in PAIRS]
    assert np.mean(hits) >= MIN_RECALL, np.mean(hits)


def test_image_query_returns_the_same_colour_and_shape_in_the_top_five(capsys, shapes_index, tmp_path):
    index, contents = shapes_index
    rng = np.random.default_rng(LIBRARY_SEED + 1)
    precision = []
    for pair in PAIRS:
        picture = _render(pair, rng, tmp_path / f"{pair[0]}-{pair[1]}.jpg")
        precision.append(_precision(_search(capsys, index, contents, "--image", str(picture), "-k", "5"), pair))
    assert np.mean(precision) >= MIN_IMAGE_P5, np.mean(precision)


def test_library_image_finds_itself_then_its_kind_by_path_and_by_id(capsys, shapes_index):
    index, contents = shapes_index
    hits = []
    for number, path in enumerate(contents):
        result = run_cli_json(capsys, "search", "--image", str(path), "-k", "2", *EVERY, "--index", index)
        itself, nearest = result["results"]
        assert Path(itself["path"]).resolve() == path and itself["similarity"] > 0.99
        hits.append(contents[path] <= contents[Path(nearest["path"]).resolve()])
        if number % 10 == 0:  # an indexed image's id stands for its stored vector: the same results, less itself
            by_id = run_cli_json(capsys, "search", "--image", itself["image_id"], "-k", "1", *EVERY, "--index", index)
            assert [r["image_id"] for r in by_id["results"]] == [nearest["image_id"]]
    assert np.mean(hits) >= MIN_IMAGE_P5, np.mean(hits)


def test_negative_query_keeps_the_negated_colour_out_of_the_top_results(capsys, shapes_index):
    index, contents = shapes_index
    excluded, on_topic = [], []
    for colour, shape in PAIRS:
        top = _search(capsys, index, contents, shape, "--not", colour, "-k", str(TOP))
        excluded.append(not any((colour, shape) in objects for objects in top))
        on_topic.append(np.mean([any(s == shape for _, s in objects) for objects in top]))
    assert np.mean(excluded) >= 0.95
    assert np.mean(on_topic) >= 0.8, np.mean(on_topic)  # still about the shape asked for


def test_weights_move_results_between_a_text_and_an_image(capsys, shapes_index, tmp_path):
    """TEXT names a colour, the --image shows a shape in another colour: the heavier term takes the top."""
    index, contents = shapes_index
    rng = np.random.default_rng(LIBRARY_SEED + 2)
    text_share: dict[float, list[float]] = {0.2: [], 0.8: []}  # keyed by the weight of TEXT
    image_share: dict[float, list[float]] = {0.2: [], 0.8: []}
    for colour in COLOURS:
        others = [pair for pair in PAIRS if pair[0] != colour]
        pair = others[int(rng.integers(len(others)))]
        picture = _render(pair, rng, tmp_path / f"{pair[0]}-{pair[1]}.jpg")
        # Only a few library images hold a given pair: count hits against what the top could hold at best.
        best = min(TOP, sum(pair in objects for objects in contents.values()))
        for weight in text_share:
            args = [colour, "--image", str(picture), "--weight", str(weight), "--weight", str(1 - weight)]
            top = _search(capsys, index, contents, *args, "-k", str(TOP))
            text_share[weight].append(np.mean([any(c == colour for c, _ in objects) for objects in top]))
            image_share[weight].append(sum(pair in objects for objects in top) / best)
    text_mean = {weight: float(np.mean(values)) for weight, values in text_share.items()}
    image_mean = {weight: float(np.mean(values)) for weight, values in image_share.items()}
    assert text_mean[0.8] >= 0.9 and image_mean[0.2] >= 0.9, (text_mean, image_mean)
    assert text_mean[0.8] >= text_mean[0.2] + 0.7, text_mean
    assert image_mean[0.2] >= image_mean[0.8] + 0.7, image_mean


def test_the_http_api_gives_the_same_semantics(shapes_index, tmp_path):
    """The served index (ONNX Runtime, as `serve` runs by default): text, negative, weighted and upload queries."""
    import httpx
    from service_helpers import start_server_process

    index, contents = shapes_index
    library = index.parent / "library"  # as the shapes_index fixture lays it out
    rng = np.random.default_rng(LIBRARY_SEED + 3)

    def objects_of(response: httpx.Response) -> list[Objects]:
        assert response.status_code == 200, response.text
        hits = response.json()["results"]
        return [contents[(library / hit["folder"] / hit["file_name"]).resolve()] for hit in hits]

    with start_server_process(index) as server, httpx.Client(base_url=server, timeout=60) as http:
        examples = http.get("stats").json()["example_queries"]
        example_hits = []
        for example in examples:  # the web UI's one-click queries find what they name
            *_, colour, shape = example.removesuffix("s").split()
            top = objects_of(http.post("search", json={"query": example, "top_k": 5, "min_relevance": 0}))
            example_hits.append(any((colour, shape) in objects for objects in top))
        text_hits = {
            language: [
                pair
                in objects_of(
                    http.post("search", json={"query": query(language, *pair), "top_k": 1, "min_relevance": 0})
                )[0]
                for pair in PAIRS
            ]
            for language in LANGUAGES
        }
        excluded = []
        for colour, shape in PAIRS:
            top = objects_of(
                http.post("search", json={"query": shape, "negative": colour, "top_k": TOP, "min_relevance": 0})
            )
            excluded.append(not any((colour, shape) in objects for objects in top))
        colour_share: dict[float, list[float]] = {0.2: [], 0.8: []}  # keyed by the weight of the first colour
        names = list(COLOURS)
        for first, second in zip(names, names[1:] + names[:1], strict=True):
            for weight in colour_share:
                terms = [{"text": first, "weight": weight}, {"text": second, "weight": 1 - weight}]
                top = objects_of(http.post("search", json={"terms": terms, "top_k": TOP, "min_relevance": 0}))
                colour_share[weight].append(np.mean([any(c == first for c, _ in objects) for objects in top]))
        upload_hits = []
        for pair in PAIRS[::4]:
            picture = _render(pair, rng, tmp_path / f"{pair[0]}-{pair[1]}.png")
            files = {"image": (picture.name, picture.read_bytes(), "image/png")}
            upload_hits.append(
                pair in objects_of(http.post("search/image", files=files, data={"top_k": "1", "min_relevance": "0"}))[0]
            )
    assert len(examples) >= 3 and np.mean(example_hits) >= 0.8, example_hits
    recall = {language: float(np.mean(hits)) for language, hits in text_hits.items()}
    assert all(value >= MIN_RECALL for value in recall.values()), recall
    assert np.mean(excluded) >= 0.95
    assert np.mean(colour_share[0.8]) >= np.mean(colour_share[0.2]) + 0.8
    assert np.mean(upload_hits) >= 0.8, upload_hits
