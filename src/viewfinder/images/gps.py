"""Where a photo was taken: the EXIF GPS position, as phones and many cameras write it.

Runs in the decode workers, so it imports only Pillow. Junk (missing parts, impossible values, division by
zero in a rational) gives None, never an error: a position is a bonus, not a reason to skip a photo.
"""

from __future__ import annotations

from PIL import Image

GPS_IFD = 0x8825
LATITUDE_REF, LATITUDE, LONGITUDE_REF, LONGITUDE = 1, 2, 3, 4


def gps_of(exif: Image.Exif) -> tuple[float, float] | None:
    """(latitude, longitude) in degrees from the GPS IFD, or None when it is missing or junk."""
    try:
        gps = exif.get_ifd(GPS_IFD)
        latitude = _degrees(gps.get(LATITUDE), gps.get(LATITUDE_REF), "S")
        longitude = _degrees(gps.get(LONGITUDE), gps.get(LONGITUDE_REF), "W")
    except (ValueError, TypeError, ZeroDivisionError, KeyError, OSError, SyntaxError):
        return None
    if latitude is None or longitude is None or not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    if latitude == 0 and longitude == 0:  # what devices without a fix write
        return None
    return round(latitude, 6), round(longitude, 6)


def _degrees(parts: object, ref: object, negative: str) -> float | None:
    """Degrees, minutes and seconds (rationals) to signed decimal degrees."""
    if not isinstance(parts, tuple) or len(parts) != 3:
        return None
    degrees, minutes, seconds = (float(part) for part in parts)
    value = degrees + minutes / 60 + seconds / 3600
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    return -value if str(ref).strip().upper() == negative else value
