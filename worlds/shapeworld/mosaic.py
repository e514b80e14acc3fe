"""A fourth renderer of coloured shapes, laid in tiles or beads, for evaluating `test:shapes` on pictures whose
style was not known when the training renderer was chosen.

It shares no code with the training renderers (`synthetic`, `varied`: Pillow polygons), nor with `heldout`
(signed-distance fields) or `sketch` (pen strokes and crayon): the picture is a grid of cells, like a mosaic,
a cross-stitch or a pegboard. A cell takes the object's colour where most of it lies inside the shape (the
shapes are point-membership tests of their own, sampled a few times per cell), else one of the ground's
colours; every cell has its own shade, and cells are square tiles separated by grout, or round beads on a
board. The grid is coarse (ten to sixteen cells across the object), so edges are stepped, and the whole
panel is sometimes seen at a slant.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from shapeworld.pair_library import aspect_frame, write_pair_library

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "ring", "cross")

# Glazed tiles: a fourth designer's shade of each colour word (neither training's, heldout's nor sketch's).
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 60),
    "green": (30, 150, 90),
    "blue": (40, 110, 210),
    "yellow": (250, 215, 50),
    "orange": (250, 140, 40),
    "purple": (140, 70, 170),
    "white": (245, 245, 240),
    "black": (20, 22, 26),
}
PAIRS: list[tuple[str, str]] = [(colour, shape) for colour in COLOURS for shape in SHAPES]
_MIN_CONTRAST = 110.0  # RGB distance between the object's tiles and every ground tile colour
_SAMPLES = 4  # membership samples per cell side: a cell is the object's when most of its samples are inside


def inside(shape: str, x: np.ndarray, y: np.ndarray, r: float) -> np.ndarray:
    """Whether each point (x, y), relative to the shape's centre, lies in a shape of size r (y points down)."""
    rho, theta = np.hypot(x, y), np.arctan2(y, x)
    if shape == "circle":
        return rho <= r
    if shape == "ring":
        return (rho <= r) & (rho >= 0.62 * r)
    if shape == "square":
        return np.maximum(np.abs(x), np.abs(y)) <= 0.74 * r
    if shape == "triangle":
        # Three half-planes of an equilateral triangle, apex up, its centroid a little below the centre.
        y = y - 0.12 * r
        normals = [(0.0, 1.0), (math.cos(math.radians(-30)), math.sin(math.radians(-30))),
                   (-math.cos(math.radians(-30)), math.sin(math.radians(-30)))]  # fmt: skip
        return np.all([nx * x + ny * y <= 0.5 * r for nx, ny in normals], axis=0)
    if shape == "star":
        # Five points, one up: the edge's radius runs straight between point and notch in polar terms,
        # which draws a star with slightly curved sides, as beads do.
        sector = np.mod(theta + math.pi / 2, 2 * math.pi / 5) / (2 * math.pi / 5)  # 0 at a point, 0.5 at a notch
        edge = r - (r - 0.42 * r) * (1 - np.abs(1 - 2 * sector))
        return rho <= edge
    if shape == "cross":
        arm, reach = 0.3 * r, 0.92 * r
        ax, ay = np.abs(x), np.abs(y)
        return ((ax <= arm) & (ay <= reach)) | ((ay <= arm) & (ax <= reach))
    raise ValueError(f"unknown shape: {shape!r}")


def _ground_colours(ink: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """One to three tile colours for the ground, each far from the object's colour."""
    colours: list[np.ndarray] = []
    wanted = int(rng.integers(1, 4))
    for _ in range(300):
        pick = rng.uniform(0, 255, 3).astype(np.float32)
        if rng.random() < 0.3:  # a pale or a dark ground, as most mosaics have
            pick = np.full(3, rng.choice([rng.uniform(200, 245), rng.uniform(20, 70)]), np.float32)
        if np.linalg.norm(pick - ink) > _MIN_CONTRAST:
            colours.append(pick)
        if len(colours) == wanted:
            break
    return colours or [np.float32(255) - ink]


def render(colour: str, shape: str, rng: np.random.Generator, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """One object of this colour and shape laid in tiles or beads, at a random place and angle."""
    width, height = size
    ink = np.array(COLOURS[colour], np.float32) + rng.uniform(-10, 10, 3).astype(np.float32)
    short = min(width, height)
    r = float(rng.uniform(0.2, 0.32)) * short
    cell = 2 * r / float(rng.uniform(10, 16))
    # Inside the centre square that search-time preprocessing keeps.
    cx = width / 2 + float(rng.uniform(-1, 1)) * max(short / 2 - r * 1.05, 0)
    cy = height / 2 + float(rng.uniform(-1, 1)) * max(short / 2 - r * 1.05, 0)
    angle = float(rng.uniform(-math.pi, math.pi))
    columns, rows = math.ceil(width / cell) + 1, math.ceil(height / cell) + 1
    offset = rng.uniform(0, cell, 2)
    # Sample points inside every cell, rotated into the shape's frame.
    sub = (np.arange(_SAMPLES) + 0.5) / _SAMPLES * cell
    px = offset[0] - cell + np.arange(columns)[None, :, None, None] * cell + sub[None, None, None, :] - cx
    py = offset[1] - cell + np.arange(rows)[:, None, None, None] * cell + sub[None, None, :, None] - cy
    px, py = np.broadcast_arrays(px, py)
    c, s = math.cos(angle), math.sin(angle)
    share = inside(shape, c * px + s * py, -s * px + c * py, r).mean(axis=(2, 3))
    grounds = _ground_colours(ink, rng)
    pattern = int(rng.integers(3))  # the ground: one colour at random per cell, bands, or a checkerboard
    row_index, column_index = np.mgrid[0:rows, 0:columns]
    if pattern == 0:
        which = rng.integers(len(grounds), size=(rows, columns))
    elif pattern == 1:
        which = (row_index // int(rng.integers(2, 5))) % len(grounds)
    else:
        which = (row_index + column_index) % len(grounds)
    tiles = np.stack(grounds)[which]
    tiles = np.where((share > 0.5)[..., None], ink, tiles)
    tiles = np.clip(tiles + rng.normal(0, float(rng.uniform(4, 14)), (rows, columns, 1)), 0, 255)
    grout = tuple(int(v) for v in (rng.uniform(170, 235) if rng.random() < 0.6 else rng.uniform(15, 60)) * np.ones(3))
    panel = Image.new("RGB", (width, height), grout)
    draw = ImageDraw.Draw(panel)
    beads = rng.random() < 0.4
    gap = float(rng.uniform(0.06, 0.18)) * cell
    for row in range(rows):
        for column in range(columns):
            left = offset[0] - cell + column * cell + gap / 2
            top = offset[1] - cell + row * cell + gap / 2
            box = (left, top, left + cell - gap, top + cell - gap)
            fill = tuple(int(v) for v in tiles[row, column])
            (draw.ellipse if beads else draw.rectangle)(box, fill=fill)
    if rng.random() < 0.4:  # the panel seen at a slant: one side nearer than the other
        panel = _slant(panel, rng)
    panel = panel.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 0.8))))
    pixels = np.asarray(panel, np.float32)
    # Light falling across the panel.
    gradient = np.linspace(-1, 1, width)[None, :] * float(rng.uniform(-12, 12))
    return Image.fromarray(np.clip(pixels + gradient[..., None], 0, 255).astype(np.uint8))


def _slant(panel: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The panel in perspective: its top or bottom edge pulled in by up to a tenth of the width."""
    width, height = panel.size
    pull = float(rng.uniform(0.03, 0.1)) * width
    top_in, bottom_in = (pull, 0.0) if rng.random() < 0.5 else (0.0, pull)
    # Quad corners in the source (upper-left, lower-left, lower-right, upper-right) seen as the full frame.
    quad = (-top_in, 0, -bottom_in, height, width + bottom_in, height, width + top_in, 0)
    wall = panel.getpixel((0, 0))  # what shows beside the narrowed edge: more grout, not a black wedge
    return panel.transform(panel.size, Image.Transform.QUAD, quad, Image.Resampling.BILINEAR, fillcolor=wall)


def write_library(out_dir: Path, per_pair: int, seed: int) -> dict[Path, tuple[str, str]]:
    """`per_pair` JPEG pictures of every (colour, shape) pair under out_dir, with captions.jsonl beside them.

    Frames take a random aspect from 2:3 to 3:2. Returns each picture's resolved path with its (colour, shape).
    """
    return write_pair_library(out_dir, per_pair, seed, PAIRS, render, aspect_frame(1.5, (220, 300)))
