"""Search filters: metadata conditions a result must meet, the one filter type every store compiles itself
(the catalog to SQL, Milvus to a boolean expression)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from viewfinder.errors import BadQueryError
from viewfinder.store.words import phrase_condition, squash


@dataclass(frozen=True)
class Place:
    """A named place: the photos taken inside its box, (south, north, west, east) in degrees, by EXIF GPS."""

    name: str
    box: tuple[float, float, float, float]

    def __post_init__(self) -> None:
        south, north, west, east = map(float, self.box)
        if not (-90 <= south <= north <= 90 and -180 <= west <= east <= 180):
            raise BadQueryError(f"The place {self.name!r} has no box of latitudes and longitudes: {self.box}.")
        object.__setattr__(self, "box", (south, north, west, east))


@dataclass(frozen=True)
class Filters:
    """Metadata conditions a result must meet; None means no condition."""

    taken_after: str | None = None  # ISO date or date-time, inclusive
    taken_before: str | None = None  # ISO date or date-time, inclusive (a bare date covers the whole day)
    folder: str | None = None  # relative to the source root, includes sub-folders
    min_width: int | None = None
    min_height: int | None = None
    place: Place | None = None
    # Phrases the words read in a photo must all hold (`index --ocr`; a quoted phrase in a typed line),
    # compared squashed (store.words): lower case, spaces ignored.
    words: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        # Dates compare as text in SQL, so every accepted spelling is brought to the catalog's ISO form.
        for name in ("taken_after", "taken_before"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, normalise_date(value, name))
        if self.folder is not None and not is_valid_unicode(self.folder):
            raise BadQueryError("The folder filter holds characters that are not valid Unicode; retype it.")
        if self.folder is not None:
            # "" and "/" name the source root, which holds everything: no condition at all.
            object.__setattr__(self, "folder", self.folder.strip("/") or None)
        if self.words is not None:
            if not all(is_valid_unicode(phrase) for phrase in self.words):
                raise BadQueryError("A quoted phrase holds characters that are not valid Unicode; retype it.")
            squashed = tuple(dict.fromkeys(word for phrase in self.words if (word := squash(phrase))))
            object.__setattr__(self, "words", squashed or None)

    def is_empty(self) -> bool:
        return all(value is None for value in vars(self).values())


def normalise_date(value: str, name: str = "date") -> str:
    """An ISO date (YYYY-MM-DD) or date-time bound in the catalog's form; BadQueryError for anything else."""
    text = str(value).strip()
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    try:
        # Capture times are the camera's local time, without a zone, so a zone in the bound is dropped.
        return datetime.fromisoformat(text).replace(tzinfo=None).isoformat()
    except ValueError:
        raise BadQueryError(f"{name} {value!r} is not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS.") from None


def is_valid_unicode(text: str) -> bool:
    """Whether text can be encoded (JSON escapes and undecodable arguments can carry lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def sql_conditions(filters: Filters) -> tuple[list[str], list[object]]:
    """The catalog's form of the filters: WHERE clauses and parameters over its `images` table."""
    clauses: list[str] = []
    params: list[object] = []
    if filters.taken_after:
        clauses.append("taken_at >= ?")
        params.append(filters.taken_after)
    if filters.taken_before:
        clauses.append("taken_at <= ?")
        params.append(filters.taken_before + ("T23:59:59" if len(filters.taken_before) == 10 else ""))
    if filters.folder:
        # An exact, case-sensitive prefix of the path below the root (LIKE ignores ASCII case); lengths
        # are in characters on both sides, as SQLite's substr and Python's len count them.
        prefix = filters.folder + "/"
        clauses.append("substr(path, length(root) + 2, ?) = ?")
        params.extend([len(prefix), prefix])
    if filters.min_width:
        clauses.append("width >= ?")
        params.append(filters.min_width)
    if filters.min_height:
        clauses.append("height >= ?")
        params.append(filters.min_height)
    if filters.place:
        clauses.append("latitude BETWEEN ? AND ? AND longitude BETWEEN ? AND ?")
        params.extend(filters.place.box)
    for phrase in filters.words or ():
        clause, values = phrase_condition(phrase)
        clauses.append(clause)
        params.extend(values)
    return clauses, params
