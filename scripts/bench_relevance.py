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

    PYTHONPATH=src python scripts/bench_relevance.py [--quick] [--json FILE] [--markdown] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "worlds"))  # the shape world, not in the package

import relevance_libraries as libraries
import relevance_queries as queries
from relevance_metrics import Score, group, score
from relevance_report import conditions, markdown, table

import viewfinder
from viewfinder.app import library as library_ops

MODELS = ("test:shapes", "test:shapes-multilingual")
SIZE = 600
SEED = 20_261_206
K = 50


Scored = tuple[str, Score]  # a case's label and its score


def _names(hits: Sequence) -> list[str]:
    return [Path(hit.image.path).name for hit in hits]


def measure(index: viewfinder.Index, lib: libraries.Library, quick: bool, seed: int, k: int) -> list[Scored]:
    """Every case of the library run twice (at the default cut, and uncut) and scored."""
    results = []
    for case, terms in queries.cases(index, lib, quick, seed):
        answer = index.search(terms, k=k)
        ranked = _names(index.search(terms, k=k, min_relevance=0).hits)
        closest = _names(getattr(answer, "closest", []))  # a field the relevance method may drop
        results.append((case.label, score(case, _names(answer.hits), ranked, len(lib.labels), k, closest)))
    return results


def _open_fresh(index_dir: Path) -> viewfinder.Index:
    """The index with its relevance calibration measured again, so that a method change is always measured."""
    (index_dir / "calibration.json").unlink(missing_ok=True)
    return viewfinder.open_index(str(index_dir))


def _summaries(scores: Sequence[Score]) -> list[dict]:
    """Every (form, bucket) summary, in table order."""
    groups = sorted(group(scores, by_bucket=True).items(), key=queries.order)
    return [{"form": form, "bucket": bucket, **asdict(summary)} for (form, bucket), summary in groups]


def run(work: Path, renderers: Sequence[str], models: Sequence[str], quick: bool, size: int, seed: int, k: int) -> dict:
    """Every library × model, as the report's runs (per library) and overall (per model) figures."""
    report: dict = {
        "k": k,
        "size": size,
        "seed": seed,
        "quick": quick,
        "target_shares": sorted(libraries.TIERS, reverse=True),
        "absent_pairs": [f"{colour} {shape}" for colour, shape in libraries.ABSENT],
        "runs": [],
        "overall": {},
    }
    per_model: dict[str, list[Score]] = {model: [] for model in models}
    for renderer in renderers:
        key = libraries.spec_key(renderer, size, seed)
        started = time.monotonic()
        lib = libraries.make_library(renderer, work / key, size, seed)
        _say(f"{renderer}: {len(lib.labels)} pictures ({time.monotonic() - started:.0f} s)")
        for model in models:
            index_dir = work / f"{key}-{model.replace(':', '_')}"
            started = time.monotonic()
            library_ops.update(index_dir, [str(lib.folder)], model=model)
            indexed = time.monotonic() - started
            with _open_fresh(index_dir) as index:
                started = time.monotonic()
                scored = measure(index, lib, quick, seed, k)
            _say(
                f"{renderer} × {model}: index {indexed:.0f} s, {len(scored)} queries {time.monotonic() - started:.0f} s"
            )
            scores = [s for _, s in scored]
            per_model[model] += scores
            report["runs"].append(
                {
                    "library": renderer,
                    "model": model,
                    "pictures": len(lib.labels),
                    "shares": {f"{c} {s}": round(lib.share((c, s)), 4) for c, s in libraries.SHARES},
                    "summary": _summaries(scores),
                    "cases": [{"label": label, **asdict(s)} for label, s in scored],
                }
            )
    report["overall"] = {model: _summaries(scores) for model, scores in per_model.items()}
    return report


def _say(line: str) -> None:
    print(f"# {line}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, help="where libraries and indexes are kept between runs")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument("--markdown", action="store_true", help="print a section for BENCHMARKS.md")
    parser.add_argument("--quick", action="store_true", help="one library and model, fewer queries")
    parser.add_argument("--library", action="append", choices=sorted(libraries.RENDERERS), help="repeatable")
    parser.add_argument("--model", action="append", help=f"repeatable; default {', '.join(MODELS)}")
    parser.add_argument("--size", type=int, default=SIZE, help="pictures per library")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--k", type=int, default=K)
    args = parser.parse_args(argv)
    renderers = args.library or (["heldout"] if args.quick else list(libraries.RENDERERS))
    models = args.model or (MODELS[-1:] if args.quick else list(MODELS))
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as temporary:
        work = args.work or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        report = run(work, renderers, models, args.quick, args.size, args.seed, args.k)
    report["seconds"] = round(time.monotonic() - started, 1)
    report["conditions"] = conditions()
    print(markdown(report) if args.markdown else table(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
