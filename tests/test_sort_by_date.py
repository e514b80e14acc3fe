"""`--sort date` and `"sort": "date"`: the relevant results newest first, through every front.

A folder of generated photos with EXIF capture dates (two taken at the same second) and photos without one is
indexed by the real command line with `test:tiny` (random weights: every result passes the relevance cut, in
an order no date follows); the CLI, the Python API, POST /search and POST /search/image are then asked for
both orders.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import run_cli, run_cli_json, write_colour_images
from PIL import Image
from starlette.testclient import TestClient

import viewfinder
from viewfinder.cli import main
from viewfinder.serve.app import create_app

# File name → EXIF DateTimeOriginal. Those not listed (write_colour_images's) have no capture date.
TAKEN = {
    "beach-2016.jpg": "2016:08:14 16:20:00",
    "party-2024.jpg": "2024:12:31 23:59:59",
    "hike-2020.jpg": "2020:05:02 09:00:00",
    "twin-a-2022.jpg": "2022:02:22 22:22:22",
    "twin-b-2022.jpg": "2022:02:22 22:22:22",
    "snow-2009.jpg": "2009:01:10 12:00:00",
}
ISO = {name: taken.replace(":", "-", 2).replace(" ", "T") for name, taken in TAKEN.items()}
UNDATED = 6
QUERY = "a photo"


def camera_jpeg(path: Path, taken: str, colour: tuple[int, int, int]) -> None:
    """A small JPEG with the capture time in EXIF DateTimeOriginal (tag 36867), where cameras write it."""
    exif = Image.Exif()
    exif.get_ifd(0x8769)[36867] = taken
    Image.new("RGB", (64, 48), colour).save(path, exif=exif)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sort-by-date")
    folder = root / "photos"
    write_colour_images(folder, UNDATED, seed=3)
    for number, (name, taken) in enumerate(TAKEN.items()):
        camera_jpeg(folder / name, taken, colour=(40 * number, 255 - 30 * number, 90))
    assert main(["index", str(folder), "--index", str(root / "index"), "--model", "test:tiny"]) == 0
    return root / "index"


def names(results: list[dict]) -> list[str]:
    return [Path(result.get("path") or result["file_name"]).name for result in results]


def expected_by_date(by_relevance: list[str]) -> list[str]:
    """The relevance order re-ordered as documented: dated newest first (ties by relevance), then undated."""
    dated = sorted((name for name in by_relevance if name in ISO), key=lambda name: ISO[name], reverse=True)
    return dated + [name for name in by_relevance if name not in ISO]


def test_cli_sorts_the_relevant_results_newest_first_and_keeps_their_ranks(capsys, index):
    by_relevance = run_cli_json(capsys, "search", QUERY, "-k", "50", "--index", index)
    by_date = run_cli_json(capsys, "search", QUERY, "-k", "50", "--sort", "date", "--index", index)
    assert by_relevance["sort"] == "relevance" and by_date["sort"] == "date"
    assert by_date["count"] == by_relevance["count"] == len(TAKEN) + UNDATED  # test:tiny: every image passes

    relevance_order = names(by_relevance["results"])
    assert relevance_order != expected_by_date(relevance_order), "the test needs orders that differ"
    assert names(by_date["results"]) == expected_by_date(relevance_order)
    date_order = names(by_date["results"])
    assert date_order[0] == "party-2024.jpg" and set(date_order[-UNDATED:]) == set(relevance_order) - set(ISO)
    twins = [name for name in relevance_order if name.startswith("twin-")]
    assert date_order[1:3] == twins  # taken at the same second: in relevance order
    # Each result keeps its rank by relevance, so a client has both orders.
    rank_of = {hit["image_id"]: hit["rank"] for hit in by_relevance["results"]}
    assert all(hit["rank"] == rank_of[hit["image_id"]] for hit in by_date["results"])
    assert sorted(hit["rank"] for hit in by_date["results"]) == list(range(1, by_date["count"] + 1))


def test_only_the_results_within_k_are_sorted_by_date(capsys, index):
    top = names(run_cli_json(capsys, "search", QUERY, "-k", "5", "--index", index)["results"])
    assert names(run_cli_json(capsys, "search", QUERY, "-k", "5", "--sort", "date", "--index", index)["results"]) == (
        expected_by_date(top)
    )


def test_cli_text_output_shows_the_capture_date_it_sorts_by(capsys, index):
    code, out, _ = run_cli(capsys, "search", QUERY, "--sort", "date", "--index", index)
    lines = out.splitlines()
    assert code == 0 and "2024-12-31T23:59:59" in lines[0] and lines[0].endswith("party-2024.jpg")
    assert "undated" in lines[-1]


def test_an_unknown_order_is_one_line_naming_the_allowed_ones(capsys, index):
    code, out, err = run_cli(capsys, "search", QUERY, "--sort", "newest", "--index", index)
    assert code == 2 and out == "" and "relevance, date" in err and "Traceback" not in err


def test_python_api_and_http_give_the_cli_order(capsys, index):
    cli = names(run_cli_json(capsys, "search", QUERY, "-k", "50", "--sort", "date", "--index", index)["results"])
    with viewfinder.open_index(str(index)) as opened:
        answer = opened.search([viewfinder.Term(text=QUERY)], k=50, sort="date")
    assert answer.sort == "date" and [Path(hit.image.path).name for hit in answer.hits] == cli

    with TestClient(create_app(index, device="cpu"), base_url="http://127.0.0.1") as client:
        response = client.post("/search", json={"query": QUERY, "top_k": 50, "sort": "date"})
        assert response.status_code == 200, response.text
        http = response.json()
        assert http["sort"] == "date" and names(http["results"]) == cli
        dated = [result["taken_at"] for result in http["results"] if result["taken_at"]]
        assert dated == sorted(dated, reverse=True) and len(dated) == len(TAKEN)

        upload = {"image": ("query.jpg", (index.parent / "photos" / "hike-2020.jpg").read_bytes())}
        by_image = client.post("/search/image", files=upload, data={"top_k": "50", "sort": ""}).json()  # absent
        by_image_date = client.post("/search/image", files=upload, data={"top_k": "50", "sort": "date"}).json()
        assert by_image["sort"] == "relevance" and by_image_date["sort"] == "date"
        assert names(by_image_date["results"]) == expected_by_date(names(by_image["results"]))

        bad = client.post("/search", json={"query": QUERY, "sort": "newest"})
        assert bad.status_code == 422 and "'relevance' or 'date'" in bad.json()["error"]
        bad_form = client.post("/search/image", files=upload, data={"sort": "newest"})
        assert bad_form.status_code == 422 and "'relevance', 'date'" in bad_form.json()["error"]


def test_the_response_cache_keeps_the_two_orders_apart(index):
    with TestClient(create_app(index, device="cpu"), base_url="http://127.0.0.1") as client:

        def search(**body) -> dict:
            return client.post("/search", json={"query": QUERY, "top_k": 50, **body}).json()

        by_relevance, by_date = search(), search(sort="date")
        assert by_date["cached"] is False and names(by_date["results"]) != names(by_relevance["results"])
        again = search(sort="date")
        assert again["cached"] is True and again["results"] == by_date["results"] and again["sort"] == "date"
        assert search(sort="relevance")["cached"] is True  # the default, named: the same query


def test_a_date_typed_in_the_query_filters_through_every_front(capsys, index: Path) -> None:
    """ "a photo in February 2022" keeps the photos taken then, in the CLI, the Python API and POST /search."""
    twins = ["twin-a-2022.jpg", "twin-b-2022.jpg"]
    line = "a photo in February 2022"
    cli = run_cli_json(capsys, "search", line, "--index", index, "--min-relevance", "0")
    assert sorted(names(cli["results"])) == twins and cli["query"] == "a photo"
    with viewfinder.open_index(str(index)) as opened:
        api = opened.search("a photo 2022", min_relevance=0)
    assert sorted(Path(hit.image.path).name for hit in api.hits) == twins
    with TestClient(create_app(index, device="cpu"), base_url="http://127.0.0.1") as client:
        body = {"query": "a photo, 2016", "min_relevance": 0, "filters": {"taken_before": "2030-01-01"}}
        http = client.post("/search", json=body).json()
    assert names(http["results"]) == ["beach-2016.jpg"]
