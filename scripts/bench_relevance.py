"""What a person sees at default settings: visible recall and precision of searches on labelled libraries.

Each library (scripts/relevance_libraries.py) is drawn by one renderer with skewed concept frequencies and
indexed with the real pipeline, once per model; queries of every form are run through `Index.search` as the
CLI and the API run them, with no `min_relevance` (the model's default cut), k = 50. What is shown above the
cut is scored against the labels (scripts/relevance_metrics.py), per query form and concept-frequency bucket;
the same query uncut (min_relevance 0) gives the ranking's precision, so ranking and cut problems can be told
apart. Right answers per form:

- text:LANG "a red circle" in en/fr/de/es, image:fresh (a new picture of the pair from the same renderer),
  image+text (that picture and the English text) — pictures showing the pair;
- image:library (find similar, by image id) — the other pictures showing the pair (the query picture is left
  out of the scoring; whether it is shown is reported as self_shown);
- noun "a circle" — pictures showing any circle;
- negative "a star" − "yellow" — pictures showing a star and no yellow star;
- weighted 0.7·"a red circle" + 0.3·"a green square" — pictures showing the dominant (0.7) pair;
- absent:text, absent:image (pairs the library does not hold), gibberish and unknown-language (Italian,
  Dutch, Polish) — nothing: scored by the share of queries that show nothing (empty rate).

The relevance calibration is measured afresh on every run (calibration.json is deleted before searching).
Pictures (with a labels.json) and indexes are kept under --work, keyed by renderer, size, seed, the shares
and the model, so a rerun only searches. --json writes every figure plus each case's uncut ranking as
[similarity, rating, right] rows, from which the "replay" tables re-cut at fixed thresholds.
Add a renderer in relevance_libraries.RENDERERS (one line).

    PYTHONPATH=src python scripts/bench_relevance.py [--quick] [--json FILE] [--markdown] [--work DIR]
        [--library NAME]... [--model NAME]... [--size N] [--seed N] [--k N] [--thresholds 30,50,70]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "worlds"))  # the shape world, not in the package

import relevance_libraries as libraries
import relevance_queries as queries
from relevance_metrics import Score, group, replay, score
from relevance_report import conditions, markdown, table

import viewfinder
from viewfinder.app import library as library_ops
from viewfinder.search.query import MAX_K
from viewfinder.store import snapshots
from viewfinder.store.indexdir import IndexDir

MODELS = ("test:shapes",)  # test:shapes-multilingual is another name of the same model
SIZE = 600
SEED = 20_261_206
K = 50
THRESHOLDS = (30.0, 40.0, 50.0, 60.0, 70.0)


Measured = tuple[str, Score, list[list]]  # a case's label, its score and its uncut ranking


def _name(hit: viewfinder.Hit) -> str:
    return Path(hit.image.path).name


def measure(index: viewfinder.Index, lib: libraries.Library, quick: bool, seed: int, k: int) -> list[Measured]:
    """Every case of the library run twice (at the default cut, and uncut), scored, with the uncut ranking."""
    results = []
    for case, terms in queries.cases(index, lib, quick, seed):
        answer = index.search(terms, k=k)
        uncut = [hit for hit in index.search(terms, k=k, min_relevance=0).hits if _name(hit) != case.query_image]
        ranked = [_name(hit) for hit in uncut]
        closest = [_name(hit) for hit in getattr(answer, "closest", [])]  # a field the relevance method may drop
        scored = score(case, [_name(hit) for hit in answer.hits], ranked, len(lib.labels), k, closest)
        # Similarity, rating and rightness of each uncut result: enough to replay any fixed threshold offline.
        ratings = [[round(hit.similarity, 4), hit.relevance, _name(hit) in case.right] for hit in uncut]
        results.append((case.label, scored, ratings))
    return results


def _open_fresh(index_dir: Path) -> viewfinder.Index:
    """The index with its relevance calibration measured again, so that a method change is always measured."""
    (index_dir / "calibration.json").unlink(missing_ok=True)
    return viewfinder.open_index(str(index_dir))


def _staged(index_dir: Path) -> Path:
    """The index as a published snapshot holds it (store/snapshots.stage), in a folder beside it."""
    folder = index_dir.with_name(index_dir.name + "-snapshot")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    snapshots.stage(IndexDir(index_dir), folder, thumbnails=False)
    return folder


def _summaries(scores: Sequence[Score], by_bucket: bool = True) -> list[dict]:
    """Every (form, bucket) summary, in table order."""
    groups = sorted(group(scores, by_bucket).items(), key=queries.order)
    return [{"form": form, "bucket": bucket, **asdict(summary)} for (form, bucket), summary in groups]


@dataclass(frozen=True)
class Plan:
    """What one run measures."""

    renderers: Sequence[str]
    models: Sequence[str]
    quick: bool
    size: int = SIZE
    seed: int = SEED
    k: int = K
    thresholds: Sequence[float] = THRESHOLDS
    as_snapshot: bool = False  # search what `publish` would upload (float16 vectors), not the local index


def run(work: Path, plan: Plan) -> dict:
    """Every library × model: per library (runs), per model over all libraries (overall), and per model had
    the cut been each fixed threshold on the same ratings (replay)."""
    report: dict = {
        "k": plan.k,
        "size": plan.size,
        "seed": plan.seed,
        "quick": plan.quick,
        "target_shares": sorted(libraries.TIERS, reverse=True),
        "absent_pairs": [f"{colour} {shape}" for colour, shape in libraries.ABSENT],
        "runs": [],
    }
    per_model: dict[str, list[Measured]] = {model: [] for model in plan.models}
    for renderer in plan.renderers:
        key = libraries.spec_key(renderer, plan.size, plan.seed)
        started = time.monotonic()
        lib = libraries.make_library(renderer, work / key, plan.size, plan.seed)
        _say(f"{renderer}: {len(lib.labels)} pictures ({time.monotonic() - started:.0f} s)")
        for model in plan.models:
            index_dir = work / f"{key}-{model.replace(':', '_')}"
            started = time.monotonic()
            library_ops.update(index_dir, [str(lib.folder)], model=model)
            indexed = time.monotonic() - started
            if plan.as_snapshot:
                index_dir = _staged(index_dir)
            with _open_fresh(index_dir) as index:
                started = time.monotonic()
                measured = measure(index, lib, plan.quick, plan.seed, plan.k)
            searched = time.monotonic() - started
            _say(f"{renderer} × {model}: index {indexed:.0f} s, {len(measured)} queries {searched:.0f} s")
            per_model[model] += measured
            report["runs"].append(
                {
                    "library": renderer,
                    "model": model,
                    "pictures": len(lib.labels),
                    "shares": {f"{c} {s}": round(lib.share((c, s)), 4) for c, s in libraries.SHARES},
                    "summary": _summaries([s for _, s, _ in measured]),
                    "cases": [{"label": label, **asdict(s), "uncut": uncut} for label, s, uncut in measured],
                }
            )
    report["overall"] = {model: _summaries([s for _, s, _ in cases]) for model, cases in per_model.items()}
    report["replay"] = {
        model: {
            str(threshold): _summaries([replay(s, uncut, threshold, plan.k) for _, s, uncut in cases], False)
            for threshold in plan.thresholds
        }
        for model, cases in per_model.items()
    }
    return report


def _say(line: str) -> None:
    print(f"# {line}", file=sys.stderr, flush=True)


def _plan(argv: Sequence[str] | None) -> tuple[Plan, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, help="where libraries and indexes are kept between runs")
    parser.add_argument("--json", type=Path, help="write every figure (and every case's uncut ranking) to this file")
    parser.add_argument("--markdown", action="store_true", help="print a section for BENCHMARKS.md")
    parser.add_argument("--quick", action="store_true", help="one library and model, fewer queries")
    parser.add_argument("--library", action="append", choices=sorted(libraries.RENDERERS), help="repeatable")
    parser.add_argument("--model", action="append", help=f"repeatable; default {', '.join(MODELS)}")
    parser.add_argument("--size", type=int, default=SIZE, help=f"pictures per library (default {SIZE})")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--k", type=int, default=K, help=f"results asked for (default {K})")
    parser.add_argument(
        "--as-snapshot",
        action="store_true",
        help="search each index as `publish` would upload it (its vectors float16), not the local index",
    )
    parser.add_argument(
        "--thresholds",
        default=",".join(f"{t:g}" for t in THRESHOLDS),
        help="fixed cuts replayed on the uncut ratings, comma-separated",
    )
    args = parser.parse_args(argv)
    if args.size < 200:
        parser.error("--size must be at least 200 pictures, or the rarest concepts are not in the library")
    if not 1 <= args.k <= MAX_K:
        parser.error(f"--k must be between 1 and {MAX_K}")
    try:
        thresholds = [float(t) for t in args.thresholds.split(",")]
    except ValueError:
        parser.error("--thresholds takes numbers separated by commas, e.g. 30,50,70")
    plan = Plan(
        renderers=args.library or (["heldout"] if args.quick else list(libraries.RENDERERS)),
        models=args.model or (list(MODELS[-1:]) if args.quick else list(MODELS)),
        quick=args.quick,
        size=args.size,
        seed=args.seed,
        k=args.k,
        thresholds=thresholds,
        as_snapshot=args.as_snapshot,
    )
    return plan, args


def main(argv: Sequence[str] | None = None) -> int:
    plan, args = _plan(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as temporary:
        work = args.work or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        report = run(work, plan)
    report["seconds"] = round(time.monotonic() - started, 1)
    report["conditions"] = conditions()
    print(markdown(report) if args.markdown else table(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
