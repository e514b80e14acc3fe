"""Relevance: cosines rated 0-100 against the model's own calibration, and a threshold that can say "nothing".

The `test:shapes` model searches a generated library that holds no stars: every "a COLOUR star" query must
come back empty (with the closest few labelled), while queries for pairs the library does hold still find
them. Checked through the real CLI and the real HTTP service, as rates over every colour and pair.
"""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path

import httpx
import numpy as np
import pytest
from cli_helpers import run_cli, run_cli_json, run_subprocess
from service_helpers import start_server_process

from shapeworld.scenes import scene_of
from viewfinder.images import synthetic
from viewfinder.images.synthetic import COLOURS
from viewfinder.search.relevance import CACHE_FILE, DEFAULT_MIN_RELEVANCE, Scale

pytestmark = pytest.mark.slow  # the test:shapes model over a 200-picture library, through the CLI and a server

pytest.importorskip("open_clip")

LIBRARY_SEED = 4_242
LIBRARY_SIZE = 200
ABSENT = "star"


@pytest.fixture(scope="module")
def starless(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[str, str]]]:
    """An index of a shapes library with every star picture removed; returns it and the pairs it holds."""
    root = tmp_path_factory.mktemp("starless")
    library, index = root / "library", root / "index"
    present: set[tuple[str, str]] = set()
    for path, scene in synthetic.generate_library(library, LIBRARY_SIZE, seed=LIBRARY_SEED):
        if any(o.shape == ABSENT for o in scene.objects):
            path.unlink()
        else:
            present |= {(o.colour, o.shape) for o in scene.objects}
    done = run_subprocess("index", library, "--model", "test:shapes", "--index", index, "--json")
    assert done.returncode == 0, done.stderr
    return index, sorted(present)


def test_the_scale_puts_q90_at_10_and_q99_at_50_percent_and_grows_with_the_score():
    scale = Scale.of(np.linspace(0.0, 1.0, 10_001))
    assert scale.rate(scale.q90) == pytest.approx(10.0) and scale.rate(scale.q99) == pytest.approx(50.0)
    rates = [scale.rate(s) for s in np.linspace(-1, 2, 61)]
    assert rates == sorted(rates) and rates[0] < 1 and rates[-1] > 99


def test_cli_finds_nothing_for_an_absent_shape_but_finds_present_pairs(capsys, starless):
    index, present = starless
    absent = [run_cli_json(capsys, "search", f"a {colour} {ABSENT}", "--index", index) for colour in COLOURS]
    # The tiny model mistakes a star for a triangle now and then: a rate, as everywhere in these tests.
    assert np.mean([result["count"] == 0 for result in absent]) >= 0.75
    for result in absent:
        assert result["min_relevance"] == DEFAULT_MIN_RELEVANCE
        if result["count"] == 0:  # the closest few are still shown, rated below the threshold
            assert result["results"] == [] and 1 <= len(result["closest"]) <= 3
            assert all(hit["relevance"] < DEFAULT_MIN_RELEVANCE for hit in result["closest"])
    found = []
    for colour, shape in present:
        result = run_cli_json(capsys, "search", f"a {colour} {shape}", "-k", "1", "--index", index)
        found.append(result["count"] == 1 and f"{colour}-{shape}" in Path(result["results"][0]["path"]).name)
        assert result["count"] == 0 or result["results"][0]["relevance"] >= DEFAULT_MIN_RELEVANCE
    assert len(present) >= 30 and np.mean(found) >= 0.75
    assert json.loads((index / CACHE_FILE).read_text())["images"] > 0  # measured once, kept with the index


def test_cli_says_so_in_words_and_min_relevance_zero_lists_every_result(capsys, starless):
    index, _ = starless
    code, out, _ = run_cli(capsys, "search", "a red star", "--index", index)
    assert code == 0 and out.splitlines()[0] == "No results above 50% relevance; the closest were:"
    assert all("%" in line for line in out.splitlines()[1:]) and len(out.splitlines()) >= 2
    every = run_cli_json(capsys, "search", "a red star", "-k", "7", "--min-relevance", "0", "--index", index)
    assert every["count"] == 7 and every["closest"] == []
    code, _, err = run_cli(capsys, "search", "a red star", "--min-relevance", "120", "--index", index)
    assert code == 2 and "between 0 and 100" in err


def test_serve_min_relevance_sets_the_default_threshold_and_bad_values_exit_2(capsys, starless):
    index, _ = starless
    with start_server_process(index, "--min-relevance", "0") as server, httpx.Client(base_url=server) as http:
        body = http.post("search", json={"query": "a red star", "top_k": 4}, timeout=60).json()
        strict = http.post("search", json={"query": "a red star", "min_relevance": 99}, timeout=60).json()
    assert body["count"] == 4 and body["min_relevance"] == 0
    assert strict["count"] == 0 and strict["min_relevance"] == 99
    code, _, err = run_cli(capsys, "serve", "--index", index, "--min-relevance", "101")
    assert code == 2 and "between 0 and 100" in err


def test_http_rates_results_and_answers_count_0_with_the_closest(starless):
    index, present = starless
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
