"""A second, independent renderer of coloured shapes, for evaluating `test:shapes` on pictures it never saw.

The training renderers (`synthetic`, `varied`) draw Pillow polygons. This one shares no drawing code with
them: shapes are signed-distance fields rasterised with numpy (anti-aliased by their distance to the edge),
with their own proportions (rounded squares, fatter stars), their own shade of every colour
and their own backgrounds (two-tone splits, radial gradients, value noise, warped stripes, saturated fills).
The semantic tests and the model card measure the model on these pictures and on the web tests' library.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from shapeworld.pair_library import write_pair_library

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "ring", "cross")

# Deliberately not the training palette's values: another designer's idea of each colour word.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (196, 22, 48),
    "green": (62, 148, 38),
    "blue": (22, 94, 196),
    "yellow": (252, 226, 64),
    "orange": (236, 112, 34),
    "purple": (112, 48, 158),
    "white": (252, 250, 244),
    "black": (34, 30, 32),
}
PAIRS: list[tuple[str, str]] = [(colour, shape) for colour in COLOURS for shape in SHAPES]
_MIN_CONTRAST = 90.0  # RGB distance between an object's colour and the mean of the ground under it


def _rotate(x: np.ndarray, y: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    c, s = math.cos(angle), math.sin(angle)
    return c * x + s * y, -s * x + c * y


def _box(x: np.ndarray, y: np.ndarray, half_w: float, half_h: float) -> np.ndarray:
    dx, dy = np.abs(x) - half_w, np.abs(y) - half_h
    outside = np.hypot(np.maximum(dx, 0), np.maximum(dy, 0))
    return outside + np.minimum(np.maximum(dx, dy), 0)


def _triangle(x: np.ndarray, y: np.ndarray, r: float) -> np.ndarray:
    """Equilateral triangle of circumradius r, apex up (Inigo Quilez's exact distance)."""
    k = math.sqrt(3.0)
    half_side = r * k / 2
    px, py = np.abs(x) - half_side, -y + half_side / k
    fold = px + k * py > 0
    px, py = np.where(fold, (px - k * py) / 2, px), np.where(fold, (-k * px - py) / 2, py)
    px = px - np.clip(px, -2 * half_side, 0)
    return -np.hypot(px, py) * np.sign(py)


def _star(x: np.ndarray, y: np.ndarray, r: float, inner: float = 0.5) -> np.ndarray:
    """Five-pointed star of outer radius r (Inigo Quilez's sdStar5), point up."""
    k1x, k1y = 0.809016994375, -0.587785252292
    px, py = np.abs(x), -y
    for kx, ky in ((k1x, k1y), (-k1x, k1y)):
        dot = np.maximum(kx * px + ky * py, 0)
        px, py = px - 2 * dot * kx, py - 2 * dot * ky
    px, py = np.abs(px), py - r
    bax, bay = inner * -k1y, inner * k1x - 1
    h = np.clip((px * bax + py * bay) / (bax * bax + bay * bay), 0, r)
    return np.hypot(px - bax * h, py - bay * h) * np.sign(py * bax - px * bay)


def shape_distance(shape: str, x: np.ndarray, y: np.ndarray, r: float) -> np.ndarray:
    """Signed distance (negative inside) to a shape of size r centred on the origin."""
    if shape == "circle":
        return np.hypot(x, y) - r
    if shape == "ring":
        return np.abs(np.hypot(x, y) - r * 0.8) - r * 0.2
    if shape == "square":
        corner = r * 0.12
        return _box(x, y, r * 0.72 - corner, r * 0.72 - corner) - corner
    if shape == "triangle":
        return _triangle(x, y * 1.0 - r * 0.15, r * 1.1)
    if shape == "star":
        return _star(x, y, r * 1.05)
    if shape == "cross":
        return np.minimum(_box(x, y, r * 0.9, r * 0.26), _box(x, y, r * 0.26, r * 0.9))
    raise ValueError(f"unknown shape: {shape!r}")


def _value_noise(height: int, width: int, rng: np.random.Generator, cells: int) -> np.ndarray:
    coarse = rng.random((cells + 1, cells + 1)).astype(np.float32)
    return np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BILINEAR))


def _ground(height: int, width: int, avoid: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A background of one of several kinds whose colours keep away from the object's colour."""

    def colour() -> np.ndarray:
        for _ in range(100):
            if rng.random() < 0.35:  # another object colour: shapes on saturated grounds
                pick = np.array(list(COLOURS.values())[int(rng.integers(len(COLOURS)))], np.float32)
            else:
                pick = rng.uniform(0, 255, 3).astype(np.float32)
            if np.linalg.norm(pick - avoid) > _MIN_CONTRAST * 1.4:
                return pick
        return 255 - avoid

    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    kind = int(rng.integers(6))
    a, b = colour(), colour()
    if kind == 0:  # pale paper, as photographed documents and the web tests' pictures
        pale = np.full(3, 236.0, np.float32) + rng.uniform(-12, 12, 3)
        a = pale if np.linalg.norm(pale - avoid) > _MIN_CONTRAST else a
        ground = np.broadcast_to(a, (height, width, 3)).copy()
    elif kind == 1:  # two tones split along a random line
        angle = rng.uniform(0, math.pi)
        side = (xx - width / 2) * math.cos(angle) + (yy - height / 2) * math.sin(angle) > rng.uniform(-30, 30)
        ground = np.where(side[..., None], a, b)
    elif kind == 2:  # radial gradient
        t = np.hypot(xx - rng.uniform(0, width), yy - rng.uniform(0, height)) / max(width, height)
        ground = a + (b - a) * np.clip(t, 0, 1)[..., None]
    elif kind == 3:  # value noise between the two colours
        t = _value_noise(height, width, rng, int(rng.integers(3, 12)))
        ground = a + (b - a) * t[..., None]
    elif kind == 4:  # warped stripes, a little like wood grain
        warp = _value_noise(height, width, rng, 4) * 30
        t = 0.5 + 0.5 * np.sin((xx + warp) / rng.uniform(3, 12))
        ground = a + (b - a) * t[..., None] * 0.5
    else:  # one flat colour
        ground = np.broadcast_to(a, (height, width, 3)).copy()
    return ground.astype(np.float32)


def render(colour: str, shape: str, rng: np.random.Generator, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """One object of this colour and shape at a random place, size and angle on a random ground."""
    width, height = size
    fill = np.array(COLOURS[colour], np.float32) + rng.uniform(-10, 10, 3).astype(np.float32)
    short = min(width, height)
    r = float(rng.uniform(0.16, 0.3)) * short
    # Inside the centre square that search-time preprocessing keeps, give or take a little.
    cx = width / 2 + float(rng.uniform(-1, 1)) * max(short / 2 - r, 0)
    cy = height / 2 + float(rng.uniform(-1, 1)) * max(short / 2 - r, 0)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    x, y = _rotate(xx - cx, yy - cy, float(rng.uniform(0, 2 * math.pi)))
    coverage = np.clip(0.5 - shape_distance(shape, x, y, r), 0, 1)[..., None]
    inside = coverage[..., 0] > 0.5
    ground = _ground(height, width, fill, rng)
    for _ in range(20):  # the ground under the object must not hide it
        if np.linalg.norm(ground[inside].mean(axis=0) - fill) > _MIN_CONTRAST:
            break
        ground = _ground(height, width, fill, rng)
    # A soft light from one side, so the object is not one flat colour.
    light = 1 + 0.08 * (x / r) * float(rng.choice([-1, 1]))
    pixels = ground * (1 - coverage) + np.clip(fill * light[..., None], 0, 255) * coverage
    pixels += rng.normal(0, float(rng.uniform(1, 5)), pixels.shape).astype(np.float32)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def write_library(out_dir: Path, per_pair: int, seed: int) -> dict[Path, tuple[str, str]]:
    """`per_pair` JPEG pictures of every (colour, shape) pair under out_dir, with captions.jsonl beside them.

    Frames are landscape, portrait or square. Returns each picture's resolved path with its (colour, shape).
    """
    frames = [(320, 240), (240, 320), (280, 280), (360, 240)]
    return write_pair_library(out_dir, per_pair, seed, PAIRS, render, lambda rng: frames[int(rng.integers(4))])


# The web tests' library (tests/web/conftest.py draws it with these): flat shapes on light backgrounds.
WEB_COLOURS = {"red": (214, 48, 49), "green": (46, 160, 67), "blue": (48, 92, 222), "yellow": (240, 200, 40)}
WEB_SHAPES = ("circle", "square", "triangle")


def web_pictures(count: int = 36) -> list[tuple[str, str, Image.Image]]:
    """The web tests' pictures as (colour, shape, image), every colour and shape in turn; the same each call."""
    rng = random.Random(5)
    pictures = []
    for number in range(count):
        colour = list(WEB_COLOURS)[number % len(WEB_COLOURS)]
        shape = WEB_SHAPES[(number // len(WEB_COLOURS)) % len(WEB_SHAPES)]
        pictures.append((colour, shape, _draw_web_picture(colour, shape, rng)))
    return pictures


def _draw_web_picture(colour: str, shape: str, rng: random.Random) -> Image.Image:
    image = Image.new("RGB", (320, 240), tuple(rng.randint(225, 250) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    size = rng.randint(60, 110)
    left, top = rng.randint(10, 320 - size - 10), rng.randint(10, 240 - size - 10)
    box = (left, top, left + size, top + size)
    if shape == "circle":
        draw.ellipse(box, fill=WEB_COLOURS[colour])
    elif shape == "square":
        draw.rectangle(box, fill=WEB_COLOURS[colour])
    else:
        corners = [(left + size / 2, top), (left + size, top + size), (left, top + size)]
        draw.polygon(corners, fill=WEB_COLOURS[colour])
    return image
