"""PNG pixels by libspng (pyspng), which inflates and unfilters a photo-sized PNG in about two thirds of
Pillow's CPU time; Pillow still reads the header and checks the size first, and decodes every PNG this path
does not take: 16-bit, palette or tRNS transparency, animation, metadata after the pixel data, anything
libspng rejects (so bad files get Pillow's reasons), or an install without pyspng.
"""

from __future__ import annotations

import functools
import struct
from types import ModuleType

from PIL import Image

from viewfinder.images.exif import MALFORMED

# IHDR colour types libspng's 8-bit formats give unchanged: greyscale, RGB, grey + alpha, RGBA.
_FORMAT = {0: "L", 2: "RGB", 4: "LA", 6: "RGBA"}
# Chunks that change what Pillow would show: transparency, animation, and metadata Pillow only reads when it
# decodes the pixels (EXIF after the image data carries the orientation).
_NOT_AFTER_DATA = frozenset({b"eXIf", b"tEXt", b"zTXt", b"iTXt"})
_NEVER = frozenset({b"tRNS", b"acTL"})
_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@functools.cache
def _pyspng() -> ModuleType | None:
    try:
        import pyspng
    except ImportError:
        return None
    return pyspng


def spng_decode(img: Image.Image) -> tuple[Image.Image, Image.Exif] | None:
    """`img`'s pixels as a new image decoded by libspng from the file `img` was opened from, with its EXIF
    (all in the chunks before the image data, which Pillow read with the header), or None where Pillow must
    decode it (see the module's docstring)."""
    from PIL import PngImagePlugin  # here, not at import: loaded once an image was opened (images.decode)

    pyspng = _pyspng()
    if pyspng is None or not isinstance(img, PngImagePlugin.PngImageFile) or img.fp is None:
        return None
    where = img.fp.tell()
    img.fp.seek(0)
    data = img.fp.read()
    img.fp.seek(where)  # where Pillow's own decoder expects it, should this path give the file back
    mode = _plain_mode(data)
    if mode is None:
        return None
    try:
        pixels = pyspng.load(data, format=mode)
    except Exception:  # any failure: Pillow decodes it again and gives its own reason
        return None
    if pixels.shape[:2] != (img.height, img.width):
        return None
    try:
        # Image's own getexif: PngImageFile's decodes the pixels first, to look for EXIF after them.
        exif = Image.Image.getexif(img)
    except MALFORMED:
        exif = Image.Exif()
    return Image.fromarray(pixels), exif


def _plain_mode(data: bytes) -> str | None:
    """The Pillow mode of an 8-bit PNG libspng decodes as Pillow would, or None; walks the chunk headers."""
    if not data.startswith(_SIGNATURE) or data[12:16] != b"IHDR" or len(data) < 33:
        return None
    bit_depth, colour_type = data[24], data[25]
    mode = _FORMAT.get(colour_type)
    if bit_depth != 8 or mode is None:
        return None
    position, seen_data = 8, False
    while position + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        if kind in _NEVER or (seen_data and kind in _NOT_AFTER_DATA):
            return None
        if kind == b"IEND":
            return mode
        seen_data = seen_data or kind == b"IDAT"
        position += 12 + length
    return None  # no IEND: truncated, which Pillow reports
