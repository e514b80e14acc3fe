"""Measures the cosines the duplicates threshold separates, on the demo's library with the demo's model.

The demo library (`viewfinder sample`, 400 pictures, seed 0) and four light edits of every picture
(shapeworld.variants: half size, JPEG quality 40, an 8% crop, +20% light) are indexed with `test:shapes` as
`viewfinder index` indexes them; then, from the stored vectors:
- true near-duplicates: the cosine of each picture and each of its edits;
- distinct pictures: for each picture, its highest cosine to any other picture or to another picture's edit.
The threshold is chosen by a rule stated before measuring: midway between the lowest true-duplicate cosine
and the highest distinct one when they do not overlap; when they do, where the two errors are equal (the share
of true pairs below the threshold, missed, equals the share of pictures with a distinct picture at or above
it, falsely joined), rounded down to the 0.005 steps the service's thresholds take. Run from the repository
root:

    PYTHONPATH=src python scripts/duplicates_threshold.py
"""

from __future__ import annotations

import argparse
import math
import sqlite3
import sys
import tempfile
from pathlib import Path

import numpy as np

from viewfinder.images.synthetic import generate_library
from viewfinder.pipeline.indexer import run_index

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "worlds"))  # the shape world, not in the package
from shapeworld.variants import VARIANTS, write_variants

PREVIOUS = 0.96  # the default before this measurement, chosen on the first test:shapes
STEP = 0.005  # thresholds the service answers with (app/duplicate_answers.py)


def stored_vectors(index: Path) -> dict[str, np.ndarray]:
    """Every indexed file's vector by file name, read from the catalog as search reads it."""
    with sqlite3.connect(index / "catalog.sqlite") as db:
        rows = db.execute("SELECT path, vector FROM images JOIN vectors USING (id)").fetchall()
    return {Path(path).name: np.frombuffer(vector, dtype=np.float32) for path, vector in rows}


def measure(workdir: Path, count: int, seed: int, model: str) -> dict[str, float]:
    """The figures above, for a sample library of `count` pictures."""
    sample, library = workdir / "sample", workdir / "library"
    library.mkdir(parents=True)
    scene_of = {}
    for picture, scene in generate_library(sample, count, seed=seed):  # as `viewfinder sample` writes it
        write_variants(picture, library)
        scene_of[picture.stem] = (scene.background, tuple(sorted((o.shape, o.colour) for o in scene.objects)))
    run_index(workdir / "index", [str(library)], model=model, device="cpu")
    vectors = stored_vectors(workdir / "index")
    names = sorted(vectors)
    matrix = np.stack([vectors[name] for name in names])
    picture = np.array([name.split("__")[0] for name in names])
    variant = np.array([name.split("__")[1].split(".")[0] for name in names])
    scores = matrix @ matrix.T
    originals = np.flatnonzero(variant == "original")
    true = {
        edit: np.array([scores[i, np.flatnonzero((picture == picture[i]) & (variant == edit))[0]] for i in originals])
        for edit in VARIANTS[1:]
    }
    distinct = np.array([scores[i, picture != picture[i]].max() for i in originals])
    numbers = {key: number for number, key in enumerate(dict.fromkeys(scene_of.values()))}
    scene = np.array([numbers[scene_of[name]] for name in picture])
    other_scene = np.array([scores[i, scene != scene[i]].max() for i in originals])
    pairs = np.concatenate(list(true.values()))
    steps = np.arange(0.5, 1.0, 0.0005)
    missed = np.array([(pairs < t).mean() for t in steps])
    joined = np.array([(distinct >= t).mean() for t in steps])
    equal = float(steps[int(np.argmin(np.abs(missed - joined)))])
    separated = pairs.min() > distinct.max()
    # The steps are float sums (0.985 is held as 0.98499...): rounded to the grid before rounding down.
    chosen = math.floor(round(((pairs.min() + distinct.max()) / 2 if separated else equal) / STEP, 6)) * STEP
    figures = {
        "pictures": float(len(originals)),
        **{f"true_min_{edit}": float(values.min()) for edit, values in true.items()},
        "true_p01": float(np.percentile(pairs, 1)),
        "distinct_median": float(np.median(distinct)),
        "distinct_p99": float(np.percentile(distinct, 99)),
        "distinct_max": float(distinct.max()),
        "other_scene_median": float(np.median(other_scene)),
        "other_scene_max": float(other_scene.max()),
        "separated": float(separated),
        "equal_error_threshold": equal,
        "chosen_threshold": chosen,
    }
    for threshold in (chosen, PREVIOUS):
        figures |= {f"kept_{edit}_at_{threshold:.3f}": float((v >= threshold).mean()) for edit, v in true.items()}
        figures[f"joined_distinct_at_{threshold:.3f}"] = float((distinct >= threshold).mean())
        figures[f"joined_other_scene_at_{threshold:.3f}"] = float((other_scene >= threshold).mean())
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=400, help="pictures in the sample library (the demo's 400)")
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed (the demo's 0)")
    parser.add_argument("--model", default="test:shapes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = measure(Path(tmp), args.count, args.seed, args.model)
    for name, value in figures.items():
        print(f"{name:32s} {value:.4f}")


if __name__ == "__main__":
    sys.exit(main())
