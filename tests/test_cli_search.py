"""`viewfinder search` has what the HTTP API has: several weighted texts, filters, rerank and min-relevance.

Run through the real CLI entry point over a test:tiny index whose files differ in folder, date and size.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cli_helpers import run_cli, run_cli_json, write_colour_images
from PIL import Image
from service_helpers import exif_dated_jpeg

from viewfinder.pipeline.indexer import run_index

OLD, NEW = 946_684_800, 1_704_067_200  # 2000-01-01 and 2024-01-01, as file modification times


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli-search") / "photos"
    write_colour_images(folder, 12)
    exif_dated_jpeg(folder / "trips" / "dated-2021.jpg", "2021:06:01 12:00:00", colour=(200, 40, 40))
    exif_dated_jpeg(folder / "trips" / "dated-2023.jpg", "2023:03:15 08:30:00", colour=(40, 40, 200))
    Image.new("RGB", (1600, 1200), (90, 160, 90)).save(folder / "large.jpg")
    for path in folder.rglob("*.*"):
        os.utime(path, (OLD, NEW if path.name == "image-0005.jpg" else OLD))
    run_index(folder.parent / "index", [str(folder)], model="test:tiny")
    return folder.parent / "index"


def _names(capsys, index: Path, *args: str) -> list[str]:
    result = run_cli_json(capsys, "search", "a photo", *args, "-k", "50", "--index", index)
    return [Path(hit["path"]).name for hit in result["results"]]


def test_filters_keep_only_matching_images(capsys, index):
    assert set(_names(capsys, index, "--folder", "trips")) == {"dated-2021.jpg", "dated-2023.jpg"}
    assert _names(capsys, index, "--taken-after", "2022-01-01") == ["dated-2023.jpg"]
    assert _names(capsys, index, "--taken-before", "2021-06-01") == ["dated-2021.jpg"]
    assert _names(capsys, index, "--min-width", "1000", "--min-height", "1000") == ["large.jpg"]
    assert _names(capsys, index, "--folder", "trips", "--min-width", "1000") == []


def test_rerank_weights_move_newer_and_larger_images_to_the_top(capsys, index):
    assert _names(capsys, index, "--recency", "1")[0] == "image-0005.jpg"  # the newest, by far
    plain, larger = _names(capsys, index), _names(capsys, index, "--resolution", "1")
    assert larger.index("large.jpg") <= plain.index("large.jpg") and larger[0] == "large.jpg"


def test_several_weighted_texts_combine_as_the_api_terms_do(capsys, index):
    result = run_cli_json(capsys, "search", "red", "--text", "blue", "--weight", "3", "--weight", "1", "--index", index)
    assert result["query"] == "red ×0.75 + blue ×0.25"
    only_texts = run_cli_json(capsys, "search", "--text", "red", "--text", "blue", "--not", "green", "--index", index)
    assert only_texts["query"] == "red + blue − green" and only_texts["count"] > 0
    assert all("relevance" in hit and "similarity" in hit for hit in only_texts["results"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--taken-after", "last week"], "is not a date"),
        (["--recency", "2"], "between 0 and 1"),
        (["--min-relevance", "-5"], "between 0 and 100"),
        (["--weight", "1", "--weight", "1"], "--weight values for 1 terms"),
    ],
)
def test_bad_options_give_one_clear_line_and_exit_2(capsys, index, args, message):
    code, out, err = run_cli(capsys, "search", "red", *args, "--index", index)
    assert code == 2 and out == "" and message in err and "Traceback" not in err
