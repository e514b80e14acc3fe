"""Labelled picture libraries with skewed concept frequencies, for scripts/bench_relevance.py.

A concept is a (colour, shape) pair. Every library draws the same pairs with the same shares (`SHARES`): one
pair on about 30% of the pictures, a few on 10%, 3%, 1% and 0.5%, and `ABSENT` pairs on none, so results can
be read per concept frequency. Each picture shows one pair drawn from the shares and, where the renderer
draws several objects, sometimes a companion or two drawn from the same shares; the labels are the pairs a
picture really shows (as the renderer reports them), and the benchmark buckets concepts by their measured
share, not the target.

A renderer is one function `draw(pairs, rng) -> (picture, pairs shown)`; `RENDERERS` holds them, and a new
one is one line there. Test-only picture code comes from worlds/shapeworld (put on sys.path by the caller).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from shapeworld import heldout, mosaic, sketch, tabletop, varied
from viewfinder.images import synthetic

Pair = tuple[str, str]  # (colour, shape)
Draw = Callable[[list[Pair], np.random.Generator], tuple[Image.Image, frozenset[Pair]]]

# Target share of the pictures whose main object is each pair (they sum to 1 after normalising). Companions
# add a little to every present pair; the pairs below `ABSENT` never appear.
TIERS: dict[float, list[Pair]] = {
    0.30: [("red", "circle")],
    0.10: [("blue", "square"), ("green", "triangle")],
    0.03: [("yellow", "star"), ("purple", "ring"), ("orange", "cross"), ("white", "circle"), ("black", "square")],
    # Fillers, so that the rare pairs stay rare.
    0.02: [
        ("green", "square"),
        ("blue", "circle"),
        ("red", "star"),
        ("yellow", "triangle"),
        ("purple", "square"),
        ("orange", "triangle"),
        ("white", "star"),
        ("black", "circle"),
        ("red", "ring"),
        ("blue", "ring"),
        ("green", "cross"),
    ],
    0.01: [
        ("red", "square"),
        ("blue", "triangle"),
        ("green", "star"),
        ("yellow", "circle"),
        ("purple", "cross"),
        ("orange", "ring"),
        ("white", "triangle"),
        ("black", "star"),
    ],
    0.005: [
        ("red", "triangle"),
        ("blue", "star"),
        ("green", "circle"),
        ("yellow", "square"),
        ("purple", "triangle"),
        ("orange", "circle"),
        ("white", "ring"),
        ("black", "cross"),
    ],
}
SHARES: dict[Pair, float] = {pair: share for share, pairs in TIERS.items() for pair in pairs}
ALL_PAIRS: list[Pair] = [(colour, shape) for colour in synthetic.COLOURS for shape in synthetic.SHAPES]
ABSENT: list[Pair] = [pair for pair in ALL_PAIRS if pair not in SHARES]
ONE_COMPANION, TWO_COMPANIONS = 0.25, 0.05  # chance that a multi-object renderer adds companions


def _single(render: Callable[[str, str, np.random.Generator], Image.Image]) -> Draw:
    """A renderer of one object per picture: companions are not drawn."""

    def draw(pairs: list[Pair], rng: np.random.Generator) -> tuple[Image.Image, frozenset[Pair]]:
        colour, shape = pairs[0]
        return render(colour, shape, rng), frozenset(pairs[:1])

    return draw


def _synthetic(pairs: list[Pair], rng: np.random.Generator) -> tuple[Image.Image, frozenset[Pair]]:
    """The demo's sample style: the scene is laid out by `synthetic.place_objects`, which may drop what does
    not fit (the labels are the objects placed)."""
    p_large = 0.5 if len(pairs) == 1 else 0.3
    specs = [(shape, colour, "large" if rng.random() < p_large else "small") for colour, shape in pairs]
    objects = synthetic.place_objects(specs, rng)
    background = str(rng.choice(list(synthetic.BACKGROUNDS)))
    scene = synthetic.Scene(objects, background, synthetic.describe(objects, background, rng))
    return synthetic.render_scene(scene, (320, 240), rng), frozenset((o.colour, o.shape) for o in objects)


class _Steered:
    """A random generator that answers `varied.random_picture`'s draws of the object count, shapes and colours
    with the pairs asked for, and every other draw at random. The picture's reported objects are the labels,
    so a change in how the renderer draws can only make the steering miss, which `_varied` checks."""

    def __init__(self, rng: np.random.Generator, pairs: list[Pair]) -> None:
        self._rng = rng
        self._count = len(pairs)
        self._shapes = [shape for _, shape in pairs]
        self._colours = [colour for colour, _ in pairs]

    def choice(self, a, *args, **kwargs):
        options = list(a) if isinstance(a, list | tuple) else None
        if options == [1, 2, 3, 4]:
            return self._count
        if options == list(synthetic.SHAPES) and self._shapes:
            return self._shapes.pop(0)
        if options == list(synthetic.COLOURS) and self._colours:
            return self._colours.pop(0)
        return self._rng.choice(a, *args, **kwargs)

    def __getattr__(self, name: str):  # everything else is the generator's own
        return getattr(self._rng, name)


def _varied(pairs: list[Pair], rng: np.random.Generator) -> tuple[Image.Image, frozenset[Pair]]:
    """The training renderer, its objects steered to the pairs asked for."""
    picture, objects = varied.random_picture(_Steered(rng, pairs))  # type: ignore[arg-type]
    shown = frozenset((o.colour, o.shape) for o in objects)
    if pairs[0] not in shown or not shown <= set(pairs):
        raise RuntimeError("varied.random_picture no longer draws its objects as the benchmark steers them")
    return picture, shown


RENDERERS: dict[str, Draw] = {
    "heldout": _single(heldout.render),
    "synthetic": _synthetic,
    "varied": _varied,
    "sketch": _single(sketch.render),
    "mosaic": _single(mosaic.render),
    "tabletop": _single(tabletop.render),
}
MULTI_OBJECT = {"synthetic", "varied"}


@dataclass(frozen=True)
class Library:
    """A folder of JPEG pictures and the pairs each one shows, by file name."""

    renderer: str
    folder: Path
    labels: dict[str, frozenset[Pair]]

    def share(self, pair: Pair) -> float:
        return sum(pair in shown for shown in self.labels.values()) / len(self.labels)


def _pairs_for(rng: np.random.Generator, multi: bool) -> list[Pair]:
    """One picture's pairs: the main one from the shares, plus companions for a multi-object renderer."""
    pairs = list(SHARES)
    p = np.array(list(SHARES.values()))
    p /= p.sum()
    roll = rng.random()
    count = 1 + (multi and roll < ONE_COMPANION + TWO_COMPANIONS) + (multi and roll < TWO_COMPANIONS)
    return [pairs[int(i)] for i in rng.choice(len(pairs), size=count, p=p)]


def spec_key(renderer: str, size: int, seed: int) -> str:
    """A folder name that changes with anything that changes the pictures."""
    spec = json.dumps([sorted(SHARES.items()), ONE_COMPANION, TWO_COMPANIONS, size, seed, renderer])
    return f"{renderer}-s{seed}-n{size}-{hashlib.sha256(spec.encode()).hexdigest()[:8]}"


def make_library(renderer: str, folder: Path, size: int, seed: int) -> Library:
    """The library in `folder`, drawn now or read back when a run with the same spec drew it before."""
    labels_file = folder / "labels.json"
    if labels_file.exists():
        saved = json.loads(labels_file.read_text())
        labels = {name: frozenset((c, s) for c, s in pairs) for name, pairs in saved.items()}
        return Library(renderer, folder / "pictures", labels)
    draw = RENDERERS[renderer]
    pictures = folder / "pictures"
    pictures.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    labels = {}
    for number in range(size):
        picture, shown = draw(_pairs_for(rng, renderer in MULTI_OBJECT), rng)
        name = f"{number:04d}.jpg"
        picture.convert("RGB").save(pictures / name, quality=int(rng.integers(75, 95)))
        labels[name] = shown
    # Written last: its presence says the folder is complete.
    labels_file.write_text(json.dumps({name: sorted(pairs) for name, pairs in labels.items()}))
    return Library(renderer, pictures, labels)


def fresh_picture(renderer: str, pair: Pair, seed: int) -> bytes:
    """A JPEG of one object of `pair` from the renderer, drawn apart from any library (its own seed)."""
    rng = np.random.default_rng([seed, ALL_PAIRS.index(pair)])
    picture, _ = RENDERERS[renderer]([pair], rng)
    out = io.BytesIO()
    picture.convert("RGB").save(out, format="JPEG", quality=90)
    return out.getvalue()
