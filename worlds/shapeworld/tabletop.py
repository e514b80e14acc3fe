"""A fifth renderer of coloured shapes, photographed on a table, for evaluating `test:shapes` on pictures whose
style nobody chose the training against: it was written apart from the training recipe, as its fully held-out
test.

It shares no code with the training renderers (`synthetic`, `varied`), `heldout` (signed-distance fields),
`sketch` (pen strokes, crayon) or `mosaic` (tiles, beads). The object is a thick cut-out piece, like a
painted wooden or plastic game token, lying on a surface: wood grain, woven fabric or concrete. Its top face
is bevelled and lit from one side (a height map from the blurred outline, shaded by its normals, with a
glossy highlight along the lit edge and a broad light falloff), its side shows below it in a darker shade,
and it casts a soft shadow away from the light. The table is then seen at a slant through a camera: a true
perspective (far side narrower and flatter), a shallow depth of field that blurs the table away from the
object, vignetting, a slight white-balance tint and sensor noise. Every colour word has its own paint here.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from shapeworld.pair_library import write_pair_library

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "ring", "cross")

# Painted tokens: a fifth designer's shade of each colour word (none of the other renderers' values).
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (204, 26, 30),
    "green": (34, 138, 58),
    "blue": (30, 86, 190),
    "yellow": (244, 200, 28),
    "orange": (236, 116, 22),
    "purple": (118, 52, 156),
    "white": (240, 240, 234),
    "black": (26, 26, 30),
}
PAIRS: list[tuple[str, str]] = [(colour, shape) for colour in COLOURS for shape in SHAPES]
# Table tones by surface: light and dark woods, fabrics and concretes, so every paint has a ground far from it.
SURFACES: dict[str, list[tuple[int, int, int]]] = {
    "wood": [(200, 164, 116), (226, 206, 168), (96, 62, 40), (150, 142, 130)],
    "fabric": [(210, 200, 180), (58, 78, 110), (62, 62, 66), (138, 154, 128)],
    "concrete": [(182, 180, 174), (100, 100, 98), (150, 156, 160)],
}
_MIN_CONTRAST = 140.0  # RGB distance between the paint and the table's tone
_SUPERSAMPLE = 4  # the outline is drawn this many times finer, then averaged: an anti-aliased edge


def outline(shape: str, r: float) -> list[list[tuple[float, float]]]:
    """The piece's outline as polygons centred on the origin, y down, size r (a ring's second one is its hole)."""

    def polar(radii: list[float], start: float) -> list[tuple[float, float]]:
        step = 2 * math.pi / len(radii)
        return [(q * math.cos(start + i * step), q * math.sin(start + i * step)) for i, q in enumerate(radii)]

    if shape == "circle":
        return [polar([r] * 72, 0)]
    if shape == "ring":
        return [polar([r] * 72, 0), polar([0.56 * r] * 72, 0)]
    if shape == "square":
        return [polar([0.78 * r * math.sqrt(2)] * 4, math.pi / 4)]
    if shape == "triangle":  # equilateral, apex up, its centroid a little below the centre so it fills the box
        return [[(x, y + 0.1 * r) for x, y in polar([1.08 * r] * 3, -math.pi / 2)]]
    if shape == "star":
        return [polar([r, 0.4 * r] * 5, -math.pi / 2)]
    if shape == "cross":  # a plus sign: two bars of equal length and width
        a, b = 0.3 * r, 0.95 * r
        return [[(-a, -b), (a, -b), (a, -a), (b, -a), (b, a), (a, a), (a, b), (-a, b), (-a, a), (-b, a), (-b, -a),
                 (-a, -a)]]  # fmt: skip
    raise ValueError(f"unknown shape: {shape!r}")


def _mask(shape: str, r: float, centre: tuple[float, float], angle: float, size: tuple[int, int]) -> np.ndarray:
    """Coverage (0..1) of the piece's top face on a canvas of this size."""
    c, s, k = math.cos(angle), math.sin(angle), _SUPERSAMPLE
    fine = Image.new("L", (size[0] * k, size[1] * k), 0)
    draw = ImageDraw.Draw(fine)
    for number, polygon in enumerate(outline(shape, r)):
        points = [((centre[0] + c * x - s * y) * k, (centre[1] + s * x + c * y) * k) for x, y in polygon]
        draw.polygon(points, fill=0 if number else 255)
    return np.asarray(fine.resize(size, Image.Resampling.BOX), np.float32) / 255


def _blur(values: np.ndarray, sigma: float) -> np.ndarray:
    """A float map blurred by a Gaussian, one axis after the other, in floats (Pillow would round to 8 bits)."""
    taps = np.arange(-math.ceil(3 * sigma), math.ceil(3 * sigma) + 1)
    kernel = np.exp(-0.5 * (taps / sigma) ** 2)
    kernel /= kernel.sum()
    out = values.astype(np.float32)
    for _ in range(2):  # down the columns, then (transposed) along the rows; two transposes restore the map
        padded = np.pad(out, ((len(taps) // 2, len(taps) // 2), (0, 0)), mode="edge")
        out = sum((w * padded[i : i + len(out)] for i, w in enumerate(kernel)), np.zeros_like(out)).T
    return out


def _octaves(height: int, width: int, rng: np.random.Generator, coarsest: int, count: int) -> np.ndarray:
    """Fractal noise around 0: random grids from `coarsest` cells across up, enlarged bicubically and summed."""
    total = np.zeros((height, width), np.float32)
    for octave in range(count):
        cells = coarsest * 2**octave
        grid = Image.fromarray(rng.normal(0, 1, (cells, cells)).astype(np.float32), "F")
        total += np.asarray(grid.resize((width, height), Image.Resampling.BICUBIC)) / 1.7**octave
    return total


def _table(kind: str, tone: np.ndarray, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """The surface's picture in RGB, around `tone`."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    if kind == "wood":  # growth rings bent by knots, with fine pores running along the board
        lengthwise = rng.random() < 0.5
        along, across = (xx, yy) if lengthwise else (yy, xx)
        bend = _octaves(height, width, rng, 2, 1) * float(rng.uniform(8, 24))  # slow: a board's grain is long
        phase = (across + bend + 0.02 * along) / float(rng.uniform(7, 16))
        uneven = rng.normal(0, 0.6, 12)  # rings of uneven width: a slow drift of phase across the board only
        phase += np.interp(across, np.linspace(0, float(across.max()), 12), uneven)
        rings = (phase - np.floor(phase)) ** 3  # pale early wood darkening sharply into each late-wood line
        streaks = rng.normal(0, 1, (height, max(2, width // 12)) if lengthwise else (max(2, height // 12), width))
        pores = np.asarray(Image.fromarray(streaks.astype(np.float32), "F").resize((width, height)))
        shade = 1.06 - 0.3 * rings + 0.06 * pores + 0.04 * _octaves(height, width, rng, 3, 2)
    elif kind == "fabric":  # a plain weave: threads over and under in turn, each a little uneven
        pitch = float(rng.uniform(2.5, 5))
        warp, weft = np.abs(np.sin(math.pi * xx / pitch)), np.abs(np.sin(math.pi * yy / pitch))
        over = ((xx // pitch + yy // pitch) % 2).astype(bool)
        threads = np.where(over, warp, weft)
        uneven = rng.normal(0, 0.04, width)[None, :] + rng.normal(0, 0.04, height)[:, None]
        shade = 0.86 + 0.14 * threads + uneven + 0.05 * _octaves(height, width, rng, 4, 2)
    else:  # concrete: mottled, with small dark pores
        pores = (rng.random((height, width)) < 0.004).astype(np.float32)
        shade = 1 + 0.06 * _octaves(height, width, rng, 3, 4) - 0.35 * _blur(pores, 0.7) * 4
        shade += rng.normal(0, 0.03, (height, width))
    return tone * np.clip(shade, 0.4, 1.4)[..., None]


def _perspective(size: tuple[int, int], plane: tuple[int, int], inset: float) -> tuple[float, ...]:
    """PERSPECTIVE coefficients mapping the photo's corners to the table's: the near (bottom) edge `inset` in on
    each side, the far (top) edge the table's full width, so the far side looks smaller and flatter."""
    (w, h), (pw, ph) = size, plane
    photo = [(0, 0), (w, 0), (w, h), (0, h)]
    table = [(0, 0), (pw, 0), (pw - inset, ph), (inset, ph)]
    rows, rhs = [], []
    for (x, y), (u, v) in zip(photo, table, strict=True):
        rows += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
        rhs += [u, v]
    return tuple(float(v) for v in np.linalg.solve(np.array(rows, np.float64), np.array(rhs, np.float64)))


def _to_table(coefficients: tuple[float, ...], x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f, g, h = coefficients
    return (a * x + b * y + c) / (g * x + h * y + 1), (d * x + e * y + f) / (g * x + h * y + 1)


def render(colour: str, shape: str, rng: np.random.Generator, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """One cut-out piece of this colour and shape lying on a table, photographed at a slant."""
    width, height = size
    # A little lighter or darker, but the same hue: a white piece tinted per channel would read as pink or cyan.
    paint = np.array(COLOURS[colour], np.float32) * float(rng.uniform(0.92, 1.04)) + rng.uniform(-5, 5, 3)
    short = min(width, height)
    r_photo = float(rng.uniform(0.17, 0.3)) * short
    # Inside the centre square that search-time preprocessing keeps.
    ox = width / 2 + float(rng.uniform(-1, 1)) * max(short / 2 - r_photo * 1.2, 0)
    oy = height / 2 + float(rng.uniform(-1, 1)) * max(short / 2 - r_photo * 1.2, 0)
    # The table: wider than the photo by the far edge's spread, taller by the foreshortening.
    inset = float(rng.uniform(0, 0.18)) * width
    # The table's depth is set so that at the near edge it is foreshortened a little more than it is narrowed
    # (a table seen from above and in front; further away both grow): scaling its depth scales that ratio.
    first = _perspective(size, (int(width + 2 * inset), height), inset)
    near = _to_table(first, width / 2, height)[1] - _to_table(first, width / 2, height - 1)[1]
    plane = (int(width + 2 * inset), int(height * float(rng.uniform(1.0, 1.2)) / near))
    coefficients = _perspective(size, plane, inset)
    cx, cy = _to_table(coefficients, ox, oy)
    right, _ = _to_table(coefficients, ox + 1, oy)
    r = r_photo * (right - cx)  # table pixels per photo pixel at the object
    turn = {"circle": math.pi, "ring": math.pi, "square": 0.3, "triangle": 0.35, "star": 0.3, "cross": 0.3}[shape]
    top = _mask(shape, r, (cx, cy), float(rng.uniform(-turn, turn)), plane)
    # Light from one side, some way above the table.
    azimuth, elevation = float(rng.uniform(0, 2 * math.pi)), float(rng.uniform(0.5, 1.0))
    light = np.array([math.cos(azimuth) * math.cos(elevation), math.sin(azimuth) * math.cos(elevation),
                      math.sin(elevation)], np.float32)  # fmt: skip
    # The side: the top face pushed down towards the camera, seen below it; the shadow: the piece moved away.
    thickness = max(1, int(r * rng.uniform(0.07, 0.14)))
    body = top.copy()
    for step in range(1, thickness + 1):
        body[step:] = np.maximum(body[step:], top[:-step])
    side = np.clip(body - top, 0, 1)
    reach = thickness + r * float(rng.uniform(0.05, 0.15)) / math.tan(elevation)
    dx, dy = round(-math.cos(azimuth) * reach), round(-math.sin(azimuth) * reach)
    m = max(abs(dx), abs(dy))  # the piece moved by (dx, dy), nothing wrapping round the edges
    cast = np.pad(body, m)[m - dy : m - dy + plane[1], m - dx : m - dx + plane[0]]
    shadow = _blur(cast, r * float(rng.uniform(0.05, 0.14)))
    # The top face's bevel: a height map from the blurred outline; its slopes catch or lose the light.
    relief = _blur(top, max(1.0, r * float(rng.uniform(0.05, 0.1))))
    gy, gx = np.gradient(relief)
    normal = np.stack([-gx * r / 4, -gy * r / 4, np.ones_like(gx)], axis=-1)  # steeper on a larger piece
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    lambert = np.clip(normal @ light, 0, 1) / light[2]
    halfway = (light + np.array([0, 0, 1], np.float32)) / np.linalg.norm(light + np.array([0, 0, 1], np.float32))
    gloss = float(rng.uniform(0.1, 0.5)) * np.clip(normal @ halfway, 0, 1) ** 60
    yy, xx = np.mgrid[0 : plane[1], 0 : plane[0]].astype(np.float32)
    falloff = 1 + 0.1 * ((xx - cx) * light[0] + (yy - cy) * light[1]) / r
    face = paint * np.clip(0.35 + 0.65 * lambert * falloff, 0.6, 1.15)[..., None] + 255 * gloss[..., None]
    wall = paint * float(rng.uniform(0.5, 0.7))
    # The table's surface and tone, far from the paint.
    choices = [(kind, tone) for kind, tones in SURFACES.items() for tone in tones
               if np.linalg.norm(np.array(tone, np.float32) - paint) > _MIN_CONTRAST]  # fmt: skip
    kind, tone = choices[int(rng.integers(len(choices)))]
    ground = _table(kind, np.array(tone, np.float32) * rng.uniform(0.94, 1.06, 3), plane[1], plane[0], rng)
    ground *= (1 + 0.12 * (xx * light[0] + yy * light[1]) / max(plane))[..., None]
    ground *= 1 - float(rng.uniform(0.4, 0.65)) * shadow[..., None]
    scene = ground * (1 - body[..., None]) + wall * side[..., None] + face * top[..., None]
    table = Image.fromarray(np.clip(scene, 0, 255).astype(np.uint8))
    photo = table.transform(size, Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BICUBIC)
    # Shallow depth of field: sharp at the object's distance, blurring towards the far and near ends.
    far = np.asarray(photo.filter(ImageFilter.GaussianBlur(float(rng.uniform(1.5, 4)))), np.float32)
    focus = np.clip(np.abs(np.arange(height, dtype=np.float32) - oy) / (height * 0.5) - 0.1, 0, 1)[:, None, None]
    pixels = np.asarray(photo, np.float32) * (1 - focus) + far * focus
    # The camera: vignetting, a white-balance tint and sensor noise.
    py, px = np.mgrid[0:height, 0:width].astype(np.float32)
    corner = ((px / width - 0.5) ** 2 + (py / height - 0.5) ** 2) * 2
    pixels *= (1 - float(rng.uniform(0, 0.3)) * corner)[..., None] * rng.uniform(0.98, 1.02, 3)
    pixels += rng.normal(0, float(rng.uniform(1, 4)), pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def frame(rng: np.random.Generator) -> tuple[int, int]:
    """A photo's size: short side 160 to 400 px, aspect from 2:3 to 3:2."""
    short, aspect = float(rng.uniform(160, 400)), float(rng.uniform(1, 1.5))
    long = int(short * aspect)
    return (long, int(short)) if rng.random() < 0.5 else (int(short), long)


def write_library(out_dir: Path, per_pair: int, seed: int) -> dict[Path, tuple[str, str]]:
    """`per_pair` JPEG pictures of every (colour, shape) pair under out_dir, with captions.jsonl beside them.

    Returns each picture's resolved path with its (colour, shape).
    """
    return write_pair_library(out_dir, per_pair, seed, PAIRS, render, frame)
