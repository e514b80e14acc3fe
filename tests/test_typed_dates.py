"""Dates typed in a search line, in English, French, German and Spanish, read as capture-date ranges
(search/typed_dates.py) and as filters (search/typed.py), with a fixed today."""

from __future__ import annotations

from datetime import date

import pytest

from viewfinder.search.typed import read_line
from viewfinder.search.typed_dates import read_dates
from viewfinder.store.filters import Filters

TODAY = date(2026, 12, 7)


@pytest.mark.parametrize(
    ("line", "words", "first", "last"),
    [
        ("beach in July 2023", "beach", "2023-07-01", "2023-07-31"),
        ("sunset 2021", "sunset", "2021-01-01", "2021-12-31"),
        ("snow last winter", "snow", "2025-12-01", "2026-02-28"),
        ("dog this summer", "dog", "2026-06-01", "2026-08-31"),
        ("cake last year", "cake", "2025-01-01", "2025-12-31"),
        ("walk last month", "walk", "2026-11-01", "2026-11-30"),
        ("lake summer 2022", "lake", "2022-06-01", "2022-08-31"),
        ("ski in winter 2023", "ski", "2023-12-01", "2024-02-29"),
        ("hiking from 1999", "hiking", "1999-01-01", "1999-12-31"),
        ("plage en juillet 2023", "plage", "2023-07-01", "2023-07-31"),
        ("neige l'hiver dernier", "neige", "2025-12-01", "2026-02-28"),
        ("gâteau l'année dernière", "gâteau", "2025-01-01", "2025-12-31"),
        ("montagne été 2022", "montagne", "2022-06-01", "2022-08-31"),
        ("Strand im Juli 2023", "Strand", "2023-07-01", "2023-07-31"),
        ("Schnee letzten Winter", "Schnee", "2025-12-01", "2026-02-28"),
        ("Kuchen letztes Jahr", "Kuchen", "2025-01-01", "2025-12-31"),
        ("Hund diesen Sommer", "Hund", "2026-06-01", "2026-08-31"),
        ("playa en julio de 2023", "playa", "2023-07-01", "2023-07-31"),
        ("nieve el invierno pasado", "nieve", "2025-12-01", "2026-02-28"),
        ("pastel el año pasado", "pastel", "2025-01-01", "2025-12-31"),
        ("perro este verano", "perro", "2026-06-01", "2026-08-31"),
    ],
)
def test_a_date_phrase_is_read_in_four_languages(line: str, words: str, first: str, last: str) -> None:
    rest, taken = read_dates(line, TODAY)
    assert taken is not None, line
    assert (rest, taken.first.isoformat(), taken.last.isoformat()) == (words, first, last)


@pytest.mark.parametrize(
    "line", ["May flowers", "in May", "the last samurai", "this is fine", "a 100% cotton shirt", "cat", "rocket 2000x"]
)
def test_lines_that_name_no_date_stay_words(line: str) -> None:
    assert read_dates(line, TODAY) == (line, None)


def test_the_line_dates_narrow_the_filters_and_its_words_are_the_terms() -> None:
    line = read_line("70% lake + 30% mountains, not snow in July 2023", TODAY)
    assert [(term.weight, term.text) for term in line.terms] == [(0.7, "lake"), (0.3, "mountains"), (-1.0, "snow")]
    narrowed = line.filters(Filters(taken_after="2023-07-10", folder="trips"))
    assert narrowed == Filters(taken_after="2023-07-10", taken_before="2023-07-31", folder="trips")


def test_a_line_that_is_only_a_date_is_searched_as_words() -> None:
    line = read_line("2021", TODAY)
    assert [term.text for term in line.terms] == ["2021"] and line.taken is None and line.filters() is None
