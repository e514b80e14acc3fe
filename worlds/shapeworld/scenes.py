"""Chosen scenes of the sample pictures' world: one object of a given shape and colour, for tests."""

from __future__ import annotations

import numpy as np

from viewfinder.images.synthetic import BACKGROUNDS, COLOURS, SHAPES, SIZES, Scene, describe, place_objects


def scene_of(
    shape: str,
    colour: str,
    rng: np.random.Generator,
    *,
    size: str | None = None,
    background: str | None = None,
) -> Scene:
    """A scene with a single object of the given shape and colour; size and background random unless given."""
    if shape not in SHAPES or colour not in COLOURS:
        raise ValueError(f"unknown shape or colour: {shape!r}, {colour!r}")
    size = size or str(rng.choice(SIZES))
    background = background or str(rng.choice(list(BACKGROUNDS)))
    objects = place_objects([(shape, colour, size)], rng)
    return Scene(objects, background, describe(objects, background, rng))
