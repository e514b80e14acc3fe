"""What a library holds at a glance, for a home page: its newest photos and its folders, each with a count and
a cover (its newest photo). Read from the catalog in one pass; the folder filter's rule decides what is in a
folder, so a tile shows what a search within it covers."""

from __future__ import annotations

from dataclasses import dataclass

from viewfinder.store.catalog import IMAGE_COLUMNS, Catalog
from viewfinder.store.catalog_rows import ImageRecord, relative_folder
from viewfinder.store.filters import Filters, sql_conditions

MAX_RECENT = 200
# Newest capture first; photos without a capture time after every dated one, the latest indexed first.
_NEWEST_FIRST = "taken_at IS NULL, taken_at DESC, indexed_at DESC, id DESC"


@dataclass(frozen=True)
class FolderTile:
    folder: str  # relative to the source root, with '/' separators
    images: int  # photos in it, sub-folders included
    cover: ImageRecord  # its newest photo


@dataclass(frozen=True)
class Overview:
    """The newest photos in `folder` ('' for the whole library), and the folders directly inside it."""

    folder: str
    recent: list[ImageRecord]
    folders: list[FolderTile]


def overview(catalog: Catalog, folder: str | None = None, recent: int = 24) -> Overview:
    """The overview of `folder` (None or '': the whole library) with its `recent` newest photos."""
    within = Filters(folder=folder)  # checks the folder as a search's filter does
    clauses, params = sql_conditions(within)
    where = " WHERE " + " AND ".join(clauses) if clauses else ""
    rows = catalog.db.execute(
        f"SELECT {IMAGE_COLUMNS} FROM images{where} ORDER BY {_NEWEST_FIRST} LIMIT ?", [*params, recent]
    )
    newest = [ImageRecord(*row) for row in rows]
    return Overview(within.folder or "", newest, _tiles(catalog, within.folder or "", where, params))


def _tiles(catalog: Catalog, parent: str, where: str, params: list[object]) -> list[FolderTile]:
    """The folders directly inside `parent`, by name, each with its count and newest photo."""
    counts: dict[str, int] = {}
    covers: dict[str, int] = {}
    prefix = parent + "/" if parent else ""
    # Newest first, so the first photo met in a folder is its cover.
    for image_id, path, root in catalog.db.execute(
        f"SELECT id, path, root FROM images{where} ORDER BY {_NEWEST_FIRST}", params
    ):
        folder = relative_folder(path, root)
        if folder == parent:
            continue  # directly in `parent`: in no folder inside it
        child = prefix + folder[len(prefix) :].split("/", 1)[0]
        counts[child] = counts.get(child, 0) + 1
        covers.setdefault(child, image_id)
    records = catalog.images(list(covers.values()))
    return [FolderTile(name, counts[name], records[covers[name]]) for name in sorted(counts)]
