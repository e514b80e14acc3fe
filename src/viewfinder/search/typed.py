"""A search as a person types it on one line, read into the query algebra's terms.

    70% red circle + 30% green square     two texts, weighted 0.7 and 0.3
    mountains, not snow                   mountains, steered away from snow (weight -1)
    red circle without square             the same with "without" (French "sans", German "ohne")
    mountains -snow -fog                  a minus before a word, after a space
    lake + mountains                      two texts of equal weight

A line with none of these is one text, unchanged: "t-shirt", "rock'n'roll" and "100% cotton" stay literal
(a minus inside a word, a weight with nothing after a plus). A date phrase ("beach in July 2023", "snow last
winter"; search/typed_dates.py) becomes a filter on the capture date, a place ("beach in Lisbon";
search/typed_places.py) one on the GPS position, and a phrase in double quotes (`receipt "42.50"`;
search/typed_words.py) one on the words read in the photo. The CLI's TEXT, the HTTP API's `query`
and `Index.search(str)` read a line the same way, so every front gives the same search for the same line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date

from viewfinder.errors import BadQueryError
from viewfinder.search.query import MAX_WEIGHT, NEGATIVE_WEIGHT, Term
from viewfinder.search.typed_dates import DateRange, read_dates
from viewfinder.search.typed_places import read_place
from viewfinder.search.typed_words import read_phrases
from viewfinder.store.filters import Filters, Place

# Where a negative part starts: ", not", "without" (and its French and German words) as whole words, or a
# minus that starts a word after a space or at the start of the line.
_NEGATION = re.compile(r"(?:,\s*not|\bwithout|\bsans|\bohne)\s+|(?:^|(?<=\s))-(?=[^\s\d-])", re.IGNORECASE)
_PLUS = re.compile(r"\s\+\s|^\+\s|\s\+$")  # a plus standing alone between parts
_WEIGHT = re.compile(r"^(\d+(?:\.\d+)?)\s*%\s*(?:of\s+)?(.*)$", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class TypedLine:
    """What a typed line asks for: its terms, the capture dates and place it names (None: it names none) and
    the quoted phrases the words in the photo must hold."""

    terms: tuple[Term, ...]
    taken: DateRange | None = None
    place: Place | None = None
    words: tuple[str, ...] = ()

    def filters(self, given: Filters | None = None) -> Filters | None:
        """`given` narrowed to the line's dates, place and quoted phrases: a photo must pass both."""
        if self.words:
            given = replace(given or Filters(), words=((given.words if given else None) or ()) + self.words)
        if self.taken is None and self.place is None:
            return given
        narrowed = given or Filters()
        if self.taken is not None:
            first, last = self.taken.first.isoformat(), self.taken.last.isoformat()
            after = max(first, narrowed.taken_after) if narrowed.taken_after else first
            before = min(last, narrowed.taken_before) if narrowed.taken_before else last
            narrowed = replace(narrowed, taken_after=after, taken_before=before)
        if self.place is not None:
            place = self.place
            if narrowed.place is not None:  # both: where the boxes overlap
                (south, north, west, east), other = place.box, narrowed.place.box
                box = (max(south, other[0]), min(north, other[1]), max(west, other[2]), min(east, other[3]))
                if box[0] > box[1] or box[2] > box[3]:
                    raise BadQueryError(f"{place.name} lies outside the place filter given with the query.")
                place = Place(place.name, box)
            narrowed = replace(narrowed, place=place)
        return narrowed


def read_line(line: str, today: date | None = None) -> TypedLine:
    """A typed line's terms, dates, place and quoted phrases (see the module's examples). A line that is only a
    date or a place stays words: a search needs something to look for; a line that is only quoted phrases looks
    for them, among the photos that hold them."""
    line, words = read_phrases(line)
    text = " ".join((line or " ".join(words)).split())
    rest, taken = read_dates(text, today or date.today())
    if not rest:
        rest, taken = text, None
    without_place, place = read_place(rest)
    if place is not None and without_place:
        rest = without_place
    else:
        place = None
    return TypedLine(parse_typed(rest), taken, place, words)


def parse_typed(line: str) -> tuple[Term, ...]:
    """The terms of a typed line, its dates left in as words; a line without syntax is one text term."""
    text = " ".join(line.split())
    if not _NEGATION.search(text) and not _is_weighted_sum(text):
        return (Term(text=text),)
    head, *negatives = _NEGATION.split(text)
    # A line that starts with its negative part ("-snow") has no positive part, which is said below.
    terms = [_positive(part) for part in _PLUS.split(head)] if head.strip() else []
    for negative in negatives:
        words = negative.strip(" ,")
        if not words:
            raise BadQueryError(f"Nothing follows a minus or 'without' in {line!r}; say what to steer away from.")
        terms.append(Term(weight=NEGATIVE_WEIGHT, text=words))
    if not any(term.weight > 0 for term in terms):
        raise BadQueryError(f"{line!r} says only what to avoid; say what to look for too.")
    return tuple(terms)


def _is_weighted_sum(text: str) -> bool:
    """A sum of parts ("lake + mountains", "70% lake + 30% mountains"); one weight alone is literal text."""
    parts = _PLUS.split(text)
    return len(parts) > 1 and any(part.strip() for part in parts)


def _positive(part: str) -> Term:
    part = part.strip(" ,")
    if not part:
        raise BadQueryError("A '+' has nothing on one side; write parts as '70% lake + 30% mountains'.")
    weighted = _WEIGHT.match(part)
    if weighted is None:
        return Term(text=part)
    percent, words = float(weighted.group(1)), weighted.group(2).strip()
    if not words:
        raise BadQueryError(f"'{weighted.group(1)}%' weighs nothing; write it before what it weighs: '70% lake'.")
    if not 0 < percent <= MAX_WEIGHT * 100:
        raise BadQueryError(f"A weight of {weighted.group(1)}% is out of range; use more than 0%.")
    return Term(weight=percent / 100, text=words)
