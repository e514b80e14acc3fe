"""Training pictures of coloured shapes with broad rendering variation, so `test:shapes` learns the shapes and
colours rather than one renderer's habits.

`synthetic.render_scene` draws one style (muted backgrounds, fixed proportions, 4:3 frames); a model trained only on
it matched pictures by background and failed on shapes drawn by other code. Here every picture draws its own frame
(aspect ratio and size), background (any colour including the object colours, gradients, noise, textures, stripes,
blurred blotches, small sharp cells of several colours, pale paper; now and then close to the objects' colours),
object proportions, rotation, shading and outline, with or without anti-aliasing, then blur, noise and JPEG at
random strengths. Over half the objects are not solid: drawn by their edge (one to three strokes of varying width,
sometimes wobbly) and left empty, hatched, patchy, faintly tinted or half filled, as drawings, print and signs show
shapes, or built of small elements (dots or squares on a lattice, as halftone print, LED signs, beads and tiles make
them). Some pictures are seen at a very low resolution, blown up cell by cell (`_coarse`), as a thumbnail zoomed in
or pixel art shows them, half of them with grout between the cells, as tiles or beads. The labels keep their
meaning: a circle drawn by its edge is one thin line, a ring is a thick band or its two edges (see `_drawn`).
"""

from __future__ import annotations

import io
import itertools
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from viewfinder.images.synthetic import BACKGROUNDS, COLOURS, SHAPES, ShapeObject, textured_background

_ASPECTS = (4 / 3, 3 / 4, 1.0, 16 / 9, 3 / 2, 2 / 3)
_MIN_CONTRAST = 75.0  # RGB distance kept between an object's colour and its background's colours
_PALETTE = np.array(list(COLOURS.values()), np.float32)
_LOW_CONTRAST = 40.0  # the distance kept instead in a share of pictures: pale, hazy or dark scenes
# How an object is drawn: Pillow's solid fill, by its edge with an empty, hatched, patchy, faint or half fill, or
# as a lattice of small elements.
_STYLES = ("solid", "outline", "hatched", "textured", "tinted", "partial", "elements")
_STYLE_P = (0.4, 0.13, 0.09, 0.09, 0.09, 0.09, 0.11)
_ACROSS = (9, 16)  # elements or low-resolution cells across a shape: fewer and a person could not tell it
_COARSE_P = 0.16  # share of pictures seen at a low resolution (half of them as tiles or beads)
_CIRCLE_STROKE = (0.04, 0.12)  # an outlined circle's (or ring edge's) stroke, as a share of r: thin...
_RING_BAND = (0.2, 0.45)  # ...and a ring's band, as a share of r: thick, so the two never meet


def _contrasting(
    avoid: np.ndarray, rng: np.random.Generator, contrast: float = _MIN_CONTRAST, palette_share: float = 0.3
) -> np.ndarray:
    """A background colour, often one of the object colours, `contrast` away from every colour in `avoid`."""
    for _ in range(200):
        if rng.random() < palette_share:
            pick = _PALETTE[int(rng.integers(len(_PALETTE)))] + rng.normal(0, 10, 3)
        else:
            pick = rng.uniform(0, 255, 3)
        if np.min(np.linalg.norm(avoid - pick, axis=1)) > contrast:
            return np.clip(pick, 0, 255).astype(np.float32)
    return np.full(3, 128, np.float32)


def _noise(height: int, width: int, rng: np.random.Generator, cells: int) -> np.ndarray:
    coarse = rng.random((cells + 1, int(cells * width / height) + 1)).astype(np.float32)
    return np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC))


def background(
    width: int, height: int, avoid: np.ndarray, rng: np.random.Generator, contrast: float = _MIN_CONTRAST
) -> np.ndarray:
    """An (height, width, 3) float background of a random kind whose colours keep `contrast` from `avoid`."""
    a, b = _contrasting(avoid, rng, contrast), _contrasting(avoid, rng, contrast)
    xx = np.arange(width, dtype=np.float32)[None, :] / width
    yy = np.arange(height, dtype=np.float32)[:, None] / height
    kind = int(rng.integers(9))
    if kind == 0:  # flat colour
        t = np.zeros((height, width), np.float32)
    elif kind == 1:  # linear gradient
        angle = rng.uniform(0, 2 * math.pi)
        t = (xx * math.cos(angle) + yy * math.sin(angle)) * 0.7 + 0.15
    elif kind == 2:  # photo-like texture: noise at several scales
        t = sum(_noise(height, width, rng, cells) * weight for cells, weight in ((3, 0.5), (9, 0.3), (27, 0.2)))
    elif kind == 3:  # stripes or checks
        period = rng.uniform(0.03, 0.2)
        t = ((xx // period + (yy // period) * rng.integers(2)) % 2).astype(np.float32)
    elif kind == 4:  # blotches of many colours, blurred: clutter without edges that look like shapes
        return _blotches(width, height, avoid, rng, contrast)
    elif kind == 5:  # pale paper
        pale = np.float32(rng.uniform(205, 252)) + rng.uniform(-8, 8, 3).astype(np.float32)
        a = pale if np.min(np.linalg.norm(avoid - pale, axis=1)) > contrast else a
        t = np.zeros((height, width), np.float32)
    elif kind == 6:  # the sample library's muted backgrounds
        name = list(BACKGROUNDS)[int(rng.integers(len(BACKGROUNDS)))]
        return textured_background(name, width, height, rng)
    elif kind == 7:  # small sharp cells of several colours
        return _cells(width, height, avoid, rng, contrast)
    else:  # radial
        t = np.clip(np.hypot(xx - rng.random(), yy - rng.random()), 0, 1)
    t = np.broadcast_to(t, (height, width))[..., None]
    return a + (b - a) * t


def _blotches(width: int, height: int, avoid: np.ndarray, rng: np.random.Generator, contrast: float) -> np.ndarray:
    canvas = Image.new("RGB", (width, height), tuple(int(c) for c in _contrasting(avoid, rng, contrast)))
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(4, 12))):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        rx, ry = rng.uniform(0.1, 0.4) * width, rng.uniform(0.1, 0.4) * height
        draw.ellipse((x - rx, y - ry, x + rx, y + ry), fill=tuple(int(c) for c in _contrasting(avoid, rng, contrast)))
    blurred = canvas.filter(ImageFilter.GaussianBlur(min(width, height) * rng.uniform(0.06, 0.15)))
    return np.asarray(blurred, np.float32)


def _outline(shape: str, cx: float, cy: float, r: float, angle: float, rng: np.random.Generator) -> list:
    """Polygon vertices of a shape with randomly varied proportions."""
    if shape == "square":
        angles, radii = np.arange(4) * 90 + 45, np.full(4, r * 0.9)
    elif shape == "triangle":
        angles, radii = np.arange(3) * 120 - 90, np.full(3, r)
    elif shape == "star":
        angles = np.arange(10) * 36 - 90
        radii = np.where(np.arange(10) % 2 == 0, r, r * rng.uniform(0.36, 0.55))
    else:  # cross: a plus sign with arms of random width
        w = rng.uniform(0.22, 0.42)
        xy = np.array([(w, -1), (w, -w), (1, -w), (1, w), (w, w), (w, 1),
                       (-w, 1), (-w, w), (-1, w), (-1, -w), (-w, -w), (-w, -1)]) * r  # fmt: skip
        angles, radii = np.degrees(np.arctan2(xy[:, 1], xy[:, 0])), np.hypot(xy[:, 0], xy[:, 1])
    theta = np.radians(angles + angle)
    stretch = rng.uniform(0.9, 1.1)  # a slightly squashed shape is still that shape
    xs, ys = cx + radii * np.cos(theta) * stretch, cy + radii * np.sin(theta) / stretch
    return list(zip(xs.tolist(), ys.tolist(), strict=True))


def _fill(colour: str, rng: np.random.Generator) -> tuple[int, int, int]:
    shade = np.array(COLOURS[colour], np.float32) * rng.uniform(0.85, 1.08) + rng.normal(0, 9, 3)
    return tuple(int(c) for c in np.clip(shade, 0, 255))


def _draw(canvas: Image.Image, obj: ShapeObject, r: float, scale: float, rng: np.random.Generator) -> None:
    """One object, drawn solid (as Pillow fills it) or in one of the looser styles of `_drawn`."""
    fill = _fill(obj.colour, rng)
    style = str(rng.choice(_STYLES, p=_STYLE_P))
    if style != "solid":
        _drawn(canvas, obj, r, scale, fill, style, rng)
        return
    draw = ImageDraw.Draw(canvas)
    cx, cy = obj.x, obj.y
    outline, line = None, 0
    if rng.random() < 0.25:  # an outline in a darker shade, black or white
        outline = (
            tuple(int(c * 0.55) for c in fill)
            if rng.random() < 0.6
            else ((0,) * 3 if rng.random() < 0.5 else (255,) * 3)
        )
        line = max(1, round(scale * rng.uniform(1, 3)))
    if obj.shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill, outline=outline, width=line)
    elif obj.shape == "ring":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=fill, width=max(2, round(r * rng.uniform(*_RING_BAND))))
    else:
        draw.polygon(_outline(obj.shape, cx, cy, r, obj.angle, rng), fill=fill, outline=outline, width=line)


def _edges(obj: ShapeObject, r: float, rng: np.random.Generator) -> list[np.ndarray]:
    """The shape's edges as closed polygons, (n, 2) arrays: a ring has its outer and its inner circle."""
    if obj.shape in ("circle", "ring"):
        theta = np.linspace(0, 2 * math.pi, 64, endpoint=False)
        circle = np.stack([np.cos(theta), np.sin(theta)], axis=1)
        edges = [obj.x + r * circle[:, 0], obj.y + r * circle[:, 1]]
        outer = np.stack(edges, axis=1)
        if obj.shape == "circle":
            return [outer]
        inner = r * (1 - rng.uniform(*_RING_BAND))
        return [outer, np.stack([obj.x + inner * circle[:, 0], obj.y + inner * circle[:, 1]], axis=1)]
    return [np.array(_outline(obj.shape, obj.x, obj.y, r, obj.angle, rng))]


def _wobbled(edge: np.ndarray, r: float, amount: float, rng: np.random.Generator) -> list[tuple[float, float]]:
    """A closed edge walked in short steps, displaced by a slow wobble of `amount` r and a little jitter, and
    shifted a little: one stroke of a hand or a cheap printer. The first point is repeated at the end."""
    closed = np.concatenate([edge, edge[:1]])
    steps = [
        start + (end - start) * np.linspace(0, 1, max(2, int(np.linalg.norm(end - start) / 3)), endpoint=False)[:, None]
        for start, end in itertools.pairwise(closed)
    ]
    path = np.concatenate(steps)
    t = np.linspace(0, 2 * math.pi, len(path), endpoint=False)[:, None]
    frequency, phase = rng.integers(2, 6, 2), rng.uniform(0, 2 * math.pi, 2)  # whole turns: the wobble closes
    path = path + amount * r * np.sin(frequency * t + phase) + rng.normal(0, amount * r * 0.15, path.shape)
    path = path + rng.normal(0, 0.015 * r, 2)
    return [(float(x), float(y)) for x, y in np.concatenate([path, path[:1]])]


def _drawn(
    canvas: Image.Image, obj: ShapeObject, r: float, scale: float, fill: tuple, style: str, rng: np.random.Generator
) -> None:
    """An object drawn by its edge, as people and print draw shapes that are not photographs of solid things.

    The edge is one to three strokes of the object's colour (each a little apart, sometimes wobbly); the inside
    is left empty ("outline"), hatched, filled with a patchy texture, tinted faintly, filled on one side
    only, or made of elements (`_elements`), mostly with no stroke at all. A circle's stroke is thin (at most
    `_CIRCLE_STROKE` of r) and a ring is its two edges or a band at least `_RING_BAND` r thick, so an outlined
    circle is one thin line and never looks like a ring.
    """
    width, height = canvas.size
    edges = _edges(obj, r, rng)
    region = Image.new("L", canvas.size, 0)
    for number, edge in enumerate(edges):  # the ring's inner edge cuts its hole
        ImageDraw.Draw(region).polygon([tuple(p) for p in edge.tolist()], fill=0 if number else 255)
    inside = np.asarray(region, np.float32) / 255
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    if style == "hatched":  # parallel lines, sometimes crossed
        angle, spacing, share = rng.uniform(0, math.pi), rng.uniform(0.12, 0.3) * r, rng.uniform(0.25, 0.5)
        lines = ((xx * math.cos(angle) + yy * math.sin(angle)) / spacing) % 1 < share
        if rng.random() < 0.3:
            lines |= ((xx * math.cos(angle + math.pi / 2) + yy * math.sin(angle + math.pi / 2)) / spacing) % 1 < share
        inside = inside * lines
    elif style == "textured":  # patchy, as paint, print or crayon leave it
        patches = _noise(height, width, rng, int(rng.integers(4, 20)))
        inside = inside * np.clip((patches - rng.uniform(0.3, 0.6)) * 4 + 0.5, 0, 1)
    elif style == "tinted":  # a faint wash inside a clear edge: low contrast inside the shape
        inside = inside * rng.uniform(0.2, 0.5)
    elif style == "partial":  # filled up to a line across it
        angle = rng.uniform(0, 2 * math.pi)
        side = (xx - obj.x) * math.cos(angle) + (yy - obj.y) * math.sin(angle) < rng.uniform(-0.5, 0.5) * r
        inside = inside * side
    elif style == "elements":
        inside = _elements(inside, r, rng)
    else:  # outline only
        inside = inside * 0
    if style == "elements" and rng.random() < 0.7:  # the elements alone draw the shape
        canvas.paste(fill, mask=Image.fromarray((inside * 255).astype(np.uint8)))
        return
    thin = _CIRCLE_STROKE if obj.shape in ("circle", "ring") else (0.04, 0.16)
    stroke = max(scale, round(r * rng.uniform(*thin)))
    wobble = rng.uniform(0.01, 0.05) if rng.random() < 0.5 else 0.0
    pen = Image.new("L", canvas.size, 0)
    for _ in range(int(rng.integers(1, 4)) if rng.random() < 0.3 else 1):
        for edge in edges:
            ImageDraw.Draw(pen).line(_wobbled(edge, r, wobble, rng), fill=255, width=int(stroke), joint="curve")
    coverage = np.maximum(inside, np.asarray(pen, np.float32) / 255)
    canvas.paste(fill, mask=Image.fromarray((coverage * 255).astype(np.uint8)))


def _cells(width: int, height: int, avoid: np.ndarray, rng: np.random.Generator, contrast: float) -> np.ndarray:
    """Small sharp-edged cells of two to four colours, one at random per cell, in bands or in checks, as
    squares or dots on grout: tiled floors, fabric, beads, confetti. Unlike the blurred blotches, this clutter
    has edges and colours at the scale of an object's own details."""
    colours = np.stack([_contrasting(avoid, rng, contrast, palette_share=0.5) for _ in range(int(rng.integers(2, 5)))])
    size = rng.uniform(0.02, 0.08) * max(width, height)
    rows, columns = int(height / size) + 1, int(width / size) + 1
    pattern = int(rng.integers(3))
    if pattern == 0:
        which = rng.integers(len(colours), size=(rows, columns))
    else:
        row, column = np.mgrid[0:rows, 0:columns]
        which = (row // int(rng.integers(1, 4)) + (column if pattern == 2 else 0)) % len(colours)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32) / np.float32(size)
    ground = colours[which[yy.astype(int), xx.astype(int)]]
    if rng.random() < 0.6:  # grout between the cells, or the board behind round beads
        grout = _contrasting(avoid, rng, contrast, palette_share=0.0)
        gap = _gaps(xx % 1, yy % 1, rng)
        ground = np.where(gap[..., None], grout, ground)
    return ground


def _gaps(u: np.ndarray, v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Where, within cells (u, v in [0, 1)), the grout between square tiles or around round beads shows."""
    if rng.random() < 0.5:
        return np.hypot(u - 0.5, v - 0.5) > rng.uniform(0.38, 0.48)
    half = rng.uniform(0.03, 0.1)
    return (np.minimum(u, 1 - u) < half) | (np.minimum(v, 1 - v) < half)


def _elements(inside: np.ndarray, r: float, rng: np.random.Generator) -> np.ndarray:
    """The shape as small dots or squares on a lattice (sometimes turned), each element kept whole where the
    shape covers its centre: stepped edges and gaps between elements, as in halftone print, LED signs, beads
    and tiles. `_ACROSS` elements span the shape."""
    height, width = inside.shape
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    spacing = 2 * r / rng.uniform(*_ACROSS)
    turn = rng.uniform(0, math.pi / 2) if rng.random() < 0.3 else 0.0
    u = (xx * math.cos(turn) + yy * math.sin(turn)) / spacing
    v = (-xx * math.sin(turn) + yy * math.cos(turn)) / spacing
    cu, cv = np.floor(u) + 0.5, np.floor(v) + 0.5  # the element's centre, in lattice units
    x0 = np.clip((cu * math.cos(turn) - cv * math.sin(turn)) * spacing, 0, width - 1).astype(int)
    y0 = np.clip((cu * math.sin(turn) + cv * math.cos(turn)) * spacing, 0, height - 1).astype(int)
    size = rng.uniform(0.3, 0.47)  # the element's half-width, in lattice units: gaps always show
    du, dv = u - cu, v - cv
    element = np.hypot(du, dv) < size if rng.random() < 0.5 else np.maximum(np.abs(du), np.abs(dv)) < size
    return (inside[y0, x0] > 0.5) * element.astype(np.float32)


def _coarse(image: Image.Image, diameter: float, rng: np.random.Generator) -> Image.Image:
    """The picture at a low resolution (`_ACROSS` cells across its largest shape, `diameter` pixels wide, each
    cell the mean of what it covers), blown up cell by cell to its size again; half the time each cell is a
    tile or a bead with grout between them, as a mosaic, a cross-stitch or an LED screen shows a picture."""
    cells = rng.uniform(*_ACROSS) / diameter
    size = (max(1, round(image.width * cells)), max(1, round(image.height * cells)))
    small = image.resize(size, Image.Resampling.BOX)
    coarse = small.resize(image.size, Image.Resampling.NEAREST)
    if rng.random() < 0.5:
        return coarse
    yy, xx = np.mgrid[0 : image.height, 0 : image.width].astype(np.float32)
    gap = _gaps((xx * size[0] / image.width) % 1, (yy * size[1] / image.height) % 1, rng)
    grout = np.full(3, rng.uniform(170, 235) if rng.random() < 0.6 else rng.uniform(15, 60), np.float32)
    return Image.fromarray(np.where(gap[..., None], grout, np.asarray(coarse, np.float32)).astype(np.uint8))


def _layout(count: int, width: int, height: int, rng: np.random.Generator) -> list[tuple[float, float, float]]:
    """(x, y, r) of up to `count` objects that do not overlap, inside (or just over) the centre square."""
    short = min(width, height)
    placed: list[tuple[float, float, float]] = []
    low, top = (0.13, 0.32) if count == 1 else (0.1, 0.22)
    for _ in range(count):
        for _ in range(40):
            r = rng.uniform(low, top) * short
            slack = r * 0.4 if rng.random() < 0.2 else 0.0  # sometimes cut off a little by the crop
            half = short / 2 - r + slack
            x, y = width / 2 + rng.uniform(-half, half), height / 2 + rng.uniform(-half, half)
            if all(math.hypot(x - px, y - py) > r + pr + 2 for px, py, pr in placed):
                placed.append((x, y, r))
                break
    return placed


def random_picture(rng: np.random.Generator) -> tuple[Image.Image, tuple[ShapeObject, ...]]:
    """A picture of one to four coloured shapes in a random style, and the objects it shows."""
    count = int(rng.choice([1, 2, 3, 4], p=[0.6, 0.25, 0.1, 0.05]))
    kinds = [(str(rng.choice(SHAPES)), str(rng.choice(list(COLOURS)))) for _ in range(count)]
    if 1 < count < 4 and rng.random() < 0.2:
        kinds = [kinds[0]] * count
    aspect = _ASPECTS[int(rng.integers(len(_ASPECTS)))]
    short = int(rng.integers(80, 200))
    width, height = (round(short * aspect), short) if aspect >= 1 else (short, round(short / aspect))
    scale = 2 if rng.random() < 0.5 else 1  # drawn large and shrunk: anti-aliased edges
    spots = _layout(count, width * scale, height * scale, rng)
    avoid = np.array([COLOURS[colour] for _, colour in kinds[: len(spots)]], np.float32)
    contrast = _LOW_CONTRAST if rng.random() < 0.15 else _MIN_CONTRAST
    ground = background(width * scale, height * scale, avoid, rng, contrast)
    ground = ground + rng.normal(0, rng.uniform(0, 6), (*ground.shape[:2], 1))  # grain
    canvas = Image.fromarray(np.clip(ground, 0, 255).astype(np.uint8))
    objects = []
    for (shape, colour), (x, y, r) in zip(kinds, spots, strict=False):
        size = "large" if r > 0.2 * short * scale else "small"
        obj = ShapeObject(shape, colour, size, x, y, float(rng.uniform(0, 360)))
        _draw(canvas, obj, r, scale, rng)
        objects.append(obj)
    if scale > 1:
        canvas = canvas.resize((width, height), Image.Resampling.LANCZOS)
    if spots and rng.random() < _COARSE_P:
        canvas = _coarse(canvas, 2 * max(r for _, _, r in spots) / scale, rng)
    return degrade(canvas, rng), tuple(objects)


def degrade(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Blur, sensor noise and JPEG, each at a random strength or not at all."""
    if rng.random() < 0.3:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.5)))
    if rng.random() < 0.5:
        pixels = np.asarray(image, np.float32) + rng.normal(0, rng.uniform(1, 10), (image.height, image.width, 3))
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    if rng.random() < 0.7:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=int(rng.integers(30, 96)))
        image = Image.open(buffer)
    return image.convert("RGB")
