"""Semantic end-to-end tests: the `test:shapes` model through the real CLI on a freshly generated library.

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

from viewfinder.images import synthetic
from viewfinder.images.synthetic import COLOURS, SHAPES

pytest.importorskip("open_clip")

LIBRARY_SEED = 31_337  # not a seed the model was trained on
LIBRARY_SIZE = 240
TOP = 10
PAIRS = [(colour, shape) for colour in COLOURS for shape in SHAPES]
Objects = frozenset[tuple[str, str]]


@pytest.fixture(scope="module")
def shapes_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[Path, Objects]]:
    """A generated library indexed with test:shapes; returns the index and each image's (colour, shape)s."""
    root = tmp_path_factory.mktemp("shapes")
    library, index = root / "library", root / "index"
    synthetic.generate_library(library, LIBRARY_SIZE, seed=LIBRARY_SEED)
    done = run_subprocess("index", library, "--model", "test:shapes", "--index", index, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["added"] == LIBRARY_SIZE == report["total"]

    contents = {}
    for line in (library / "captions.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        pairs = frozenset((o["colour"], o["shape"]) for o in record["objects"])
        contents[(library / record["file"]).resolve()] = pairs
    return index, contents


# These tests measure the order of every top-k result, whatever its rating; tests/test_relevance.py checks
# the relevance threshold that by default hides the weak ones.
EVERY = ("--min-relevance", "0")


def _search(capsys, index: Path, contents: dict[Path, Objects], *args: str) -> list[Objects]:
    """The (colour, shape) contents of the results of one `viewfinder search`, best first."""
    result = run_cli_json(capsys, "search", *args, *EVERY, "--index", index)
    return [contents[Path(hit["path"]).resolve()] for hit in result["results"]]


def _present(contents: dict[Path, Objects]) -> list[tuple[str, str]]:
    return [pair for pair in PAIRS if any(pair in objects for objects in contents.values())]


def test_colour_and_shape_queries_find_that_object_first(capsys, shapes_index):
    index, contents = shapes_index
    pairs = _present(contents)
    assert len(pairs) >= 40  # the library is large enough to hold nearly every pair
    hits = [(c, s) in _search(capsys, index, contents, f"a {c} {s}", "-k", "1")[0] for c, s in pairs]
    assert np.mean(hits) >= 0.9


def test_image_query_returns_the_same_colour_and_shape_first(capsys, shapes_index, tmp_path):
    index, contents = shapes_index
    rng = np.random.default_rng(LIBRARY_SEED + 1)
    hits = []
    for colour, shape in _present(contents):
        query = tmp_path / f"{colour}-{shape}.jpg"
        synthetic.render_scene(synthetic.scene_of(shape, colour, rng), (320, 240), rng).save(query)
        hits.append((colour, shape) in _search(capsys, index, contents, "--image", str(query), "-k", "1")[0])
    assert np.mean(hits) >= 0.8


def test_library_image_finds_itself_then_its_kind_by_path_and_by_id(capsys, shapes_index):
    index, contents = shapes_index
    singles = [path for path, objects in contents.items() if len(objects) == 1]
    hits = []
    for number, path in enumerate(singles):
        result = run_cli_json(capsys, "search", "--image", str(path), "-k", "2", *EVERY, "--index", index)
        itself, nearest = result["results"]
        assert Path(itself["path"]).resolve() == path and itself["similarity"] > 0.99
        hits.append(contents[path] <= contents[Path(nearest["path"]).resolve()])
        if number % 10 == 0:  # an indexed image's id stands for its stored vector: the same results
            by_id = run_cli_json(capsys, "search", "--image", itself["image_id"], "-k", "2", *EVERY, "--index", index)
            assert [r["image_id"] for r in by_id["results"]] == [r["image_id"] for r in result["results"]]
    assert len(singles) >= 60
    assert np.mean(hits) >= 0.75


def test_negative_query_keeps_the_negated_colour_out_of_the_top_results(capsys, shapes_index):
    index, contents = shapes_index
    excluded, on_topic = [], []
    for colour, shape in PAIRS:
        top = _search(capsys, index, contents, shape, "--not", colour, "-k", str(TOP))
        excluded.append(not any((colour, shape) in objects for objects in top))
        on_topic.append(np.mean([any(s == shape for _, s in objects) for objects in top]))
    assert np.mean(excluded) >= 0.95
    assert np.mean(on_topic) >= 0.7  # still about the shape asked for


def test_weights_move_results_between_a_text_and_an_image(capsys, shapes_index, tmp_path):
    """TEXT names a colour, the --image shows a shape in another colour: the heavier term takes the top."""
    index, contents = shapes_index
    rng = np.random.default_rng(LIBRARY_SEED + 2)
    present = _present(contents)
    text_share: dict[float, list[float]] = {0.2: [], 0.8: []}  # keyed by the weight of TEXT
    image_share: dict[float, list[float]] = {0.2: [], 0.8: []}
    for colour in COLOURS:
        others = [pair for pair in present if pair[0] != colour]
        pair = others[int(rng.integers(len(others)))]
        query = tmp_path / f"{pair[0]}-{pair[1]}.jpg"
        synthetic.render_scene(synthetic.scene_of(pair[1], pair[0], rng), (320, 240), rng).save(query)
        # Only a few library images hold a given pair: count hits against what the top could hold at best.
        best = min(TOP, sum(pair in objects for objects in contents.values()))
        for weight in text_share:
            args = [colour, "--image", str(query), "--weight", str(weight), "--weight", str(1 - weight)]
            top = _search(capsys, index, contents, *args, "-k", str(TOP))
            text_share[weight].append(np.mean([any(c == colour for c, _ in objects) for objects in top]))
            image_share[weight].append(sum(pair in objects for objects in top) / best)
    text_mean = {weight: float(np.mean(values)) for weight, values in text_share.items()}
    image_mean = {weight: float(np.mean(values)) for weight, values in image_share.items()}
    assert text_mean[0.8] >= 0.8 and image_mean[0.2] >= 0.35
    assert text_mean[0.8] >= text_mean[0.2] + 0.5
    assert image_mean[0.2] >= image_mean[0.8] + 0.3


def test_the_http_api_gives_the_same_semantics(shapes_index, tmp_path):
    """The served index (ONNX Runtime, as `serve` runs by default): text, negative, weighted and upload queries."""
    import httpx
    from service_helpers import start_server_process

    index, contents = shapes_index
    library = index.parent / "library"  # as the shapes_index fixture lays it out
    pairs = _present(contents)
    rng = np.random.default_rng(LIBRARY_SEED + 3)

    def objects_of(response: httpx.Response) -> list[Objects]:
        assert response.status_code == 200, response.text
        hits = response.json()["results"]
        return [contents[(library / hit["folder"] / hit["file_name"]).resolve()] for hit in hits]

    with start_server_process(index) as server, httpx.Client(base_url=server, timeout=60) as http:
        examples = http.get("stats").json()["example_queries"]
        for example in examples:  # the web UI's one-click queries find what they name
            *_, colour, shape = example.removesuffix("s").split()
            assert (colour, shape) in objects_of(http.post("search", json={"query": example, "top_k": 1}))[0]
        text_hits = [
            (c, s) in objects_of(http.post("search", json={"query": f"a {c} {s}", "top_k": 1}))[0] for c, s in pairs
        ]
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
        for colour, shape in pairs[::4]:
            query = tmp_path / f"{colour}-{shape}.png"
            synthetic.render_scene(synthetic.scene_of(shape, colour, rng), (320, 240), rng).save(query)
            files = {"image": (query.name, query.read_bytes(), "image/png")}
            upload_hits.append(
                (colour, shape)
                in objects_of(http.post("search/image", files=files, data={"top_k": "1", "min_relevance": "0"}))[0]
            )
    assert len(examples) >= 3 and np.mean(text_hits) >= 0.9
    assert np.mean(excluded) >= 0.95
    assert np.mean(colour_share[0.8]) >= np.mean(colour_share[0.2]) + 0.5
    assert np.mean(upload_hits) >= 0.75
