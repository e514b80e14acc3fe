"""The `viewfinder` command: argument parsing and output only; behaviour lives in the library."""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from viewfinder.errors import ViewfinderError
from viewfinder.version import __version__

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors with the project's exit code for them."""

    def error(self, message: str) -> None:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"viewfinder: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="viewfinder", description="Semantic search over your own photos, offline.")
    parser.add_argument("--version", action="version", version=f"viewfinder {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_index_command(commands)
    _add_search_command(commands)
    _add_serve_command(commands)
    _add_info_command(commands)
    _add_library_commands(commands)
    _add_sample_command(commands)
    _add_snapshot_commands(commands)
    _add_bench_command(commands)
    return parser


def _add_index_command(commands: argparse._SubParsersAction) -> None:
    """`viewfinder index SOURCE...`: incremental indexing."""
    index = commands.add_parser("index", help="index folders of images (incremental)")
    index.add_argument(
        "sources", nargs="+", metavar="SOURCE", help="folders or s3://bucket/prefix locations to index, recursively"
    )
    _index_option(index)
    _s3_endpoint_option(index)
    index.add_argument(
        "--model",
        help="open_clip NAME:TAG, hf-hub:org/name, a weights path, test:tiny or test:shapes"
        " (default: the index's model, else ViT-B-32:openai)",
    )
    index.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    _runtime_option(index)
    index.add_argument("--batch-size", type=int, default=32, metavar="N")
    index.add_argument("--workers", type=int, default=None, metavar="N", help="decode threads (default: cores)")
    index.add_argument(
        "--engine",
        default="local",
        choices=["local", "ray"],
        help="where decoding and embedding run: this process (local, default) or a Ray cluster (ray)",
    )
    index.add_argument(
        "--store",
        metavar="STORE",
        help="vector store of a new index: faiss (default), milvus (Milvus Lite in the index directory), "
        "milvus:PATH.db or milvus:http://HOST:19530",
    )
    index.add_argument(
        "--ray-address", metavar="ADDR", help="Ray cluster to use with --engine ray (default: start one on 127.0.0.1)"
    )
    index.add_argument("--json", action="store_true", help="print a JSON summary")
    index.set_defaults(run=_index)


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
    _index_option(search)
    search.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    _runtime_option(search)
    search.add_argument("--json", action="store_true", help="print JSON")
    search.set_defaults(run=_search)


def _add_serve_command(commands: argparse._SubParsersAction) -> None:
    """`viewfinder serve`: the HTTP API and the web UI."""
    serve = commands.add_parser("serve", help="serve the HTTP search API and the web UI")
    _index_option(serve)
    _s3_endpoint_option(serve)
    serve.add_argument(
        "--presign-ttl",
        type=int,
        default=900,
        metavar="SECONDS",
        help="how long the link /images/{id} redirects to stays valid for an image in S3 (default 900)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on; 0 picks a free one (default 8000)")
    serve.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    _runtime_option(serve)
    serve.add_argument(
        "--source",
        dest="sources",
        action="append",
        default=[],
        metavar="DIR",
        help="folder POST /admin/reindex scans (repeatable; default: the folders the index was built from)",
    )
    serve.add_argument(
        "--cors-origin",
        dest="cors_origins",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a web origin allowed to call the API from a browser (repeatable; default $VIEWFINDER_CORS_ORIGINS)",
    )
    serve.add_argument(
        "--allowed-host",
        dest="allowed_hosts",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name the server is reached by, besides loopback (and IP addresses when --host is not"
        " loopback); '*' allows any (repeatable; default $VIEWFINDER_ALLOWED_HOSTS)",
    )
    serve.add_argument(
        "--min-relevance",
        type=float,
        metavar="P",
        help="threshold for searches that give none (default 50, or 0 for random-weight models)",
    )
    serve.add_argument(
        "--watch", action="store_true", help="reindex the source folders as photos are added, changed or deleted"
    )
    serve.set_defaults(run=_serve)


def _add_info_command(commands: argparse._SubParsersAction) -> None:
    """`viewfinder info`: what an index holds."""
    info = commands.add_parser("info", help="describe an index")
    _index_option(info)
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(run=_info)


def _add_library_commands(commands: argparse._SubParsersAction) -> None:
    """`viewfinder remove`, `check` and `duplicates`: keeping an index in step with a changing library."""
    remove = commands.add_parser("remove", help="remove a source folder's images from an index (even if it is gone)")
    remove.add_argument("sources", nargs="+", metavar="SOURCE", help="source folders to remove")
    _index_option(remove)
    remove.add_argument("--json", action="store_true", help="print JSON")
    remove.set_defaults(run=_remove)
    check = commands.add_parser("check", help="verify an index's files, and with --repair fix what can be fixed")
    _index_option(check)
    check.add_argument("--repair", action="store_true", help="upgrade, rebuild and clean up what is wrong")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(run=_check)
    duplicates = commands.add_parser("duplicates", help="list groups of near-identical photos and exact copies")
    _index_option(duplicates)
    duplicates.add_argument(
        "--threshold", type=float, default=None, metavar="T", help="similarity that joins two photos (default 0.96)"
    )
    duplicates.add_argument("--exact", action="store_true", help="only byte-identical copies")
    duplicates.add_argument("--json", action="store_true", help="print JSON")
    duplicates.set_defaults(run=_duplicates)
    watch = commands.add_parser("watch", help="index folders, then keep the index up to date as photos change")
    watch.add_argument("sources", nargs="+", metavar="SOURCE", help="folders to watch, recursively")
    _index_option(watch)
    watch.add_argument("--model", help="the model for a new index (default: the index's, else ViT-B-32:openai)")
    watch.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    _runtime_option(watch)
    watch.add_argument(
        "--reconcile", type=float, default=300.0, metavar="SECONDS", help="full rescan interval (default 300)"
    )
    watch.set_defaults(run=_watch)


def _add_sample_command(commands: argparse._SubParsersAction) -> None:
    """`viewfinder sample`: a generated library of shape pictures."""
    sample = commands.add_parser("sample", help="generate a sample library of synthetic shape pictures (demo)")
    sample.add_argument("folder", metavar="FOLDER", help="where to write the pictures")
    sample.add_argument("--count", type=int, default=300, metavar="N", help="number of pictures (default 300)")
    sample.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (same seed, same pictures)")
    sample.set_defaults(run=_sample)


def _add_snapshot_commands(commands: argparse._SubParsersAction) -> None:
    """`viewfinder publish` and `viewfinder rollback`: versioned index snapshots in S3."""
    publish = commands.add_parser("publish", help="upload a verified snapshot of an index to S3 and make it current")
    _index_option(publish)
    publish.add_argument("--to", required=True, metavar="s3://BUCKET/indexes/NAME", help="where snapshots live")
    publish.add_argument("--keep", type=int, metavar="N", help="delete all but the N newest snapshots afterwards")
    publish.add_argument("--no-thumbnails", action="store_true", help="leave the thumbnail cache out")
    _s3_endpoint_option(publish)
    publish.set_defaults(run=_publish)
    rollback = commands.add_parser("rollback", help="make an earlier published snapshot current again")
    rollback.add_argument("--index", required=True, metavar="s3://BUCKET/indexes/NAME", help="the published index")
    rollback.add_argument("--to", metavar="VERSION", help="the snapshot to make current (default: the one before)")
    _s3_endpoint_option(rollback)
    rollback.set_defaults(run=_rollback)


def _add_bench_command(commands: argparse._SubParsersAction) -> None:
    """`viewfinder bench search|embed|serve`."""
    bench = commands.add_parser("bench", help="measure search, embedding and service speed (see BENCHMARKS.md)")
    benches = bench.add_subparsers(dest="bench", required=True, parser_class=_Parser)
    bench_search = benches.add_parser("search", help="latency, recall@50, build time and size of index options")
    bench_search.add_argument("--n", type=int, metavar="N", help="database size (synthetic clustered vectors)")
    bench_search.add_argument("--dim", type=int, default=512, help="vector dimension (default 512)")
    bench_search.add_argument(
        "--vectors", metavar="FILE.npy", help="real unit vectors instead; the last 1000 rows are the queries"
    )
    bench_search.add_argument("--queries", type=int, default=1000, metavar="N", help="synthetic queries (1000)")
    bench_search.add_argument(
        "--store", default="faiss", choices=["faiss", "milvus"], help="milvus: add Milvus Lite rows (FLAT, HNSW)"
    )
    bench_search.add_argument(
        "--only", action="append", default=[], metavar="NAME", help="run only index rows starting with NAME"
    )
    bench_embed = benches.add_parser("embed", help="images/s of decoding, the model and the indexing pipeline")
    bench_embed.add_argument("--model", default="random:ViT-B-32", help="model (default random:ViT-B-32)")
    bench_embed.add_argument("--count", type=int, default=128, metavar="N", help="images per size (default 128)")
    bench_embed.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    _runtime_option(bench_embed)
    bench_embed.add_argument("--batch-size", type=int, default=32, metavar="N")
    bench_embed.add_argument(
        "--engine", default="local", choices=["local", "ray"], help="ray: also run the pipeline on a local Ray"
    )
    bench_serve = benches.add_parser("serve", help="start-up and HTTP text-query latency of `viewfinder serve`")
    bench_serve.add_argument("--n", type=int, default=100_000, metavar="N", help="index size (default 100000)")
    bench_serve.add_argument("--model", default="random:ViT-B-32", help="model (default random:ViT-B-32)")
    bench_serve.add_argument(
        "--runtime",
        action="append",
        choices=["torch", "onnx", "onnx-int8"],
        help="runtimes to compare (repeatable; default all three, torch being the baseline)",
    )
    bench_serve.add_argument("--queries", type=int, default=200, metavar="N", help="queries per figure (200)")
    bench_serve.add_argument("--index", metavar="DIR", help="keep the generated index here for later runs")
    for sub in (bench_search, bench_embed, bench_serve):
        sub.add_argument("--json", action="store_true", help="print JSON")
    bench.set_defaults(run=_bench)


def _runtime_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runtime",
        default="auto",
        choices=["auto", "torch", "onnx", "onnx-int8"],
        help="embedding runtime (default auto: torch with --device cuda, and for index on a GPU it finds; "
        "else ONNX Runtime)",
    )


def _s3_endpoint_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--s3-endpoint", metavar="URL", help="an S3-compatible store instead of AWS (default $AWS_ENDPOINT_URL)"
    )


def _use_s3_endpoint(args: argparse.Namespace) -> None:
    """Every S3 client of this process (they read AWS_ENDPOINT_URL) talks to --s3-endpoint when given."""
    if getattr(args, "s3_endpoint", None):
        os.environ["AWS_ENDPOINT_URL"] = args.s3_endpoint


def _index_location(explicit: str | None) -> str | Path:
    """--index as given: an s3:// snapshot location stays a URL (a Path would fold its '//')."""
    from viewfinder.store.indexdir import default_index_path

    location = explicit or os.environ.get("VIEWFINDER_INDEX") or ""
    return location if location.startswith("s3://") else default_index_path(explicit)


def _index_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--index", metavar="DIR", help="index directory (default: $VIEWFINDER_INDEX or ./viewfinder-index)"
    )


def _index(args: argparse.Namespace) -> int:
    from viewfinder.pipeline.indexer import run_index
    from viewfinder.store.indexdir import default_index_path

    if args.ray_address and args.engine != "ray":
        raise ViewfinderError("--ray-address needs --engine ray.")
    with _progress_bar() as progress:
        report = run_index(
            default_index_path(args.index),
            args.sources,
            model=args.model,
            device=args.device,
            batch_size=args.batch_size,
            workers=args.workers,
            progress=progress,
            runtime=args.runtime,
            engine=args.engine,
            ray_address=args.ray_address,
            store=args.store,
        )
    if args.json:
        print(json.dumps(asdict(report)))
        return EXIT_OK
    for item in report.skipped:
        print(f"skipped {item['path']}: {item['reason']}", file=sys.stderr)
    print(
        f"{report.added} added, {report.updated} updated, {report.removed} removed, {report.unchanged} unchanged, "
        f"{len(report.skipped)} skipped; {report.total} images in the index "
        f"({report.seconds:.1f} s, {report.images_per_second:.1f} images/s)"
    )
    if report.total == 0 and not report.skipped:
        from viewfinder.sources import IMAGE_SUFFIXES

        suffixes = " ".join(sorted(IMAGE_SUFFIXES))
        print(f"No image files under {', '.join(args.sources)} (looked for {suffixes}).", file=sys.stderr)
    return EXIT_OK


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
    engine = SearchEngine(IndexDir(default_index_path(args.index)), device=args.device, runtime=args.runtime)
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


def _serve(args: argparse.Namespace) -> int:
    from viewfinder.search.relevance import check_min_relevance
    from viewfinder.serve.server import serve

    if args.presign_ttl < 1:
        raise ViewfinderError("--presign-ttl must be at least 1 second.")
    if args.min_relevance is not None:
        check_min_relevance(args.min_relevance)

    serve(
        _index_location(args.index),
        presign_ttl=args.presign_ttl,
        host=args.host,
        port=args.port,
        device=args.device,
        sources=args.sources,
        cors_origins=args.cors_origins,
        runtime=args.runtime,
        min_relevance=args.min_relevance,
        allowed_hosts=args.allowed_hosts,
        watch=args.watch,
    )
    return EXIT_OK


def _publish(args: argparse.Namespace) -> int:
    from viewfinder.store.indexdir import default_index_path
    from viewfinder.store.snapshots import publish

    if args.keep is not None and args.keep < 1:
        raise ViewfinderError("--keep must be at least 1.")
    version = publish(default_index_path(args.index), args.to, keep=args.keep, thumbnails=not args.no_thumbnails)
    print(f"published {args.to.rstrip('/')}/snapshots/{version} and made it current")
    return EXIT_OK


def _rollback(args: argparse.Namespace) -> int:
    from viewfinder.store.snapshots import rollback

    version = rollback(args.index, args.to)
    print(f"{args.index.rstrip('/')} now serves snapshot {version}")
    return EXIT_OK


def _info(args: argparse.Namespace) -> int:
    from viewfinder.search.engine import SearchEngine
    from viewfinder.sources import is_remote
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
            "bytes_on_disk": index_dir.bytes_on_disk(),
            "generation": engine.generation,
            "sources": [
                {"source": root, "images": count, "missing": not is_remote(root) and not os.path.isdir(root)}
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


def _remove(args: argparse.Namespace) -> int:
    from viewfinder.pipeline.maintenance import remove_sources
    from viewfinder.store.indexdir import default_index_path

    report = remove_sources(default_index_path(args.index), args.sources)
    if args.json:
        print(json.dumps(asdict(report)))
        return EXIT_OK
    for source, count in report.removed.items():
        print(f"removed {count} images of {source}")
    print(f"{report.total} images in the index")
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from viewfinder.store.check import check_index
    from viewfinder.store.indexdir import IndexDir, default_index_path

    report = check_index(IndexDir(default_index_path(args.index)), repair=args.repair)
    if args.json:
        print(json.dumps({**asdict(report), "healthy": report.healthy}))
    else:
        for problem in report.problems:
            print(f"problem: {problem}")
        for action in report.repaired:
            print(f"repaired: {action}")
        if report.missing_files:
            print(f"{report.missing_files} indexed files no longer exist; `viewfinder index` or `remove` settles them")
        print("index is healthy" if report.healthy else "problems found; run `viewfinder check --repair`")
    return EXIT_OK if report.healthy else EXIT_USAGE


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


def _watch(args: argparse.Namespace) -> int:
    import threading

    from viewfinder.models.registry import resolve_model
    from viewfinder.pipeline.indexer import load_embedder_for, run_index
    from viewfinder.pipeline.watch import FolderWatcher
    from viewfinder.store.indexdir import IndexDir, default_index_path

    index = default_index_path(args.index)
    first = run_index(index, args.sources, model=args.model, device=args.device, runtime=args.runtime)
    print(f"indexed: {first.added} added, {first.unchanged} unchanged; {first.total} images", flush=True)
    # One model for every later run, loaded once.
    embedder = load_embedder_for(resolve_model(IndexDir(index).read_manifest().model), args.device, args.runtime)

    def update() -> None:
        report = run_index(index, args.sources, embedder=embedder, device=args.device, runtime=args.runtime)
        if report.added or report.updated or report.removed:
            print(
                f"updated: {report.added} added, {report.updated} updated, {report.removed} removed; "
                f"{report.total} images",
                flush=True,
            )

    def failed(error: Exception) -> None:
        print(f"viewfinder: watch: {error} (retrying on the next change)", file=sys.stderr, flush=True)

    watcher = FolderWatcher(args.sources, update, on_error=failed, reconcile_seconds=args.reconcile)
    watcher.start()
    print(f"watching {', '.join(args.sources)}; Ctrl-C stops", flush=True)
    try:
        threading.Event().wait()
    finally:
        watcher.stop()
    return EXIT_OK


def _bench(args: argparse.Namespace) -> int:
    from viewfinder import bench

    if args.bench == "search":
        vectors = bench.load_vectors(args.vectors) if args.vectors else None
        result = bench.bench_search(args.n, args.dim, vectors, args.queries, args.only, store=args.store)
    elif args.bench == "embed":
        result = bench.bench_embed(
            args.model, args.count, args.runtime, args.device, args.batch_size, engine=args.engine
        )
    else:
        runtimes = args.runtime or ["torch", "onnx", "onnx-int8"]
        index = Path(args.index) if args.index else None
        result = bench.bench_serve(args.n, args.model, runtimes, args.queries, index)
    if args.json:
        print(json.dumps(result))
        return EXIT_OK
    print(bench.format_table(result["results"]))
    summary = {key: value for key, value in result.items() if key != "results"}
    print("  ".join(f"{key}={value}" for key, value in summary.items()), file=sys.stderr)
    return EXIT_OK


def _sample(args: argparse.Namespace) -> int:
    from viewfinder.images.synthetic import generate_library

    if args.count < 1:
        raise ViewfinderError("--count must be at least 1.")
    written = generate_library(Path(args.folder), args.count, seed=args.seed)
    print(f"wrote {len(written)} pictures and captions.jsonl to {args.folder}")
    return EXIT_OK


class _progress_bar:
    """A tqdm bar on stderr when it is a terminal; otherwise nothing."""

    def __enter__(self):
        self.bar = None
        if not sys.stderr.isatty():
            return None
        from tqdm import tqdm

        def update(done: int, total: int) -> None:
            if self.bar is None:
                self.bar = tqdm(total=total, unit="img", desc="indexing", file=sys.stderr)
            self.bar.n = done
            self.bar.refresh()

        return update

    def __exit__(self, *exc_info) -> None:
        if self.bar is not None:
            self.bar.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit code (0 ok, 2 usage or configuration error, 1 failure)."""
    args = build_parser().parse_args(argv)
    _use_s3_endpoint(args)
    try:
        return args.run(args)
    except ViewfinderError as error:
        print(f"viewfinder: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except sqlite3.DatabaseError as error:
        if isinstance(error, sqlite3.OperationalError) and "full" not in str(error):
            return _unexpected(error)
        # A full disk or a damaged catalog: the user can fix either, and the message says how.
        print(
            f"viewfinder: error: the index's catalog cannot be used ({error}); free disk space if it is full, "
            "then run `viewfinder check --repair`",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("viewfinder: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        return _unexpected(error)


def _unexpected(error: Exception) -> int:
    if os.environ.get("VIEWFINDER_DEBUG"):
        raise error
    print(
        f"viewfinder: unexpected error: {type(error).__name__}: {error} "
        "(set VIEWFINDER_DEBUG=1 for a traceback, and please report it)",
        file=sys.stderr,
    )
    return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
