"""The words read in photos (`index --ocr`), in the catalog: stored by content hash, matched by quoted phrases.

OCR drops and adds spaces ("TOTAL42.50EUR"), reads capitals as the photo has them and takes some characters
for others (0 for O), so a phrase and the stored words are compared squashed: lower case, without whitespace,
confusable characters as one. The trigram index finds a squashed
phrase of three characters or more anywhere in a photo's words; shorter ones are looked for row by row.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

TRIGRAM = 3  # the shortest phrase the trigram index can look up


@dataclass(frozen=True)
class ReadWords:
    """What OCR made of one content: the words as read (empty when none), or why they could not be read."""

    content_hash: str
    text: str
    reason: str | None = None


# Letters OCR takes for one another, each set written as one: "T0TAL" and "TOTAL", "B12" and "Bl2" match.
_CONFUSED = str.maketrans({"0": "o", "1": "l", "i": "l", "|": "l"})


def squash(text: str) -> str:
    """The form stored words and phrases are compared in: lower case, no whitespace, and each set of
    characters OCR confuses (O and 0; 1, l, I and |) as one."""
    return "".join(text.lower().split()).translate(_CONFUSED)


def phrase_condition(phrase: str) -> tuple[str, list[object]]:
    """An SQL condition on the `images` table: the image's words hold `phrase` (already squashed)."""
    if len(phrase) >= TRIGRAM:
        quoted = '"' + phrase.replace('"', '""') + '"'  # one FTS5 string: its characters are not syntax
        found = "SELECT content_hash FROM words WHERE id IN (SELECT rowid FROM words_index WHERE words_index MATCH ?)"
        return f"content_hash IN ({found})", [quoted]
    return "content_hash IN (SELECT content_hash FROM words WHERE instr(squashed, ?) > 0)", [phrase]


def unread(db: sqlite3.Connection, roots: Iterable[str]) -> list[tuple[int, str]]:
    """(id, content hash) of the images under `roots` whose content has no words row yet, one per content."""
    marks = ",".join("?" * len(roots := list(roots)))
    rows = db.execute(
        f"SELECT MIN(id), content_hash FROM images WHERE root IN ({marks}) AND content_hash IS NOT NULL"
        " AND content_hash NOT IN (SELECT content_hash FROM words) GROUP BY content_hash ORDER BY MIN(id)",
        roots,
    )
    return [(int(image_id), digest) for image_id, digest in rows]


def store(db: sqlite3.Connection, read: Sequence[ReadWords]) -> None:
    """Keeps what OCR made of these contents, in one transaction (a killed run keeps every batch it stored)."""
    with db:
        db.executemany(
            "INSERT INTO words (content_hash, text, squashed, reason) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (content_hash) DO NOTHING",
            ((item.content_hash, item.text, squash(item.text), item.reason) for item in read),
        )


def forget_unused(db: sqlite3.Connection) -> int:
    """Drops the words of contents no image has any more (deleted or changed files); returns how many."""
    with db:
        return db.execute(
            "DELETE FROM words WHERE content_hash NOT IN (SELECT content_hash FROM images"
            " WHERE content_hash IS NOT NULL)"
        ).rowcount


def words_of(db: sqlite3.Connection, ids: Sequence[int]) -> dict[int, str]:
    """The words read in each of these images that has some."""
    found: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        part = list(ids[start : start + 500])
        marks = ",".join("?" * len(part))
        found.update(
            db.execute(
                f"SELECT i.id, w.text FROM images i JOIN words w ON w.content_hash = i.content_hash"
                f" WHERE i.id IN ({marks}) AND w.text != ''",
                part,
            )
        )
    return found
