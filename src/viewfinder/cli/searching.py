"""`search` and `info`: reading an index."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING

from viewfinder.cli.options import EXIT_OK, index_path
from viewfinder.errors import ViewfinderError
from viewfinder.settings import add_option

if TYPE_CHECKING:
    from viewfinder.app.query import TypedLine


def add_commands(commands: argparse._SubParsersAction) -> None:
    _add_search_command(commands)
    _add_info_command(commands)


def _add_search_command(commands: argparse._SubParsersAction) -> None:
    """`viewfinder search`: texts, images, weights, filters, rerank, a relevance threshold and an order, as the
    API."""
    search = commands.add_parser("search", help="search an index by text, image or both")
    search.add_argument(
        "text",
        nargs="?",
        metavar="TEXT",
        help="what to look for; may be typed with parts: '70%% lake + 30%% mountains', 'lake, not snow', 'lake -snow'",
    )
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
    add_option(ranking, "min_relevance")
    add_option(ranking, "sort")
    search.add_argument("-k", type=int, default=20, metavar="K", help="number of results (default 20)")
    add_option(search, "index")
    add_option(search, "device")
    add_option(search, "runtime")
    add_option(search, "query_model")
    search.add_argument("--json", action="store_true", help="print JSON")
    search.set_defaults(run=_search)


def _add_info_command(commands: argparse._SubParsersAction) -> None:
    """`viewfinder info`: what an index holds."""
    info = commands.add_parser("info", help="describe an index")
    add_option(info, "index")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(run=_info)


def _search_terms(args: argparse.Namespace, line: TypedLine | None) -> list:
    """The query terms of `search`'s arguments: TEXT, each --text, each --image (weighted in that order), --not.
    A TEXT typed with its own parts and weights ("70% lake + 30% mountains", "lake, not snow") keeps them."""
    from viewfinder.app.query import Term

    typed = list(line.terms) if line is not None else []
    if len(typed) > 1 and args.weight:
        raise ViewfinderError("TEXT gives its own weights; use --weight only with a plain TEXT, --text and --image.")
    plain = typed if len(typed) == 1 else []
    positives = [*plain, *(Term(text=text) for text in args.texts)]
    for value in args.image:
        if os.path.exists(value):
            positives.append(Term(image_path=value))
        elif value.isascii() and value.isdigit():
            positives.append(Term(image_id=value))
        else:
            raise ViewfinderError(f"--image {value}: no such file (an indexed image id is a number).")
    if not positives and not typed:
        raise ViewfinderError("Give a TEXT to search for or an --image (a file or an indexed image id).")
    if len(args.weight) > len(positives):
        raise ViewfinderError(
            f"{len(args.weight)} --weight values for {len(positives)} terms (TEXT, each --text, then each --image)."
        )
    weights = args.weight + [1.0] * (len(positives) - len(args.weight))
    terms = [Term(**{**vars(term), "weight": weight}) for term, weight in zip(positives, weights, strict=True)]
    parts = typed if len(typed) > 1 else []
    return parts + terms + [Term(text=text, weight=-abs(args.not_weight)) for text in args.negatives]


def _image_fields(image) -> dict:
    """How `search --json` names an image: its id and path."""
    return {"image_id": str(image.id), "path": image.path}


def _search(args: argparse.Namespace) -> int:
    from viewfinder.app import Index
    from viewfinder.app.query import Filters, Query, Rerank, read_line
    from viewfinder.app.records import answer_dict

    names = ("folder", "taken_after", "taken_before", "min_width", "min_height")
    filters = Filters(**{name: getattr(args, name) for name in names})
    line = read_line(args.text) if args.text is not None else None  # its dates narrow the date filters
    query = Query(
        tuple(_search_terms(args, line)),
        args.k,
        line.filters(filters) if line is not None else filters,
        Rerank(recency=args.recency, resolution=args.resolution),
        args.min_relevance,
        args.sort,
    )
    with Index(index_path(args.index), args.device, args.runtime, args.query_model) as index:
        answer = index.search(query)
    if args.json:
        print(json.dumps({**answer_dict(answer, _image_fields), "timings_ms": answer.timings_ms}))
        return EXIT_OK
    if answer.closest:
        print(f"No results above {answer.min_relevance:g}% relevance; the closest were:")
    for hit in answer.shown:
        # Sorted by date, the rank (by relevance) no longer gives the order: the capture date does.
        taken = f"{hit.image.taken_at or 'undated':<19}  " if answer.sort == "date" else ""
        rated = f"{hit.match or '':<8}  {hit.relevance or 0:>3.0f}%"
        print(f"{hit.rank:>4}  {rated}  {hit.similarity:.4f}  {taken}{hit.image.path}")
        if hit.words is not None:  # a query with a quoted phrase: the words it was found in
            print(f"      words: {hit.words}")
    hidden = len(answer.weaker) - len(answer.closest)
    if hidden:
        print(f"  ({hidden} weaker matches below the line: --min-relevance 0 lists them)")
    print(
        f"{len(answer.hits)} results for {answer.query!r} in {answer.timings_ms['total']:.1f} ms",
        file=sys.stderr,
    )
    return EXIT_OK


def _info(args: argparse.Namespace) -> int:
    from viewfinder.app import Index

    with Index(index_path(args.index)) as index:
        info = index.info()
    summary = asdict(info)
    shown = (
        *("index", "images", "skipped", "model", "dim", "index_type", "nlist", "nprobe", "index_family"),
        *("ef_search", "recall_at_50", "calibrated_on", "bytes_on_disk", "generation", "sources"),
        *("previous_model", "upgrade"),
    )
    summary = {key: summary[key] for key in shown}
    if args.json:
        print(json.dumps(summary))
        return EXIT_OK
    for key, value in summary.items():
        if key not in ("sources", "upgrade") and (key != "previous_model" or value is not None):
            print(f"{key:>14}: {value}")
    if info.upgrade is not None:
        print(f"{'upgrade':>14}: {_upgrade_line(info.upgrade)}")
    for source in info.sources:
        flag = "  MISSING (`viewfinder remove` drops its images)" if source.missing else ""
        print(f"{'source':>14}: {source.source} ({source.images} images){flag}")
    return EXIT_OK


def _upgrade_line(upgrade: dict) -> str:
    """A staged model upgrade's progress in one line."""
    line = f"to {upgrade['model']}, {upgrade['state']}: {upgrade['done']}/{upgrade['total']} images"
    if not upgrade["running"]:
        return f"{line}, stopped (`viewfinder upgrade --model {upgrade['model']}` resumes it, --abort drops it)"
    if upgrade["seconds_left"] is not None:
        line += f", {upgrade['images_per_second']:.1f} images/s, about {upgrade['seconds_left']:.0f} s left"
    return line
