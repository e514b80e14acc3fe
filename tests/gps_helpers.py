"""Photos with an EXIF GPS position, written the way phones write it (rationals, N/S and E/W references)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from PIL import Image

from viewfinder.images.gps import GPS_IFD

# File name → where it was taken: (latitude, longitude). Two in Lisbon, one in Tokyo.
TAKEN_AT = {"tram.jpg": (38.7139, -9.1394), "alfama.jpg": (38.7118, -9.1300), "shrine.jpg": (35.6764, 139.6500)}


def dms(value: float) -> tuple[Fraction, Fraction, Fraction]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = Fraction(round((value - degrees - minutes / 60) * 3600 * 100), 100)
    return Fraction(degrees), Fraction(minutes), seconds


def gps_jpeg(path: Path, latitude: float, longitude: float, colour=(200, 120, 40)) -> None:
    """A small JPEG with a GPS position, written the way phones write it (rationals, N/S and E/W refs)."""
    exif = Image.Exif()
    gps = exif.get_ifd(GPS_IFD)
    gps.update(
        {1: "N" if latitude >= 0 else "S", 2: dms(latitude), 3: "E" if longitude >= 0 else "W", 4: dms(longitude)}
    )
    Image.new("RGB", (64, 48), colour).save(path, exif=exif)


def write_gps_photos(folder: Path) -> None:
    """TAKEN_AT's photos in `folder`, each a colour of its own."""
    folder.mkdir(parents=True, exist_ok=True)
    for number, (name, (latitude, longitude)) in enumerate(TAKEN_AT.items()):
        gps_jpeg(folder / name, latitude, longitude, colour=(60 * number, 200, 90))
