"""`search`, `info` and `duplicates`: reading an index."""

from __future__ import annotations

import argparse
import json
import os
import sys

from viewfinder.cli.options import (
    EXIT_OK,
    index_option,
    query_model_option,
    runtime_option,
)
from viewfinder.errors import ViewfinderError


def add_commands(commands: argparse._SubParsersAction) -> None:
    _add_search_command(commands)
    _add_info_command(commands)
    _add_duplicates_command(commands)


def _add_search_command(commands: argparse._SubParsersAction) -> None:
    """`viewfinder search`: texts, images, weights, filters, rerank and a relevance threshold, as the API."""
    search = commands.add_parser("search", help="search an index by text, image or both")
    search.add_argument("text", nargs="?", metavar="TEXT", help="what to look for")
    terms = search.add_argument_group("query terms")
    terms.add_argument("--text", dest="texts", action="append", default=[], metavar="TEXT", help="another text")
    terms.add_argument(
        "--image",
        action="append",
        default=[],
        metavar="PATH_OR_ID",
        help="an image file or an indexed image id to find similar images to (repeatable)",
    )
    terms.add_argument(
        "--not", dest="negatives", action="append", default=[], metavar="TEXT", help="a text to steer away from"
    )
    terms.add_argument(
        "--weight",
        action="append",
        type=float,
        default=[],
        metavar="W",
        help="weights of TEXT, then each --text, then each --image, in order (default 1 each)",
    )
    terms.add_argument("--not-weight", type=float, default=1.0, metavar="W", help="weight of each --not (1)")
    filters = search.add_argument_group("filters (dates are YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS, inclusive)")
    filters.add_argument("--folder", help="only images in this folder (relative to the source root) and below")
    filters.add_argument("--taken-after", metavar="DATE")
    filters.add_argument("--taken-before", metavar="DATE")
    filters.add_argument("--min-width", type=int, metavar="PX")
    filters.add_argument("--min-height", type=int, metavar="PX")
    ranking = search.add_argument_group("ranking")
    ranking.add_argument("--recency", type=float, default=0.0, metavar="W", help="rerank weight of recency (0-1)")
    ranking.add_argument("--resolution", type=float, default=0.0, metavar="W", help="rerank weight of resolution")
    ranking.add_argument(
        "--min-relevance",
        type=float,
        metavar="P",
        help="only results rated at least P%% relevant (default 50, or 0 for random-weight models; 0 shows all)",
    )
    search.add_argument("-k", type=int, default=20, metavar="K", help="number of results (default 20)")
    index_option(search)
    search.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    runtime_option(search)
    query_model_option(search)
    search.add_argument("--json", action="store_true", help="print JSON")
    search.set_defaults(run=_search)


def _add_info_command(commands: argparse._SubParsersAction) -> None:
    """`viewfinder info`: what an index holds."""
    info = commands.add_parser("info", help="describe an index")
    index_option(info)
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(run=_info)


def _add_duplicates_command(commands: argparse._SubParsersAction) -> None:
    """`viewfinder duplicates`: near-identical photos and exact copies."""
    duplicates = commands.add_parser("duplicates", help="list groups of near-identical photos and exact copies")
    index_option(duplicates)
    duplicates.add_argument(
        "--threshold", type=float, default=None, metavar="T", help="similarity that joins two photos (default 0.96)"
    )
    duplicates.add_argument("--exact", action="store_true", help="only byte-identical copies")
    duplicates.add_argument("--json", action="store_true", help="print JSON")
    duplicates.set_defaults(run=_duplicates)


def _search_terms(args: argparse.Namespace) -> list:
    """The query terms of `search`'s arguments: TEXT, each --text, each --image (weighted in that order), --not."""
    from viewfinder.search.query import Term

    positives = [Term(text=text) for text in ([args.text] if args.text is not None else []) + args.texts]
    for value in args.image:
        if os.path.exists(value):
            positives.append(Term(image_path=value))
        elif value.isascii() and value.isdigit():
            positives.append(Term(image_id=value))
        else:
            raise ViewfinderError(f"--image {value}: no such file (an indexed image id is a number).")
    if not positives:
        raise ViewfinderError("Give a TEXT to search for or an --image (a file or an indexed image id).")
    if len(args.weight) > len(positives):
        raise ViewfinderError(
            f"{len(args.weight)} --weight values for {len(positives)} terms (TEXT, each --text, then each --image)."
        )
    weights = args.weight + [1.0] * (len(positives) - len(args.weight))
    terms = [Term(**{**vars(term), "weight": weight}) for term, weight in zip(positives, weights, strict=True)]
    return terms + [Term(text=text, weight=-abs(args.not_weight)) for text in args.negatives]


def _search(args: argparse.Namespace) -> int:
    from viewfinder.search import relevance
    from viewfinder.search.engine import Filters, SearchEngine
    from viewfinder.search.ranking import Rerank
    from viewfinder.store.indexdir import IndexDir, default_index_path

    terms = _search_terms(args)
    names = ("folder", "taken_after", "taken_before", "min_width", "min_height")
    filters = Filters(**{name: getattr(args, name) for name in names})
    rerank = Rerank(recency=args.recency, resolution=args.resolution)
    if args.min_relevance is not None:
        relevance.check_min_relevance(args.min_relevance)
    index = IndexDir(default_index_path(args.index))
    engine = SearchEngine(index, device=args.device, runtime=args.runtime, query_model=args.query_model)
    try:
        rated = relevance.search(engine, terms, args.k, filters, rerank, args.min_relevance)
    finally:
        engine.close()
    result = rated.result
    if args.json:

        def row(hit) -> dict:
            return {
                "rank": hit.rank,
                "image_id": str(hit.image.id),
                "path": hit.image.path,
                "similarity": round(hit.similarity, 6),
                "relevance": hit.relevance,
            }

        output = {
            "query": result.query,
            "count": len(result.hits),
            "results": [row(hit) for hit in result.hits],
            "min_relevance": rated.min_relevance,
            "closest": [row(hit) for hit in rated.closest],
            "timings_ms": result.timings_ms,
        }
        print(json.dumps(output))
        return EXIT_OK
    if rated.closest:
        print(f"No results above {rated.min_relevance:g}% relevance; the closest were:")
    for hit in result.hits or rated.closest:
        print(f"{hit.rank:>4}  {hit.relevance:>3.0f}%  {hit.similarity:.4f}  {hit.image.path}")
    print(
        f"{len(result.hits)} results for {result.query!r} in {result.timings_ms['total']:.1f} ms",
        file=sys.stderr,
    )
    return EXIT_OK


def _info(args: argparse.Namespace) -> int:
    from viewfinder.search.engine import SearchEngine
    from viewfinder.sources import source_for
    from viewfinder.store.indexdir import IndexDir, default_index_path

    index_dir = IndexDir(default_index_path(args.index))
    engine = SearchEngine(index_dir)
    try:
        params = engine.vectors.params
        summary = {
            "index": str(index_dir.path.resolve()),
            "images": engine.catalog.count(),
            "skipped": len(engine.catalog.skipped()),
            "model": engine.manifest.model,
            "dim": engine.manifest.dim,
            "index_type": params.kind,
            "nlist": params.nlist,
            "nprobe": params.nprobe,
            "index_family": params.family,
            "ef_search": params.ef_search,
            "recall_at_50": params.recall_at_50,  # measured against exact search when chosen; None: not measured
            "calibrated_on": params.calibrated_on,
            "bytes_on_disk": index_dir.bytes_on_disk(),
            "generation": engine.generation,
            "sources": [
                {"source": root, "images": count, "missing": not source_for(root).available()}
                for root, count in engine.catalog.source_counts().items()
            ],
        }
    finally:
        engine.close()
    if args.json:
        print(json.dumps(summary))
        return EXIT_OK
    sources = summary.pop("sources")
    for key, value in summary.items():
        print(f"{key:>14}: {value}")
    for source in sources:
        flag = "  MISSING (`viewfinder remove` drops its images)" if source["missing"] else ""
        print(f"{'source':>14}: {source['source']} ({source['images']} images){flag}")
    return EXIT_OK


def _duplicates(args: argparse.Namespace) -> int:
    from viewfinder.search.duplicates import DEFAULT_THRESHOLD, exact_groups, find_duplicates
    from viewfinder.search.engine import SearchEngine
    from viewfinder.store.indexdir import IndexDir, default_index_path

    threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    with SearchEngine(IndexDir(default_index_path(args.index))) as engine:
        if args.exact:
            groups = exact_groups(engine.catalog)
        else:
            groups = find_duplicates(engine.catalog, engine.vectors, engine.manifest.dim, threshold)
    if args.json:
        output = [
            {
                "similarity": g.similarity,
                "exact": g.exact,
                "images": [{"image_id": str(i.id), "path": i.path} for i in g.images],
            }
            for g in groups
        ]
        print(json.dumps({"threshold": threshold, "count": len(groups), "groups": output}))
        return EXIT_OK
    for number, group in enumerate(groups, 1):
        kind = "exact copies" if group.exact else f"similarity >= {group.similarity:.3f}"
        print(f"group {number} ({len(group.images)} photos, {kind})")
        for image in group.images:
            print(f"  {image.path}")
    print(f"{len(groups)} groups", file=sys.stderr)
    return EXIT_OK
