"""The thumbnail cache of an index: made once from the original, kept in the index directory's `thumbnails/`.

A thumbnail's file name carries the original's size and modification time as the catalog knows them, so an
image re-indexed after an edit gets a new thumbnail (and a new ETag) and the stale one is removed.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from viewfinder.images.thumbnails import make_thumbnail
from viewfinder.store.catalog import ImageRecord
from viewfinder.store.originals import open_original

FOLDER = "thumbnails"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Thumbnail:
    """A JPEG thumbnail and the validator that identifies its content."""

    data: bytes
    etag: str


def etag_of(image: ImageRecord) -> str:
    """A strong ETag for an image's thumbnail: it changes exactly when the indexed file does."""
    return f'"{image.id}-{image.size:x}-{image.mtime_ns:x}"'


def thumbnail(index_path: Path, image: ImageRecord) -> Thumbnail:
    """The cached thumbnail of an indexed image, made and stored on first use; raises DecodeError, or
    OriginalChangedError when the file is no longer the one indexed.

    The cache is written atomically (temporary file, then rename), so concurrent requests for the same
    image each see a whole file; a read-only index directory only loses the caching.
    """
    folder = Path(index_path) / FOLDER
    cached = folder / f"{image.id}-{image.size:x}-{image.mtime_ns:x}.jpg"
    try:
        return Thumbnail(cached.read_bytes(), etag_of(image))
    except OSError:  # not made yet, or unreadable: make it again
        pass
    with open_original(image) as original:
        data = make_thumbnail(original)
    try:
        folder.mkdir(exist_ok=True)
        _write_atomically(cached, data)
        for stale in folder.glob(f"{image.id}-*.jpg"):
            if stale != cached:
                stale.unlink(missing_ok=True)
    except OSError as error:
        log.warning("cannot cache the thumbnail of image %s in %s: %s", image.id, folder, error)
    return Thumbnail(data, etag_of(image))


def _write_atomically(path: Path, data: bytes) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
