"""A third renderer of coloured shapes, drawn as by hand, for evaluating `test:shapes` on pictures it never saw.

It shares no code with the training renderers (`synthetic`, `varied`: Pillow polygons) nor with `heldout`
(signed-distance fields). Each outline is a path of points with a low-frequency wobble and a little jitter,
drawn with a thick round pen (numpy distance to each stroke segment), often overshooting where it closes;
the inside is coloured like crayon: streaks along one hand direction that leave gaps of paper, and seldom
reach the outline exactly. Paper is white, cream, grey, kraft, lined or squared, with fibres and grain. Every
colour word has its own crayon shade here, and frames take any aspect.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from shapeworld.pair_library import aspect_frame, write_pair_library

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "ring", "cross")

# A box of crayons: a third designer's shade of each colour word (neither the training's nor heldout's).
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (208, 40, 36),
    "green": (40, 132, 64),
    "blue": (36, 72, 176),
    "yellow": (244, 208, 24),
    "orange": (244, 128, 20),
    "purple": (124, 60, 150),
    "white": (248, 248, 248),
    "black": (24, 24, 28),
}
PAIRS: list[tuple[str, str]] = [(colour, shape) for colour in COLOURS for shape in SHAPES]
_MIN_CONTRAST = 100.0  # RGB distance between the crayon and the paper it is drawn on

Points = list[tuple[float, float]]


def _corners(shape: str, r: float) -> list[Points]:
    """The shape's outlines as closed polygons centred on the origin (a ring has two), before any wobble."""
    if shape in ("circle", "ring"):
        count = 40
        outer = [(r * math.cos(2 * math.pi * i / count), r * math.sin(2 * math.pi * i / count)) for i in range(count)]
        if shape == "circle":
            return [outer]
        return [outer, [(0.55 * x, 0.55 * y) for x, y in outer]]
    if shape == "square":
        h = r * 0.75
        return [[(-h, -h), (h, -h), (h, h), (-h, h)]]
    if shape == "triangle":
        return [[(r * math.cos(a), r * math.sin(a) + 0.15 * r) for a in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)]]
    if shape == "star":
        return [
            [
                (
                    (r if i % 2 == 0 else 0.45 * r) * math.cos(-math.pi / 2 + math.pi * i / 5),
                    (r if i % 2 == 0 else 0.45 * r) * math.sin(-math.pi / 2 + math.pi * i / 5),
                )
                for i in range(10)
            ]
        ]
    if shape == "cross":
        a, b = r * 0.3, r * 0.95  # half the arms' width, and their reach
        quarter = [(-a, -b), (a, -b), (a, -a)]  # one arm's end and the inner corner after it
        return [[(x * c - y * s, x * s + y * c) for c, s in ((1, 0), (0, 1), (-1, 0), (0, -1)) for x, y in quarter]]
    raise ValueError(f"unknown shape: {shape!r}")


def _hand_path(polygon: Points, r: float, rng: np.random.Generator) -> np.ndarray:
    """The polygon walked by an unsteady hand: edges cut into short steps, a slow wobble plus small jitter."""
    points = np.array(polygon + polygon[:1], np.float64)
    steps = []
    for start, end in itertools.pairwise(points):
        count = max(2, int(np.linalg.norm(end - start) / 4))
        steps.append(start + (end - start) * np.linspace(0, 1, count, endpoint=False)[:, None])
    path = np.concatenate([*steps, points[-1:]])
    phase, frequency = rng.uniform(0, 2 * math.pi, 2), rng.uniform(1.5, 3.5, 2)
    t = np.linspace(0, 2 * math.pi, len(path))[:, None]
    path = path + 0.05 * r * np.sin(frequency * t + phase) + rng.normal(0, 0.008 * r, path.shape)
    # The pen seldom stops where it started: it overshoots the start or falls a little short.
    overshoot = int(rng.integers(-2, 6))
    return np.concatenate([path, path[1 : 1 + overshoot]]) if overshoot > 0 else path[: len(path) + overshoot]


def _pen(height: int, width: int, path: np.ndarray, thickness: float) -> np.ndarray:
    """Coverage (0..1) of a round pen of this thickness moved along the path, with a soft edge."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    distance = np.full((height, width), np.inf, np.float32)
    for (ax, ay), (bx, by) in itertools.pairwise(path):
        left, right = int(min(ax, bx) - thickness - 2), int(max(ax, bx) + thickness + 3)
        top, bottom = int(min(ay, by) - thickness - 2), int(max(ay, by) + thickness + 3)
        left, top, right, bottom = max(left, 0), max(top, 0), min(right, width), min(bottom, height)
        if left >= right or top >= bottom:
            continue
        px, py = xx[top:bottom, left:right] - ax, yy[top:bottom, left:right] - ay
        dx, dy = bx - ax, by - ay
        along = np.clip((px * dx + py * dy) / max(dx * dx + dy * dy, 1e-6), 0, 1)
        segment = np.hypot(px - along * dx, py - along * dy)
        distance[top:bottom, left:right] = np.minimum(distance[top:bottom, left:right], segment)
    return np.clip(thickness / 2 + 0.5 - distance, 0, 1)


def _streaks(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A crayon's grain: noise stretched along one stroke direction, in 0..1."""
    noise = rng.random((height // 2 + 2, width // 8 + 2)).astype(np.float32)
    grain = Image.fromarray(noise).resize((width * 2, height * 2), Image.Resampling.BILINEAR)
    grain = grain.rotate(float(rng.uniform(0, 180)), resample=Image.Resampling.BILINEAR, expand=False)
    left, top = width // 2, height // 2
    return np.asarray(grain.crop((left, top, left + width, top + height)), np.float32)


def _paper(height: int, width: int, ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A sheet the crayon shows on: a paper tone with grain and fibres, sometimes ruled or squared."""
    tones = [
        (246, 244, 236),  # white
        (240, 230, 200),  # cream
        (200, 198, 192),  # grey card
        (186, 150, 106),  # kraft
        (56, 64, 60),  # slate, for white crayon
        (30, 40, 70),  # navy card
    ]
    usable = [tone for tone in tones if np.linalg.norm(np.array(tone, np.float32) - ink) > _MIN_CONTRAST]
    tone = np.array(usable[int(rng.integers(len(usable)))], np.float32) + rng.uniform(-8, 8, 3)
    sheet = np.broadcast_to(tone, (height, width, 3)).copy()
    sheet += rng.normal(0, 3, (height, width, 1))  # grain
    fibres = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(fibres)
    for _ in range(int(rng.integers(10, 40))):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        angle, length = rng.uniform(0, math.pi), rng.uniform(3, 12)
        draw.line((x, y, x + length * math.cos(angle), y + length * math.sin(angle)), fill=int(rng.integers(20, 60)))
    sheet -= np.asarray(fibres, np.float32)[..., None] * 0.3
    kind = int(rng.integers(3))
    if kind:  # ruled (1) or squared (2) in a faint blue
        gap = int(rng.integers(14, 26))
        lines = np.zeros((height, width), bool)
        lines[int(rng.integers(gap)) :: gap, :] = True
        if kind == 2:
            lines[:, int(rng.integers(gap)) :: gap] = True
        sheet[lines] = sheet[lines] * 0.8 + np.array((110, 150, 210), np.float32) * 0.2
    return sheet


def render(colour: str, shape: str, rng: np.random.Generator, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """One hand-drawn object of this colour and shape, filled like crayon, at a random place and angle."""
    width, height = size
    ink = np.array(COLOURS[colour], np.float32) + rng.uniform(-12, 12, 3).astype(np.float32)
    short = min(width, height)
    r = float(rng.uniform(0.18, 0.32)) * short
    # Inside the centre square that search-time preprocessing keeps, give or take a little.
    cx = width / 2 + float(rng.uniform(-1, 1)) * max(short / 2 - r * 1.1, 0)
    cy = height / 2 + float(rng.uniform(-1, 1)) * max(short / 2 - r * 1.1, 0)
    angle = float(rng.uniform(-0.5, 0.5)) if shape != "star" else float(rng.uniform(-0.3, 0.3))
    c, s = math.cos(angle), math.sin(angle)
    squash = float(rng.uniform(0.9, 1.1))
    outlines = [
        [(cx + c * x * squash - s * y, cy + s * x * squash + c * y) for x, y in polygon]
        for polygon in _corners(shape, r)
    ]
    # The inside, from the exact outlines: the outer one filled, any inner one (the ring's hole) left out.
    region = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(region)
    for number, polygon in enumerate(outlines):
        draw.polygon(polygon, fill=0 if number else 255)
    # The crayon stops a little short of the line, or runs over it.
    margin = int(rng.integers(0, 3)) * 2 + 1
    region = region.filter(ImageFilter.MinFilter(margin) if rng.random() < 0.7 else ImageFilter.MaxFilter(margin))
    inside = np.asarray(region, np.float32) / 255
    pressure = float(rng.uniform(0.35, 0.6))  # how much paper the crayon leaves showing
    fill = inside * np.clip((_streaks(height, width, rng) - pressure) * 4 + 0.6, 0, 1)
    thickness = float(rng.uniform(0.05, 0.09)) * r + 2
    line = np.zeros((height, width), np.float32)
    for polygon in outlines:
        line = np.maximum(line, _pen(height, width, _hand_path(polygon, r, rng), thickness))
    coverage = np.maximum(fill * float(rng.uniform(0.75, 1.0)), line)[..., None]
    sheet = _paper(height, width, ink, rng)
    pixels = sheet * (1 - coverage) + ink * coverage
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def write_library(out_dir: Path, per_pair: int, seed: int) -> dict[Path, tuple[str, str]]:
    """`per_pair` JPEG pictures of every (colour, shape) pair under out_dir, with captions.jsonl beside them.

    Frames take a random aspect from 1:2 to 2:1. Returns each picture's resolved path with its (colour, shape).
    """
    return write_pair_library(out_dir, per_pair, seed, PAIRS, render, aspect_frame(2.0, (200, 320)))
