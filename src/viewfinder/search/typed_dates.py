"""When a typed line says when: "beach in July 2023", "snow last winter", "sunset 2021", in English, French,
German and Spanish, read as a range of capture dates (inclusive ISO days) and taken out of the words.

What is read (with an optional preposition before it: in, during, from, en, im, de, ...):
- a year, 1900-2099: `2021`
- a month and its year: `July 2023`, `juillet 2023`, `Juli 2023`, `julio de 2023`, `July of 2023`
- a season and its year: `summer 2022`, `été 2022`, `Sommer 2022`, `verano de 2022` (northern hemisphere;
  winter 2021 runs from December 2021 to February 2022)
- this or last year, month or season: `last year`, `this summer`, `l'hiver dernier`, `letzten Winter`,
  `el año pasado`, counted back from `today`

A month without a year ("in May") stays words: it would mean every May, which one range cannot say, and
"may" is often no month at all. One date phrase per line; a second is left as words.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

MONTHS = {
    "en": "january february march april may june july august september october november december",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "de": "januar februar märz april mai juni juli august september oktober november dezember",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
}
MONTH_NUMBERS = {name: number for names in MONTHS.values() for number, name in enumerate(names.split(), start=1)}
# Each season's first month; it lasts three months.
SEASONS = {
    "spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12,
    "printemps": 3, "été": 6, "ete": 6, "automne": 9, "hiver": 12,
    "frühling": 3, "frühjahr": 3, "sommer": 6, "herbst": 9,
    "primavera": 3, "verano": 6, "otoño": 9, "invierno": 12,
}  # fmt: skip
UNITS = {"year": "year", "année": "year", "an": "year", "jahr": "year", "año": "year", "month": "month",
         "mois": "month", "monat": "month", "mes": "month"}  # fmt: skip
LAST = r"last|past|previous|dernier|dernière|passé|passée|letzten|letztes|letzte|letzter|vorigen|voriges|pasado|pasada"
THIS = r"this|cette|cet|ce|dieses|diesen|diese|dieser|este|esta"
ARTICLE = r"(?:the|le|la|l'|l’|der|die|das|den|el)\s*"
PREPOSITION = r"(?:(?:in|during|from|of|since|en|pendant|im|in der|während|durante|de)\s+)?"
NAME = r"[^\W\d_]+"
YEAR = r"(19\d\d|20\d\d)"

_MONTH_YEAR = re.compile(rf"\b{PREPOSITION}({NAME})\s+(?:(?:of|de|d')\s*)?{YEAR}\b", re.IGNORECASE)
_YEAR = re.compile(rf"(?<![\d%.])\b{PREPOSITION}{YEAR}\b(?![%.\d])", re.IGNORECASE)
# "last winter", "this year", "the previous month" / "l'hiver dernier", "el año pasado" (the word after).
_BEFORE = re.compile(rf"\b{PREPOSITION}(?:{ARTICLE})?({LAST}|{THIS})\s+({NAME})\b", re.IGNORECASE)
_AFTER = re.compile(rf"(?:^|\s){PREPOSITION}(?:{ARTICLE})?({NAME})\s+({LAST})\b", re.IGNORECASE)


@dataclass(frozen=True)
class DateRange:
    """Capture dates from `first` to `last`, both inclusive."""

    first: date
    last: date


def read_dates(line: str, today: date) -> tuple[str, DateRange | None]:
    """The line without its date phrase, and the range it says (None, and the line unchanged, when none)."""
    for pattern, reader in ((_MONTH_YEAR, _month_or_season), (_BEFORE, _relative), (_AFTER, _relative_after)):
        for found in pattern.finditer(line):
            span = reader(found, today)
            if span is not None:
                return _without(line, found), span
    year = _YEAR.search(line)
    if year is not None:
        number = int(year.group(1))
        return _without(line, year), DateRange(date(number, 1, 1), date(number, 12, 31))
    return line, None


def _month_or_season(found: re.Match[str], today: date) -> DateRange | None:
    name, year = found.group(1).lower(), int(found.group(2))
    if name in MONTH_NUMBERS:
        return _months(year, MONTH_NUMBERS[name], 1)
    if name in SEASONS:
        return _months(year, SEASONS[name], 3)
    return None


def _relative(found: re.Match[str], today: date) -> DateRange | None:
    return _counted_back(
        found.group(2).lower(), last=not re.fullmatch(THIS, found.group(1), re.IGNORECASE), today=today
    )


def _relative_after(found: re.Match[str], today: date) -> DateRange | None:
    return _counted_back(found.group(1).lower(), last=True, today=today)


def _counted_back(word: str, last: bool, today: date) -> DateRange | None:
    """ "last/this year, month or season" as of `today`."""
    unit = UNITS.get(word)
    if unit == "year":
        year = today.year - last
        return DateRange(date(year, 1, 1), date(year, 12, 31))
    if unit == "month":
        months = today.year * 12 + today.month - 1 - last
        return _months(months // 12, months % 12 + 1, 1)
    if word in SEASONS:
        # The latest one that has begun (this winter), or that has ended (last winter).
        for year in range(today.year, today.year - 3, -1):
            span = _months(year, SEASONS[word], 3)
            if (span.last < today) if last else (span.first <= today):
                return span
    return None


def _months(year: int, month: int, count: int) -> DateRange:
    """`count` months from `month` of `year` (running into the next year when they must)."""
    end = year * 12 + month - 1 + count - 1
    end_year, end_month = end // 12, end % 12 + 1
    return DateRange(date(year, month, 1), date(end_year, end_month, calendar.monthrange(end_year, end_month)[1]))


def _without(line: str, found: re.Match[str]) -> str:
    rest = " ".join((line[: found.start()] + " " + line[found.end() :]).split())
    return re.sub(r"\s+,", ",", rest).strip(" ,")
