"""Photos with words drawn on them, for the OCR tests and scripts/bench_ocr.py: each phrase in one of the
system's TrueType fonts, at one of several sizes and colours, slightly rotated, sometimes on a plate (a sign)
and sometimes straight on the picture (a caption, a slogan).

The phrases are receipt totals, street names, slide titles and screen labels, each unique, so a search for
one has exactly one right photo. Backgrounds are real photographs (`photos()`: Debian's wallpapers) where
they are installed, and the project's textured gradients (`textured()`) for the tests, which need no package.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from viewfinder.images.synthetic import BACKGROUNDS, textured_background

FONT_DIR = Path("/usr/share/fonts/truetype")
# Photographs from Debian's mate-backgrounds (nature: flowers, dunes, storms, wood...), the largest set of
# real photos among the wallpaper packages: `apt-get install mate-backgrounds`.
PHOTO_DIR = Path("/usr/share/backgrounds/mate/nature")
PHRASES = (
    "TOTAL 42.50 EUR", "Rua Augusta", "Quarterly Results", "EXIT", "Bakery Open 7am", "Platform 9",
    "Sale 30% off", "Battery low", "Welcome to Lisbon", "Gate B12", "Fresh Coffee", "No Parking",
    "Invoice 2291", "Station Road", "Happy Birthday Ana", "Museum Entrance", "Chapter Three", "Free WiFi",
    "Total 18.90", "Market Street", "Agenda for Monday", "Save changes", "Hotel Central", "Do not enter",
    "Order 5531", "Harbour View", "Thank you", "Room 214", "Final Score 3-1", "Bus Stop",
    "Pharmacy", "Check in here", "Kitchen Rules", "Lecture Hall 4", "Library Hours", "Open Sunday",
    "Ticket 88412", "Oak Avenue", "Settings Menu", "Welcome Home", "Fish Market", "Please wait",
)  # fmt: skip
# Text colours and, for a plate behind the words, its colour: light on dark, dark on light, and saturated.
COLOURS = ((255, 255, 255), (20, 20, 20), (250, 210, 40), (220, 40, 40), (30, 60, 200), (30, 150, 60))


def fonts() -> list[Path]:
    """The TrueType fonts installed (DejaVu and Liberation on Debian), sorted, without symbol fonts."""
    return sorted(path for path in FONT_DIR.rglob("*.ttf") if "Symbol" not in path.name)


def photos(side: int = 1280) -> Iterator[Image.Image]:
    """Real photographs, each cut into its four quarters and its centre (so a dozen wallpapers give sixty
    different pictures), scaled to `side` pixels on their longest side."""
    for path in sorted(PHOTO_DIR.glob("*.jpg")):
        with Image.open(path) as opened:
            opened.draft("RGB", (2 * side, 2 * side))
            whole = opened.convert("RGB")
        width, height = whole.size
        boxes = [(0, 0), (width // 2, 0), (0, height // 2), (width // 2, height // 2), (width // 4, height // 4)]
        for left, top in boxes:
            part = whole.crop((left, top, left + width // 2, top + height // 2))
            part.thumbnail((side, side))
            yield part


def textured(count: int, rng: np.random.Generator, size: tuple[int, int] = (640, 480)) -> list[Image.Image]:
    """`count` textured gradients in the synthetic scenes' background colours (for tests: no package needed)."""
    names = sorted(BACKGROUNDS)
    return [
        Image.fromarray(np.clip(textured_background(names[n % len(names)], *size, rng), 0, 255).astype(np.uint8))
        for n in range(count)
    ]


def draw_phrase(
    picture: Image.Image, phrase: str, rng: np.random.Generator, heights: tuple[float, float] = (0.04, 0.09)
) -> Image.Image:
    """`picture` with `phrase` drawn on it: a random font, its height a random share of the picture's within
    `heights`, colour and angle (within ±6°), on a plate half the time, somewhere it fits."""
    picture = picture.convert("RGB")
    width, height = picture.size
    font_path = fonts()[int(rng.integers(len(fonts())))]
    size = max(14, int(height * float(rng.uniform(*heights))))
    font = ImageFont.truetype(str(font_path), size)
    while font.getbbox(phrase)[2] > 0.85 * width and size > 14:  # a long phrase in a large font must fit
        size = int(size * 0.85)
        font = ImageFont.truetype(str(font_path), size)
    left, top, right, bottom = font.getbbox(phrase)
    pad = size // 3
    layer = Image.new("RGBA", (right - left + 2 * pad, bottom - top + 2 * pad), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    ink = COLOURS[int(rng.integers(len(COLOURS)))]
    if rng.random() < 0.5:  # a sign: the words on a plate of a contrasting colour
        plate = (20, 20, 20) if sum(ink) > 380 else (245, 245, 240)
        draw.rectangle((0, 0, *layer.size), fill=(*plate, 255))
        draw.text((pad - left, pad - top), phrase, font=font, fill=(*ink, 255))
    else:  # a caption: the words on the picture, outlined so that they stand out as printed text does
        outline = (0, 0, 0) if sum(ink) > 380 else (255, 255, 255)
        draw.text((pad - left, pad - top), phrase, font=font, fill=(*ink, 255), stroke_width=max(1, size // 18),
                  stroke_fill=(*outline, 255))  # fmt: skip
    layer = layer.rotate(float(rng.uniform(-6, 6)), expand=True, resample=Image.Resampling.BICUBIC)
    x = int(rng.integers(0, max(1, width - layer.width)))
    y = int(rng.integers(0, max(1, height - layer.height)))
    picture.paste(layer, (x, y), layer)
    return picture


def write_library(folder: Path, phrases: Sequence[str], plain: int, seed: int = 3) -> dict[str, Path]:
    """Textured pictures (no package needed): one per phrase with the phrase drawn on it, and `plain` without
    words; returns phrase -> its picture."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    pictures = textured(len(phrases) + plain, rng)
    drawn = {}
    for number, phrase in enumerate(phrases):
        drawn[phrase] = folder / f"words-{number}.jpg"
        draw_phrase(pictures[number], phrase, rng).save(drawn[phrase], quality=92)
    for number, picture in enumerate(pictures[len(phrases) :]):
        picture.save(folder / f"plain-{number}.jpg", quality=92)
    return drawn
