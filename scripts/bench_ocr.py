"""The words in photos (issue 27): what `index --ocr` costs against a plain `index`, and how well a quoted
phrase finds its photo.

The library is real photographs (Debian's mate-backgrounds, cut in parts: worlds/wordworld.py) at 1280 px,
a third of them with a phrase drawn on (fonts, sizes, colours, slight rotation), the rest without words. It
is indexed into new directories in the same run, plainly and with --ocr, alternately (--runs of each; the
fastest of each kind counts), each timed from the call to its report (model loading included in both; the
model's ONNX export is made by a warm-up run first). CPU time (user + system, the least of each kind) is
reported beside the wall time: on a shared machine it moves less with the load. Then every drawn phrase is
searched quoted (recall@5: its photo among the first five) and phrases drawn on no photo must find nothing.

    apt-get install mate-backgrounds    # the photographs
    PYTHONPATH=src python scripts/bench_ocr.py [--photos 60] [--model random:ViT-B-32] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "worlds"))

import viewfinder
from wordworld import PHRASES, draw_phrase, photos

ABSENT = ("Platform 77", "Zebra Crossing", "Invoice 9999", "Lunch Menu", "Gate Z99")


def make_library(folder: Path, count: int, seed: int, heights: tuple[float, float]) -> dict[str, Path]:
    """`count` photos, every third with one of the phrases drawn on it; returns phrase -> photo."""
    rng = np.random.default_rng(seed)
    pictures = list(photos())
    if len(pictures) < count:
        raise SystemExit(f"only {len(pictures)} photos under wordworld.PHOTO_DIR; apt-get install mate-backgrounds")
    drawn: dict[str, Path] = {}
    folder.mkdir(parents=True)
    for number, picture in enumerate(pictures[:count]):
        path = folder / f"photo-{number:03d}.jpg"
        if number % 3 == 0:
            phrase = PHRASES[len(drawn) % len(PHRASES)]
            picture = draw_phrase(picture, phrase, rng, heights)
            drawn[phrase] = path
        picture.save(path, quality=90)
    return drawn


def cpu_seconds() -> float:
    """User and system time of this process's threads and of its finished children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed_index(library: Path, index: Path, model: str, ocr: bool) -> tuple[float, float, dict]:
    """Wall seconds, CPU seconds and the report of one `index` run."""
    started, cpu = time.perf_counter(), cpu_seconds()
    report = viewfinder.index_folders([str(library)], str(index), model=model, ocr=ocr)
    return time.perf_counter() - started, cpu_seconds() - cpu, {"total": report.total, "words_read": report.words_read}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=60)
    parser.add_argument("--model", default="random:ViT-B-32", help="the CLIP model (its cost is what matters)")
    parser.add_argument("--seed", type=int, default=27)
    parser.add_argument("--runs", type=int, default=2, help="timed runs of each kind; the fastest counts")
    parser.add_argument(
        "--heights", type=float, nargs=2, default=(0.04, 0.09), metavar=("LOW", "HIGH"),
        help="the drawn phrases' height, a share of the photo's (default 0.04 0.09)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        root = Path(work)
        drawn = make_library(root / "photos", args.photos, args.seed, tuple(args.heights))
        warm = root / "warm"
        warm.mkdir()
        next(iter(drawn.values())).rename(warm / "one.jpg")  # the warm-up: model export and caches
        viewfinder.index_folders([str(warm)], str(root / "warm-index"), model=args.model)
        (warm / "one.jpg").rename(next(iter(drawn.values())))
        # Plain and --ocr runs alternate, so that the load of a shared machine weighs on both alike.
        plain_runs, ocr_runs = [], []
        for run in range(args.runs):
            plain_runs.append(timed_index(root / "photos", root / f"plain-{run}", args.model, ocr=False))
            ocr_runs.append(timed_index(root / "photos", root / f"ocr-{run}", args.model, ocr=True))
        plain_s, _, plain = min(plain_runs, key=lambda timed: timed[0])
        ocr_s, _, with_ocr = min(ocr_runs, key=lambda timed: timed[0])
        plain_cpu = min(cpu for _, cpu, _ in plain_runs)
        ocr_cpu = min(cpu for _, cpu, _ in ocr_runs)
        found, misses, answers = 0, [], {}
        with viewfinder.open_index(str(root / "ocr-0")) as index:
            for phrase, path in drawn.items():
                hits = index.search(f'"{phrase}"', k=5).hits
                answers[phrase] = [hit.words for hit in hits]
                if str(path) in [hit.image.path for hit in hits]:
                    found += 1
                else:
                    misses.append(phrase)
            false = {phrase: len(index.search(f'"{phrase}"', k=5).shown) for phrase in ABSENT}
            words = {phrase: index.search(f'"{phrase}"', k=1).hits for phrase in drawn}
    result = {
        "photos": args.photos,
        "with_words": len(drawn),
        "phrase_heights": list(args.heights),
        "model": args.model,
        "plain_index_s": round(plain_s, 2),
        "ocr_index_s": round(ocr_s, 2),
        "cost_ratio": round(ocr_s / plain_s, 2),
        "all_runs_s": {"plain": [round(t, 2) for t, _, _ in plain_runs], "ocr": [round(t, 2) for t, _, _ in ocr_runs]},
        "plain_index_cpu_s": round(plain_cpu, 2),
        "ocr_index_cpu_s": round(ocr_cpu, 2),
        "cpu_cost_ratio": round(ocr_cpu / plain_cpu, 2),
        "load_average": [round(load, 1) for load in os.getloadavg()],
        "ocr_s_per_photo": round((ocr_s - plain_s) / args.photos, 3),
        "recall_at_5": round(found / len(drawn), 3),
        "missed": {phrase: answers[phrase] for phrase in misses},
        "absent_phrases_showing_results": sum(1 for count in false.values() if count),
        "read_back": {phrase: hits[0].words if hits else None for phrase, hits in list(words.items())[:5]},
        "plain": plain,
        "ocr": with_ocr,
    }
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
