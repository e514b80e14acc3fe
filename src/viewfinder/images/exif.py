"""What a photo's EXIF says of it: when it was taken, which way is up, how much camera data it carries (where
it was taken: gps.py). Broken metadata on a fine image is common, so each reader gives nothing rather than fail.
Runs in the decode workers: it imports only Pillow.
"""

from __future__ import annotations

import re
import struct
from datetime import datetime

from PIL import Image

ORIENTATION = 0x0112
DATETIME = 0x0132
EXIF_IFD = 0x8769
DATETIME_ORIGINAL = 0x9003
EXIF_DATE = re.compile(r"(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
# What Pillow raises on malformed metadata (and on malformed files in general).
MALFORMED = (OSError, SyntaxError, ValueError, EOFError, struct.error, RuntimeError)


def exif_of(img: Image.Image) -> Image.Exif:
    """The image's EXIF, empty when missing or malformed."""
    try:
        return img.getexif()
    except MALFORMED:
        return Image.Exif()


def taken_at(exif: Image.Exif) -> str | None:
    """The capture time as ISO 8601 from DateTimeOriginal, else DateTime; None when missing or junk."""
    try:
        original = exif.get_ifd(EXIF_IFD).get(DATETIME_ORIGINAL)
    except MALFORMED:
        original = None
    for value in (original, exif.get(DATETIME)):
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        if not isinstance(value, str) or not (match := EXIF_DATE.match(value.strip())):
            continue
        try:
            year, month, day, hour, minute, second = map(int, match.groups())
            return datetime(year, month, day, hour, minute, second).isoformat()
        except ValueError:  # "0000:00:00 00:00:00" and other impossible dates
            continue
    return None


def field_count(exif: Image.Exif) -> int:
    """How many EXIF fields there are in the main and Exif IFDs: a measure of the camera data a copy kept."""
    try:
        return len(exif) + len(exif.get_ifd(EXIF_IFD))
    except MALFORMED:
        return len(exif)
