"""How an indexed image's original is given: a local file opened and checked, or a presigned redirect."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from viewfinder.errors import ImageGoneError
from viewfinder.sources import is_remote
from viewfinder.store.catalog import ImageRecord
from viewfinder.store.originals import OriginalChangedError, open_original

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


@dataclass(frozen=True)
class Redirect:
    """A URL where the original can be fetched directly (a presigned GET, valid for a while)."""

    url: str


def open_original_of(image: ImageRecord, presign_ttl: int) -> LocalFile | Redirect:
    """The original of an indexed image; ImageGoneError when its file is gone or was replaced."""
    if is_remote(image.path):
        from viewfinder.sources.s3 import presigned_url

        return Redirect(presigned_url(image.path, presign_ttl))
    try:
        handle = open_original(image)
    except OriginalChangedError as error:
        raise ImageGoneError(f"The file of image {image.id} is {error}; re-run indexing.") from None
    media_type = MEDIA_TYPES.get(image.format, "application/octet-stream")
    return LocalFile(handle, image.path, media_type, image.file_name)
