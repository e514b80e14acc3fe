"""Places: the EXIF GPS position read at indexing (images/gps.py), and a place typed in a search
(search/typed_places.py, with the [places] extra's GeoNames data) that keeps the photos taken there, through
the CLI, the Python API and POST /search."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from cli_helpers import run_cli_json, write_colour_images
from gps_helpers import dms, gps_jpeg, write_gps_photos
from PIL import Image
from starlette.testclient import TestClient

import viewfinder
from viewfinder.cli import main
from viewfinder.images.gps import GPS_IFD, gps_of
from viewfinder.search.typed import read_line
from viewfinder.search.typed_places import read_place
from viewfinder.serve.app import create_app


def test_the_gps_position_is_read_and_junk_is_none(tmp_path: Path) -> None:
    gps_jpeg(tmp_path / "lisbon.jpg", 38.7139, -9.1394)
    with Image.open(tmp_path / "lisbon.jpg") as picture:
        latitude, longitude = gps_of(picture.getexif())
    assert latitude == pytest.approx(38.7139, abs=1e-4) and longitude == pytest.approx(-9.1394, abs=1e-4)
    junk = Image.Exif()
    junk.get_ifd(GPS_IFD).update({1: "N", 2: (Fraction(1), Fraction(0))})  # a part missing
    nowhere = Image.Exif()
    nowhere.get_ifd(GPS_IFD).update({1: "N", 2: dms(0), 3: "E", 4: dms(0)})  # a device without a fix
    assert gps_of(junk) is None and gps_of(nowhere) is None and gps_of(Image.Exif()) is None


@pytest.mark.parametrize(
    ("line", "words", "place"),
    [
        ("beach in Lisbon", "beach", "Lisbon"),
        ("tram in lisbon", "tram", "Lisbon"),
        ("plage à Paris", "plage", "Paris"),
        ("Strand in Köln", "Strand", "Köln"),
        ("playa en Sevilla", "playa", "Sevilla"),
        ("sunset in New York City", "sunset", "New York City"),
        ("snow in Japan", "snow", "Japan"),
    ],
)
def test_a_place_is_read_by_its_name(line: str, words: str, place: str) -> None:
    rest, found = read_place(line)
    assert found is not None and (rest, found.name) == (words, place)


@pytest.mark.parametrize("line", ["flowers in spring", "a cat in the garden", "sunset in May", "party at home"])
def test_ordinary_words_after_a_preposition_stay_words(line: str) -> None:
    assert read_place(line) == (line, None)


def test_a_place_and_a_date_in_one_line_are_both_filters() -> None:
    line = read_line("70% tram + 30% river in Lisbon in July 2023")
    filters = line.filters()
    assert [(term.weight, term.text) for term in line.terms] == [(0.7, "tram"), (0.3, "river")]
    assert filters is not None and (filters.taken_after, filters.taken_before) == ("2023-07-01", "2023-07-31")
    assert filters.place is not None and filters.place.name == "Lisbon"
    south, north, west, east = filters.place.box
    assert south < 38.71 < north and west < -9.14 < east and north - south < 1


def names(results: list[dict]) -> list[str]:
    return sorted(Path(result.get("path") or result["file_name"]).name for result in results)


@pytest.mark.slow
def test_a_typed_place_keeps_the_photos_taken_there_through_every_front(capsys, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    write_colour_images(folder, 3)  # no position
    write_gps_photos(folder)
    index = tmp_path / "index"
    assert main(["index", str(folder), "--index", str(index), "--model", "test:tiny"]) == 0
    capsys.readouterr()  # the indexing report
    lisbon = ["alfama.jpg", "tram.jpg"]
    cli = run_cli_json(capsys, "search", "a photo in Lisbon", "--index", index, "--min-relevance", "0")
    assert names(cli["results"]) == lisbon and cli["query"] == "a photo"
    with viewfinder.open_index(str(index)) as opened:
        api = opened.search("a photo in Japan", min_relevance=0)
    assert [Path(hit.image.path).name for hit in api.hits] == ["shrine.jpg"]
    with TestClient(create_app(index, device="cpu"), base_url="http://127.0.0.1") as client:
        http = client.post("/search", json={"query": "a photo in lisbon", "min_relevance": 0}).json()
    assert names(http["results"]) == lisbon and http["filters"]["place"]["name"] == "Lisbon"
