"""Throughput of `viewfinder upgrade` beside a plain `viewfinder index` of the same library (BENCHMARKS.md).

Writes `--count` distinct camera-like JPEGs (every one its own picture: an upgrade embeds byte-identical
copies once, so hard-linked copies would flatter it), builds a `test:tiny` index of them, then times, turn
about, a plain `index` of the library with `--model` into a new directory and an `upgrade` of a copy of the
test:tiny index to the same model. Wall times include loading the model, and for the upgrade choosing the
vector index and calibrating relevance (loading the text tower), which `index` leaves to the first search;
steady rates count from the first batch's commit to the last, as `bench embed` does.

    PYTHONPATH=src python scripts/bench_upgrade.py --count 96 --model random:ViT-B-32 --runs 2
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from viewfinder.app import library, upgrade
from viewfinder.bench.embed import photo_like


def write_library(folder: Path, count: int, width: int, height: int) -> None:
    folder.mkdir(parents=True)
    for number in range(count):
        pixels = photo_like(width, height, np.random.default_rng(number))
        Image.fromarray(pixels).save(folder / f"photo-{number:04d}.jpg", quality=92)


class Steady:
    """A progress callback that records when each batch committed: the rate from the first commit to the last."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, int]] = []

    def __call__(self, done: int, total: int) -> None:
        if done > (self.marks[-1][1] if self.marks else 0):  # a commit (the upgrade also reports its states)
            self.marks.append((time.perf_counter(), done))

    def rate(self) -> float:
        (start, first), (end, last) = self.marks[0], self.marks[-1]
        return (last - first) / (end - start) if end > start else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=96, help="distinct pictures (default 96)")
    parser.add_argument("--model", default="random:ViT-B-32", help="the model upgraded to (default random:ViT-B-32)")
    parser.add_argument("--size", default="1920x1080", help="picture size (default 1920x1080)")
    parser.add_argument("--runs", type=int, default=2, help="turns of index then upgrade (default 2)")
    args = parser.parse_args()
    width, height = (int(side) for side in args.size.split("x"))
    with tempfile.TemporaryDirectory(prefix="bench-upgrade-") as scratch:
        root = Path(scratch)
        photos, base = root / "photos", root / "base"
        write_library(photos, args.count, width, height)
        library.update(base, [str(photos)], model="test:tiny")
        warm = root / "warm-photos"  # the model's ONNX export is made once, untimed
        warm.mkdir()
        shutil.copy(photos / "photo-0000.jpg", warm)
        library.update(root / "warm", [str(warm)], model=args.model)
        index_s, upgrade_s, index_steady, upgrade_steady = [], [], [], []
        for run in range(args.runs):
            steady = Steady()
            started = time.perf_counter()
            report = library.update(root / f"index-{run}", [str(photos)], model=args.model, progress=steady)
            index_s.append(time.perf_counter() - started)
            index_steady.append(steady.rate())
            assert report.added == args.count, report
            copy = root / f"upgrade-{run}"
            shutil.copytree(base, copy)
            steady = Steady()
            started = time.perf_counter()
            done = upgrade.upgrade(copy, args.model, progress=steady)
            upgrade_s.append(time.perf_counter() - started)
            upgrade_steady.append(steady.rate())
            assert done.embedded == args.count, done
    index_rate = args.count / statistics.mean(index_s)
    upgrade_rate = args.count / statistics.mean(upgrade_s)
    print(
        json.dumps(
            {
                "count": args.count,
                "size": args.size,
                "model": args.model,
                "index_s": [round(s, 2) for s in index_s],
                "upgrade_s": [round(s, 2) for s in upgrade_s],
                "index_images_per_s": round(index_rate, 2),
                "upgrade_images_per_s": round(upgrade_rate, 2),
                "upgrade_vs_index": round(upgrade_rate / index_rate, 3),
                "index_steady_per_s": round(statistics.mean(index_steady), 2),
                "upgrade_steady_per_s": round(statistics.mean(upgrade_steady), 2),
                "steady_upgrade_vs_index": round(statistics.mean(upgrade_steady) / statistics.mean(index_steady), 3),
            }
        )
    )


if __name__ == "__main__":
    main()
