"""The thumbnail cache of an index: made once from the original, kept in the index directory's `thumbnails/`,
and the display renditions of formats browsers cannot show, kept alike in `renditions/`. The other sizes a
page may ask for (thumbnails for high-density screens, a phone-sized rendition) are kept in a folder named
after their size, e.g. `thumbnails-768/` and `renditions-1080/`.

A thumbnail's file name carries the original's size and modification time as the catalog knows them, so an
image re-indexed after an edit gets a new thumbnail (and a new ETag) and the stale one is removed. Both are
made when first shown, except for images in object storage, whose originals the service never fetches: the
indexer makes theirs from the bytes it fetched (pipeline/reading.py).
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from viewfinder.images.decode import DecodeError
from viewfinder.images.thumbnails import THUMBNAIL_SIDE, make_thumbnail
from viewfinder.sources import source_for
from viewfinder.store.catalog_rows import ImageRecord

FOLDER = "thumbnails"
RENDITIONS = "renditions"
RENDITION_SIDE = 2048
# The sizes a page may ask for: thumbnails for screens of one and two device pixels a CSS pixel, and screen
# renditions for a desktop and a phone. Each is made once, so the list stays short; the first is the default.
THUMBNAIL_SIDES = (THUMBNAIL_SIDE, 2 * THUMBNAIL_SIDE)
RENDITION_SIDES = (RENDITION_SIDE, 1080)
# Formats browsers do not display (as Pillow names them): their detail view shows the JPEG rendition.
NOT_FOR_BROWSERS = frozenset({"TIFF", "HEIF"})

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Thumbnail:
    """A JPEG thumbnail and the validator that identifies its content."""

    data: bytes
    etag: str


def sized_folder(folder_name: str, side: int, default_side: int) -> str:
    """The cache folder of a size: the folder itself for its default size, else `<folder>-<side>`."""
    return folder_name if side == default_side else f"{folder_name}-{side}"


def file_name(image_id: int, size: int, mtime_ns: int) -> str:
    """The cached thumbnail's name: it changes when the indexed file does."""
    return f"{image_id}-{size:x}-{mtime_ns:x}.jpg"


def etag_of(image: ImageRecord) -> str:
    """A strong ETag for an image's thumbnail: it changes exactly when the indexed file does."""
    return f'"{image.id}-{image.size:x}-{image.mtime_ns:x}"'


def thumbnail(index_path: Path, image: ImageRecord, side: int = THUMBNAIL_SIDE, folder_name: str = FOLDER) -> Thumbnail:
    """The cached thumbnail of an indexed image, made and stored on first use; raises DecodeError, or
    OriginalChangedError when the file is no longer the one indexed.

    `side` and `folder_name` make other sizes, e.g. the display renditions in `renditions/`.

    The cache is written atomically (temporary file, then rename), so concurrent requests for the same
    image each see a whole file; a read-only index directory only loses the caching.
    """
    cached = cached_thumbnail(index_path, image, folder_name)
    if cached is not None:
        return cached
    if source_for(image.root).remote:  # made at index time; a missing one is not fetched from the store when shown
        raise DecodeError("its thumbnail was not made at index time")
    return make_thumbnail_of(index_path, image, side, folder_name)


def cached_thumbnail(index_path: Path, image: ImageRecord, folder_name: str = FOLDER) -> Thumbnail | None:
    """The image's thumbnail from the cache; None when it is not made yet (or cannot be read)."""
    cached = Path(index_path) / folder_name / file_name(image.id, image.size, image.mtime_ns)
    try:
        return Thumbnail(cached.read_bytes(), etag_of(image))
    except OSError:
        return None


def make_thumbnail_of(
    index_path: Path, image: ImageRecord, side: int = THUMBNAIL_SIDE, folder_name: str = FOLDER
) -> Thumbnail:
    """Makes an image's thumbnail from its original, read through its source while it is still the one
    indexed, and caches it; raises DecodeError, OriginalChangedError, or ViewfinderError when a remote store
    cannot be read."""
    source = source_for(image.root)
    with source.open_indexed(image) as original:
        # A file is decoded from its descriptor, its size checked first; a remote entry is in memory already.
        data = make_thumbnail(original.read() if source.remote else original, side)
    try:
        store_thumbnail(index_path, image.id, image.size, image.mtime_ns, data, folder_name)
    except OSError as error:
        log.warning("cannot cache the thumbnail of image %s in %s: %s", image.id, Path(index_path) / folder_name, error)
    return Thumbnail(data, etag_of(image))


def store_thumbnail(
    index_path: Path, image_id: int, size: int, mtime_ns: int, data: bytes, folder_name: str = FOLDER
) -> None:
    """Keeps a thumbnail made elsewhere (at index time) in the cache, replacing the image's stale ones."""
    folder = Path(index_path) / folder_name
    cached = folder / file_name(image_id, size, mtime_ns)
    folder.mkdir(exist_ok=True)
    _write_atomically(cached, data)
    for stale in folder.glob(f"{image_id}-*.jpg"):
        if stale != cached:
            stale.unlink(missing_ok=True)


def _write_atomically(path: Path, data: bytes) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
