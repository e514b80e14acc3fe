"""Sample pictures with captions for `viewfinder sample`: coloured shapes whose meaning the project controls.

The offline demo indexes such a library and searches it with `test:shapes`, a model trained on these scenes
among others (the training and evaluation worlds live outside the package, in worlds/shapeworld/). Only numpy
and Pillow are needed.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "ring", "cross")

# Saturated, far-apart object colours: a tiny model must tell them apart after JPEG and noise.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 30, 35),
    "green": (35, 165, 55),
    "blue": (35, 75, 215),
    "yellow": (240, 215, 30),
    "orange": (245, 130, 20),
    "purple": (135, 45, 175),
    "white": (245, 245, 245),
    "black": (20, 20, 20),
}

# Muted mid-tones, none of them an object colour, so an object always stands out and "a blue circle"
# never means "something on a blue background".
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "grey": (128, 128, 128),
    "slate": (92, 106, 124),
    "sand": (188, 172, 138),
    "sage": (128, 150, 118),
    "mauve": (158, 124, 142),
    "taupe": (140, 122, 104),
}

SIZES: tuple[str, ...] = ("small", "large")

# Object radius as a fraction of the image height, by size word.
_RADIUS = {"small": (0.13, 0.16), "large": (0.21, 0.26)}
# Scenes are laid out for a 4:3 landscape frame; search-time preprocessing centre-crops it to a square,
# so objects are kept inside the central square where the model sees them whole.
_ASPECT = 4 / 3
_PLURALS = {"cross": "crosses"}
_COUNTS = {1: "a", 2: "two", 3: "three", 4: "four"}
_W = 0.38  # a chunky plus, so that a small cross does not read as a star
_CROSS = [(_W, -1), (_W, -_W), (1, -_W), (1, _W), (_W, _W), (_W, 1),
          (-_W, 1), (-_W, _W), (-1, _W), (-1, -_W), (-_W, -_W), (-_W, -1)]  # fmt: skip


@dataclass(frozen=True)
class ShapeObject:
    """One shape in a scene; x and y are the centre as fractions of the width and height."""

    shape: str
    colour: str
    size: str
    x: float
    y: float
    angle: float


@dataclass(frozen=True)
class Scene:
    """What an image shows and the caption that says so."""

    objects: tuple[ShapeObject, ...]
    background: str
    caption: str


def _plural(shape: str) -> str:
    return _PLURALS.get(shape, shape + "s")


def _phrase(members: tuple[ShapeObject, ...], with_size: bool) -> str:
    first = members[0]
    if len(members) == 1:
        words = [first.size] if with_size else []
        words += [first.colour, first.shape]
        return article(words[0]) + " " + " ".join(words)
    return f"{_COUNTS[len(members)]} {first.colour} {_plural(first.shape)}"


def article(word: str) -> str:
    """The article before this word: "a" or "an"."""
    return "an" if word[0] in "aeiou" else "a"


def _join(parts: list[str]) -> str:
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def group(objects: Sequence[ShapeObject]) -> list[tuple[ShapeObject, ...]]:
    """The objects by (colour, shape), in order of first appearance: two green squares are one group."""
    groups: dict[tuple[str, str], list[ShapeObject]] = {}
    for obj in objects:
        groups.setdefault((obj.colour, obj.shape), []).append(obj)
    return [tuple(members) for members in groups.values()]


def describe(objects: Sequence[ShapeObject], background: str | None, rng: np.random.Generator) -> str:
    """A natural caption that names every object, now and then its size and the background."""
    ordered = group(objects)
    order = rng.permutation(len(ordered))
    # Size and background are mentioned now and then, as people do; mentioned often, the model would weigh
    # them as much as colour and shape, and "more like this picture" would return the same backdrop.
    with_size = rng.random() < 0.25
    parts = [_phrase(ordered[i], with_size) for i in order]
    text = _join(parts)
    prefix = str(rng.choice(["", "", "a photo of ", "an image of ", "a picture of "]))
    if not prefix and len(parts) == 1 and rng.random() < 0.25:
        text = text.split(" ", 1)[1]  # a bare "red circle", as people type queries
    # The random number is drawn either way, so a library for a seed is the same as before backgrounds became
    # optional (pictures on unnamed backgrounds get no suffix).
    suffix = f" on a {background} background" if rng.random() < 0.15 and background else ""
    return prefix + text + suffix


def _place(size: str, placed: list[ShapeObject], rng: np.random.Generator) -> tuple[float, float] | None:
    """A free centre (x, y) for a new object of this size, or None when the frame is too full."""
    radius = _RADIUS[size][1]
    half_crop = 0.5 / _ASPECT  # half the width of the centre crop, as a fraction of the width
    for _ in range(50):
        x = float(rng.uniform(0.5 - half_crop + radius / _ASPECT, 0.5 + half_crop - radius / _ASPECT))
        y = float(rng.uniform(radius, 1 - radius))
        if all(np.hypot((x - o.x) * _ASPECT, y - o.y) > radius + _RADIUS[o.size][1] + 0.02 for o in placed):
            return x, y
    return None


def place_objects(specs: list[tuple[str, str, str]], rng: np.random.Generator) -> tuple[ShapeObject, ...]:
    """Lay out (shape, colour, size) objects without overlaps, shrinking or dropping what does not fit."""
    placed: list[ShapeObject] = []
    for shape, colour, size in specs:
        for fitted in (size, "small"):
            spot = _place(fitted, placed, rng)
            if spot is not None:
                placed.append(ShapeObject(shape, colour, fitted, *spot, float(rng.uniform(0, 360))))
                break
    return tuple(placed)


def random_scene(rng: np.random.Generator) -> Scene:
    """A random scene of one to three objects, sometimes repeating one kind ("two green squares")."""
    count = int(rng.choice([1, 2, 3], p=[0.5, 0.3, 0.2]))
    kinds = [(str(rng.choice(SHAPES)), str(rng.choice(list(COLOURS)))) for _ in range(count)]
    if count > 1 and rng.random() < 0.25:
        kinds = [kinds[0]] * count
    # Three large shapes rarely fit the frame, so crowded scenes lean small.
    p_large = 0.5 if count == 1 else 0.3
    specs = [(shape, colour, "large" if rng.random() < p_large else "small") for shape, colour in kinds]
    objects = place_objects(specs, rng)
    background = str(rng.choice(list(BACKGROUNDS)))
    return Scene(objects, background, describe(objects, background, rng))


def _outline(obj: ShapeObject, cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    """Polygon vertices of a rotated shape of circumradius r centred on (cx, cy)."""
    if obj.shape == "square":
        angles = np.arange(4) * 90 + 45
        radii = np.full(4, r * 0.92)
    elif obj.shape == "triangle":
        angles = np.arange(3) * 120 - 90
        radii = np.full(3, r)
    elif obj.shape == "star":
        angles = np.arange(10) * 36 - 90
        radii = np.where(np.arange(10) % 2 == 0, r, r * 0.4)
    else:  # cross: a plus sign whose arms are 0.76 r wide
        xy = np.array(_CROSS) * r
        angles = np.degrees(np.arctan2(xy[:, 1], xy[:, 0]))
        radii = np.hypot(xy[:, 0], xy[:, 1])
    theta = np.radians(angles + obj.angle)
    xs, ys = cx + radii * np.cos(theta), cy + radii * np.sin(theta)
    return list(zip(xs.tolist(), ys.tolist(), strict=True))


def textured_background(name: str, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A gradient with a light texture (stripes, checks or blotches) in shades of one background colour."""
    base = np.array(BACKGROUNDS[name], dtype=np.float32)
    # Broadcast a row against a column rather than building full coordinate grids: rendering is on the
    # training script's critical path.
    xx = np.arange(width, dtype=np.float32)[None, :]
    yy = np.arange(height, dtype=np.float32)[:, None]
    # Python floats keep the arithmetic in float32 (numpy scalars would promote it to float64).
    direction, strength = float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(20, 50))
    dx, dy = math.cos(direction), math.sin(direction)
    ramp = (dx / width * strength) * xx + (dy / height * strength) * yy
    kind = rng.integers(4)
    if kind == 0:
        wavenumber = 2 * math.pi / float(rng.uniform(8, 30))
        texture = np.sin((dx * wavenumber) * xx - (dy * wavenumber) * yy) * 10
    elif kind == 1:
        cell = int(rng.integers(10, 40))
        texture = ((xx // cell + yy // cell) % 2 - 0.5) * 16
    elif kind == 2:
        coarse = rng.normal(0, 14, (height // 16 + 2, width // 16 + 2)).astype(np.float32)
        blotches = Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)
        texture = np.asarray(blotches)
    else:
        texture = np.zeros((height, width), np.float32)
    shade = np.broadcast_to(ramp - ramp.mean() + texture, (height, width))
    return base + shade[:, :, None]


def render_scene(
    scene: Scene, size: tuple[int, int] = (256, 192), rng: np.random.Generator | None = None
) -> Image.Image:
    """Draw the scene as an RGB photo of the given (width, height) with texture, shading and noise.

    Without an rng the rendering is derived from the scene itself, so the same scene always looks the same.
    """
    if rng is None:
        rng = np.random.default_rng(zlib.crc32(repr(scene).encode()))
    width, height = size
    backdrop = textured_background(scene.background, width, height, rng)
    canvas = Image.fromarray(np.clip(backdrop, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    for obj in scene.objects:
        cx, cy = obj.x * width, obj.y * height
        r = float(rng.uniform(*_RADIUS[obj.size])) * height
        # Slightly different shades of each colour, as in photographs.
        shade = np.clip(np.array(COLOURS[obj.colour]) + rng.integers(-14, 15, 3), 0, 255)
        fill = tuple(int(c) for c in shade)
        if obj.shape == "circle":
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
        elif obj.shape == "ring":
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=fill, width=max(2, round(r * 0.4)))
        else:
            draw.polygon(_outline(obj, cx, cy, r), fill=fill)
    pixels = np.asarray(canvas, dtype=np.float32)
    pixels += rng.standard_normal(pixels.shape, dtype=np.float32) * float(rng.uniform(2, 8))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _file_name(scene: Scene, number: int, suffix: str) -> str:
    """What the picture shows, as a person would name the file: `two-blue-stars-and-red-circle-0141.jpg` (a name
    that left out the red circle would make a right answer to "a red circle" look wrong)."""
    phrases = [
        _phrase(members, with_size=False).removeprefix("a ").removeprefix("an ") for members in group(scene.objects)
    ]
    return "-and-".join(phrase.replace(" ", "-") for phrase in phrases) + f"-{number:04d}{suffix}"


def generate_library(
    out_dir: Path, count: int, seed: int = 0, size: tuple[int, int] = (320, 240)
) -> list[tuple[Path, Scene]]:
    """Write a sample photo library of `count` scenes under out_dir, with captions.jsonl beside it.

    Images are mostly JPEG with some PNG, spread over a few nested folders, and are the same for a seed.
    Returns each image's path with its scene.
    """
    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    folders = ["set-a", "set-b", "set-b/more", "set-c"]
    written: list[tuple[Path, Scene]] = []
    records: list[str] = []
    for number in range(1, count + 1):
        scene = random_scene(rng)
        image = render_scene(scene, size, rng)
        suffix = ".png" if rng.random() < 0.15 else ".jpg"
        relative = Path(folders[int(rng.integers(len(folders)))]) / _file_name(scene, number, suffix)
        path = out_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".jpg":
            image.save(path, quality=int(rng.integers(80, 96)))
        else:
            image.save(path)
        written.append((path, scene))
        record = {"file": relative.as_posix(), "caption": scene.caption}
        records.append(json.dumps(record | {"objects": [asdict(o) for o in scene.objects]}))
    (out_dir / "captions.jsonl").write_text("\n".join(records) + "\n", encoding="utf-8")
    return written
