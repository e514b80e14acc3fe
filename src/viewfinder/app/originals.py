"""How an indexed image's original is given: a local file opened and checked, or a presigned redirect."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from viewfinder.errors import ImageGoneError
from viewfinder.sources import OriginalChangedError, Redirect, source_for
from viewfinder.store.catalog_rows import ImageRecord

# Redirect is one of the two answers open_original_of gives, so the fronts take it from here.
__all__ = ["MEDIA_TYPES", "LocalFile", "Redirect", "open_original_of"]

# What a browser is told each format is, by the decoder's format name.
MEDIA_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
    "AVIF": "image/avif",
    "HEIF": "image/heif",
}


@dataclass(frozen=True)
class LocalFile:
    """The indexed file, already opened and checked to be the one indexed (the caller closes `handle`)."""

    handle: BinaryIO
    path: str
    media_type: str
    file_name: str


def open_original_of(image: ImageRecord, presign_ttl: int) -> LocalFile | Redirect:
    """The original of an indexed image, as its source gives it (a checked local file, or a presigned link
    valid for `presign_ttl` seconds); ImageGoneError when the file is gone or was replaced."""
    try:
        given = source_for(image.root).original(image, presign_ttl)
    except OriginalChangedError as error:
        raise ImageGoneError(f"The file of image {image.id} is {error}; re-run indexing.") from None
    if isinstance(given, Redirect):
        return given
    media_type = MEDIA_TYPES.get(image.format, "application/octet-stream")
    return LocalFile(given.handle, given.path, media_type, image.file_name)
