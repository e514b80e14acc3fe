"""Thumbnails: small upright JPEG renditions of an image, for the result grid."""

from __future__ import annotations

import io
import os
from typing import BinaryIO

from viewfinder.images.decode import DecodeError, open_oriented

THUMBNAIL_SIDE = 384
JPEG_QUALITY = 82


def make_thumbnail(source: str | os.PathLike | bytes | BinaryIO, side: int = THUMBNAIL_SIDE) -> bytes:
    """JPEG bytes of an image (a path, bytes or an open file), upright, its longest side at most `side` pixels;
    raises DecodeError."""
    image = open_oriented(source)
    image.thumbnail((side, side))
    out = io.BytesIO()
    try:
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    except OSError as error:
        raise DecodeError(f"cannot write a thumbnail ({error})") from error
    return out.getvalue()
