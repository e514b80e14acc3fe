"""Writing a held-out renderer's library: `per_pair` pictures of every (colour, shape) pair, as JPEG files with
captions.jsonl beside them. The renderers (heldout, sketch, mosaic, tabletop) share no drawing code; only this."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

Render = Callable[[str, str, np.random.Generator, tuple[int, int]], Image.Image]
Frame = Callable[[np.random.Generator], tuple[int, int]]


def write_pair_library(
    out_dir: Path, per_pair: int, seed: int, pairs: Sequence[tuple[str, str]], render: Render, frame: Frame
) -> dict[Path, tuple[str, str]]:
    """Each picture's resolved path with its (colour, shape); `frame` draws each picture's size."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    library: dict[Path, tuple[str, str]] = {}
    records = []
    for number in range(per_pair):
        for colour, shape in pairs:
            size = frame(rng)
            path = out_dir / f"{colour}-{shape}-{number:02d}.jpg"
            render(colour, shape, rng, size).save(path, quality=int(rng.integers(70, 95)))
            library[path.resolve()] = (colour, shape)
            records.append(json.dumps({"file": path.name, "colour": colour, "shape": shape}))
    (out_dir / "captions.jsonl").write_text("\n".join(records) + "\n", encoding="utf-8")
    return library


def aspect_frame(widest: float, side: tuple[float, float]) -> Frame:
    """Frames of a random aspect from 1:`widest` to `widest`:1 and a random area of side² for side in `side`."""

    def frame(rng: np.random.Generator) -> tuple[int, int]:
        aspect = float(np.exp(rng.uniform(-np.log(widest), np.log(widest))))
        area = float(rng.uniform(*side)) ** 2
        return int(np.sqrt(area * aspect)), int(np.sqrt(area / aspect))

    return frame
